/* The Ethos-U core driver on the Corstone-300: one driver instance, its interrupt, and the NPU's
 * PMU cycle counter around each inference. Needs the driver's headers (ETHOSU_DRIVER_DIR/include);
 * the driver's code comes with TFLM built with CO_PROCESSOR=ethos_u (see the Makefile). */
#include <stddef.h>
#include <stdint.h>

#include <ethosu_driver.h>
#include <pmu_ethosu.h>

#include "npu.h"
#include "npu_settings.h"

#define NVIC_ISER ((volatile uint32_t *)0xE000E100u)
#define NVIC_IPR ((volatile uint8_t *)0xE000E400u)

static struct ethosu_driver npu_driver;
static uint64_t npu_cycles;

#if ACDEPLOY_NPU_FAST_MEMORY_SIZE > 0
/* Dedicated_Sram: the SRAM the NPU uses as its cache for the arena in DRAM. */
__attribute__((aligned(16), section(".bss.npu_fast_memory"))) static uint8_t
    npu_fast_memory[ACDEPLOY_NPU_FAST_MEMORY_SIZE];
#define NPU_FAST_MEMORY npu_fast_memory
#else
#define NPU_FAST_MEMORY NULL
#endif

void ETHOS_U_IRQHandler(void) { ethosu_irq_handler(&npu_driver); }

int npu_init(void) {
    if (ethosu_init(&npu_driver, (void *)ACDEPLOY_ETHOSU_BASE_ADDRESS, NPU_FAST_MEMORY,
                    ACDEPLOY_NPU_FAST_MEMORY_SIZE, 1, 1) != 0) {
        return -1;
    }
    NVIC_IPR[ACDEPLOY_ETHOSU_IRQ] = 0x40u; /* below the fault handlers, above nothing else */
    NVIC_ISER[ACDEPLOY_ETHOSU_IRQ / 32] = 1u << (ACDEPLOY_ETHOSU_IRQ % 32);
    return 0;
}

uint64_t npu_last_cycles(void) { return npu_cycles; }

/* Weak hooks of the driver, called around every ethos-u custom op. */
void ethosu_inference_begin(struct ethosu_driver *drv, void *user_arg) {
    (void)user_arg;
    ETHOSU_PMU_Enable(drv);
    ETHOSU_PMU_PMCCNTR_CFG_Set_Stop_Event(drv, ETHOSU_PMU_NPU_IDLE);
    ETHOSU_PMU_PMCCNTR_CFG_Set_Start_Event(drv, ETHOSU_PMU_NPU_ACTIVE);
    ETHOSU_PMU_CNTR_Enable(drv, ETHOSU_PMU_CCNT_Msk);
    ETHOSU_PMU_CYCCNT_Reset(drv);
}

void ethosu_inference_end(struct ethosu_driver *drv, void *user_arg) {
    (void)user_arg;
    npu_cycles = ETHOSU_PMU_Get_CCNTR(drv);
    ETHOSU_PMU_Disable(drv);
}
