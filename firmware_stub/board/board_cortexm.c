/* Cortex-M boards under QEMU: semihosting output and exit, SysTick instruction counting, stack
 * high-water mark.
 *
 * Why SysTick: QEMU implements no DWT cycle counter, but with `-icount shift=0` every instruction
 * advances virtual time by exactly 1 ns, and SysTick clocked from the CPU clock (CLKSOURCE=1)
 * then decrements once per 1e9 / AC_CPU_CLOCK_HZ instructions, deterministically. The counter is
 * 24 bits wide, so wraps are counted in the SysTick exception. */
#include "board.h"

#ifndef AC_CPU_CLOCK_HZ
#error "AC_CPU_CLOCK_HZ (the QEMU machine's SysTick clock) must be defined by the Makefile"
#endif

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYST_RELOAD 0x00FFFFFFu
#define SYST_ENABLE_TICKINT_CPUCLK 0x7u

/* Semihosting operations and the reason codes QEMU maps to its exit status (0 / 1). */
#define SYS_WRITE0 0x04
#define SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026
#define ADP_STOPPED_RUN_TIME_ERROR_UNKNOWN 0x20023

#define STACK_PAINT 0xA5A5A5A5u

extern uint32_t __stack_limit__[];
extern uint32_t __stack_top__[];

static volatile uint32_t systick_wraps;

static uint32_t semihost(uint32_t op, const void *arg) {
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void SysTick_Handler(void) { systick_wraps++; }

/* Paint the unused part of the stack so board_stack_used() can find the deepest write. */
void board_init(void) {
    uintptr_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    uint32_t *p = __stack_limit__;
    uint32_t *end = (uint32_t *)(sp - 256u); /* keep clear of this frame */
    while (p < end) {
        *p++ = STACK_PAINT;
    }
}

void board_puts(const char *s) { (void)semihost(SYS_WRITE0, s); }

#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define ICSR_PENDSTSET (1u << 26)

/* SysTick ticks since the counter was started, wraps included. A wrap whose exception is still
 * pending (taken a few instructions later) is counted from the pending bit. */
static uint64_t ticks_now(void) {
    uint32_t wraps, cvr, pending;
    do {
        wraps = systick_wraps;
        cvr = SYST_CVR;
        pending = SCB_ICSR & ICSR_PENDSTSET;
    } while (wraps != systick_wraps);
    if (pending && cvr > SYST_RELOAD / 2u) {
        wraps++;
    }
    return (uint64_t)wraps * (SYST_RELOAD + 1u) + (SYST_RELOAD - cvr);
}

/* 1 instruction = 1 ns of virtual time; one tick = 1e9 / clock ns. */
static uint64_t ticks_to_instructions(uint64_t ticks) { return ticks * 1000000000ull / AC_CPU_CLOCK_HZ; }

static uint64_t start_ticks;

void board_counter_start(void) {
    SYST_CSR = 0;
    SYST_RVR = SYST_RELOAD;
    SYST_CVR = 0; /* any write clears it; the counter reloads from RVR on the next clock */
    systick_wraps = 0;
    SYST_CSR = SYST_ENABLE_TICKINT_CPUCLK;
    /* Right after enabling, CVR still reads 0 until the first reload. */
    while (SYST_CVR == 0) {
    }
    start_ticks = ticks_now();
}

uint64_t board_counter_stop(void) {
    uint64_t ticks = ticks_now() - start_ticks;
    SYST_CSR = 0;
    return ticks_to_instructions(ticks);
}

#if defined(AC_PROFILE_LAYERS)
static uint64_t layer_ticks[AC_MAX_LAYERS];
static int current_layer = -1;
static int layers_seen;
static uint64_t layer_start;

void board_layer_mark(int layer) {
    uint64_t now = ticks_now();
    if (current_layer >= 0 && current_layer < AC_MAX_LAYERS) {
        layer_ticks[current_layer] += now - layer_start;
    }
    current_layer = layer;
    if (layer >= layers_seen) {
        layers_seen = layer + 1;
    }
    layer_start = ticks_now();
}

int board_layer_count(void) { return layers_seen; }

uint64_t board_layer_instructions(int layer) { return ticks_to_instructions(layer_ticks[layer]); }
#endif

uint32_t board_stack_size(void) { return (uint32_t)((__stack_top__ - __stack_limit__) * 4); }

uint32_t board_stack_used(void) {
    const uint32_t *p = __stack_limit__;
    while (p < __stack_top__ && *p == STACK_PAINT) {
        p++;
    }
    return (uint32_t)((__stack_top__ - p) * 4);
}

void board_exit(int code) {
    for (;;) {
        (void)semihost(SYS_EXIT, (const void *)(code == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                          : ADP_STOPPED_RUN_TIME_ERROR_UNKNOWN));
    }
}
