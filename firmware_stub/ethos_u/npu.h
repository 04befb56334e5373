/* The Ethos-U NPU of the Corstone-300: driver start-up and its cycle count (npu.c). */
#ifndef ACDEPLOY_NPU_H_
#define ACDEPLOY_NPU_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Corstone-300 (SSE-300) memory map, as TFLM's cortex_m_corstone_300 target sets it up. */
#define ACDEPLOY_ETHOSU_BASE_ADDRESS 0x48102000u
#define ACDEPLOY_ETHOSU_IRQ 56

/* ethosu_init on the NPU, its interrupt enabled in the NVIC; 0 on success. */
int npu_init(void);
/* NPU cycles (its PMU cycle counter) of the last inference; 0 before the first. */
uint64_t npu_last_cycles(void);
/* The NPU's interrupt: the vector table (startup_corstone300.c) points IRQ 56 here. */
void ETHOS_U_IRQHandler(void);

#ifdef __cplusplus
}
#endif

#endif /* ACDEPLOY_NPU_H_ */
