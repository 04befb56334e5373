/* Vector table and reset handler of the Corstone-300 firmware: copy .data, zero .bss, turn on the
 * FPU and MVE, run the C++ constructors, then main. The NPU's interrupt (IRQ 56) goes to
 * ETHOS_U_IRQHandler (npu.c). */
#include <stdint.h>

extern uint32_t __data_load__[], __data_start__[], __data_end__[];
extern uint32_t __bss_start__[], __bss_end__[];
extern uint32_t __stack_top__[];
typedef void (*init_fn)(void);
extern init_fn __init_array_start[], __init_array_end[];

int main(void);
void uart_init(void);
void Reset_Handler(void);
void Default_Handler(void);
void ETHOS_U_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define NUM_IRQS 96
#define ETHOSU_IRQ 56

void Reset_Handler(void) {
    const uint32_t *src = __data_load__;
    for (uint32_t *dst = __data_start__; dst < __data_end__;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = __bss_start__; dst < __bss_end__;) {
        *dst++ = 0;
    }
    SCB_CPACR |= 0xFu << 20; /* CP10/CP11: the FPU and MVE */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    uart_init();
    for (init_fn *f = __init_array_start; f < __init_array_end; ++f) {
        (*f)(); /* C++ constructors of static objects */
    }
    (void)main();
    for (;;) {
        __asm__ volatile("wfi");
    }
}

/* A fault or an unexpected interrupt stops here, where a debugger finds it. */
void Default_Handler(void) {
    for (;;) {
    }
}

typedef void (*vector_t)(void);

__attribute__((section(".vectors"), used)) const vector_t vector_table[16 + NUM_IRQS] = {
    [0] = (vector_t)(uintptr_t)__stack_top__,
    [1] = Reset_Handler,
    [2 ... 16 + ETHOSU_IRQ - 1] = Default_Handler,
    [16 + ETHOSU_IRQ] = ETHOS_U_IRQHandler,
    [16 + ETHOSU_IRQ + 1 ... 16 + NUM_IRQS - 1] = Default_Handler,
};
