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

static uint32_t start_cvr, start_wraps;

void board_counter_start(void) {
    SYST_CSR = 0;
    SYST_RVR = SYST_RELOAD;
    SYST_CVR = 0; /* any write clears it; the counter reloads from RVR on the next clock */
    systick_wraps = 0;
    SYST_CSR = SYST_ENABLE_TICKINT_CPUCLK;
    /* Right after enabling, CVR still reads 0 until the first reload. */
    while (SYST_CVR == 0) {
    }
    start_wraps = systick_wraps;
    start_cvr = SYST_CVR;
}

uint64_t board_counter_stop(void) {
    uint32_t cvr = SYST_CVR;
    uint32_t wraps = systick_wraps;
    SYST_CSR = 0;
    uint64_t ticks = (uint64_t)(wraps - start_wraps) * (SYST_RELOAD + 1u) + start_cvr - cvr;
    /* 1 instruction = 1 ns of virtual time; one tick = 1e9 / clock ns. */
    return ticks * 1000000000ull / AC_CPU_CLOCK_HZ;
}

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
