/* Board support used by main.c: text output, an instruction counter around one call, and an exit
 * that carries pass/fail to the host (QEMU's exit status on Cortex-M, the process status on the host). */
#ifndef AC_BOARD_H
#define AC_BOARD_H

#include <stdint.h>

void board_init(void);
void board_puts(const char *s);
/* Instructions executed between start and stop (0 where the board cannot count them). */
void board_counter_start(void);
uint64_t board_counter_stop(void);
/* Bytes of the reserved stack that were ever written (0 where unknown). */
uint32_t board_stack_used(void);
uint32_t board_stack_size(void);
void board_exit(int code) __attribute__((noreturn));

#if defined(AC_PROFILE_LAYERS)
/* Per-layer instruction counts (make PROFILE=1): the profiling build marks the start of layer i
 * with board_layer_mark(i) and the end of the network with board_layer_mark(-1). */
#define AC_MAX_LAYERS 512
void board_layer_mark(int layer);
int board_layer_count(void);
uint64_t board_layer_instructions(int layer);
#endif

#endif
