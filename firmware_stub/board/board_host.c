/* Host build: stdout, no instruction counter (the figure only means something under QEMU). */
#include <stdio.h>
#include <stdlib.h>

#include "board.h"

void board_init(void) {}

void board_puts(const char *s) { fputs(s, stdout); }

void board_counter_start(void) {}

uint64_t board_counter_stop(void) { return 0; }

uint32_t board_stack_used(void) { return 0; }

#if defined(AC_PROFILE_LAYERS)
void board_layer_mark(int layer) { (void)layer; }

int board_layer_count(void) { return 0; }

uint64_t board_layer_instructions(int layer) {
    (void)layer;
    return 0;
}
#endif

uint32_t board_stack_size(void) { return 0; }

void board_exit(int code) {
    fflush(stdout);
    exit(code);
}
