/* printf on the Corstone-300's UART0 (a CMSDK APB UART; the FVP shows it as its telnet terminal):
 * newlib's _write, so TFLM's MicroPrintf (vprintf with TF_LITE_MCU_DEBUG_LOG) lands there too. */
#include <stdint.h>

#define UART0_BASE 0x49303000u
#define UART_DATA (*(volatile uint32_t *)(UART0_BASE + 0x00u))
#define UART_STATE (*(volatile uint32_t *)(UART0_BASE + 0x04u))
#define UART_CTRL (*(volatile uint32_t *)(UART0_BASE + 0x08u))
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0_BASE + 0x10u))
#define UART_STATE_TX_FULL 1u
#define UART_CTRL_TX_EN 1u

int _write(int fd, const char *buf, int len);
void uart_init(void);

void uart_init(void) {
    UART_BAUDDIV = 16u; /* the FVP ignores the rate; a board at 25 MHz would want 25e6 / baud */
    UART_CTRL = UART_CTRL_TX_EN;
}

static void uart_putc(char c) {
    while (UART_STATE & UART_STATE_TX_FULL) {
    }
    UART_DATA = (uint32_t)(unsigned char)c;
}

int _write(int fd, const char *buf, int len) {
    (void)fd;
    for (int i = 0; i < len; ++i) {
        if (buf[i] == '\n') {
            uart_putc('\r');
        }
        uart_putc(buf[i]);
    }
    return len;
}
