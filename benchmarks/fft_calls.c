/* One call of each CMSIS-DSP FFT the audio front end could use, timed with the board's instruction
 * counter (benchmarks/bench_fft.py builds and runs it). N_FFT real points; the complex FFTs take
 * N_CFFT = N_FFT / 2 points, as in a real FFT. Input: noise at a few levels, the same every run. */
#include <string.h>

#include "arm_math.h"
#include "board.h"

#define CAT3_(a, b, c) a##b##c
#define CAT3(a, b, c) CAT3_(a, b, c)

static q15_t in15[N_FFT], buf15[N_FFT], out15[2 * N_FFT];
static q31_t in31[N_FFT], buf31[N_FFT], out31[2 * N_FFT];
static float inf[N_FFT], buff[N_FFT], outf[N_FFT];

static void put(const char *name, uint64_t v) {
    char b[24], *p = b + sizeof b;
    *--p = '\0';
    do {
        *--p = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    board_puts("FFT ");
    board_puts(name);
    board_puts(" ");
    board_puts(p);
    board_puts("\n");
}

/* One call on a fresh copy of the input (the FFTs work in place), counted alone. */
#define TIME_CALL(name, buf, in, call)   \
    do {                                 \
        memcpy(buf, in, sizeof in);      \
        board_counter_start();           \
        call;                            \
        put(name, board_counter_stop()); \
    } while (0)

int main(void) {
    board_init();
    uint32_t s = 12345u;
    for (int i = 0; i < N_FFT; i++) {
        s = s * 1664525u + 1013904223u;
        int32_t v = ((int32_t)(s >> 16) - 32768) * (i % 7 + 1) / 8;
        in15[i] = (q15_t)v;
        in31[i] = v * 65536;
        inf[i] = (float)v;
    }
    arm_rfft_fast_instance_f32 rf;
    CAT3(arm_rfft_fast_init_, N_FFT, _f32)(&rf);
    TIME_CALL("arm_rfft_fast_f32", buff, inf, arm_rfft_fast_f32(&rf, buff, outf, 0));

    arm_cfft_instance_f32 cf;
    CAT3(arm_cfft_init_, N_CFFT, _f32)(&cf);
    TIME_CALL("arm_cfft_f32", buff, inf, arm_cfft_f32(&cf, buff, 0, 1));

    arm_rfft_instance_q15 r15;
    CAT3(arm_rfft_init_, N_FFT, _q15)(&r15, 0, 1);
    TIME_CALL("arm_rfft_q15", buf15, in15, arm_rfft_q15(&r15, buf15, out15));

    arm_cfft_instance_q15 c15;
    CAT3(arm_cfft_init_, N_CFFT, _q15)(&c15);
    TIME_CALL("arm_cfft_q15", buf15, in15, arm_cfft_q15(&c15, buf15, 0, 1));

    arm_rfft_instance_q31 r31;
    CAT3(arm_rfft_init_, N_FFT, _q31)(&r31, 0, 1);
    TIME_CALL("arm_rfft_q31", buf31, in31, arm_rfft_q31(&r31, buf31, out31));

    arm_cfft_instance_q31 c31;
    CAT3(arm_cfft_init_, N_CFFT, _q31)(&c31);
    TIME_CALL("arm_cfft_q31", buf31, in31, arm_cfft_q31(&c31, buf31, 0, 1));
    board_exit(0);
}
