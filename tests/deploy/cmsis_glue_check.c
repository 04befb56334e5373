/* Each DSP intrinsic CMSIS-DSP uses, over edge and random operands: one line per intrinsic, its name
 * and a hash of its results. Built for the Cortex-M4 with acdeploy's cmsis_compiler.h (the
 * intrinsics are ACLE's, i.e. the instructions) and on the host with -D__GNUC_PYTHON__ (CMSIS-DSP's
 * portable C in Include/dsp/none.h); tests/deploy/test_frontend_cmsis_glue.py compares the lines. */
#include <stdint.h>

#include "arm_math.h"

#if defined(AC_HOST)
#include <stdio.h>
static void out(const char *s) { fputs(s, stdout); }
#else
#include "board.h"
static void out(const char *s) { board_puts(s); }
#endif

#define ROUNDS 2048
static const uint32_t edges[] = {0x00000000u, 0xFFFFFFFFu, 0x7FFF7FFFu, 0x80008000u, 0x80007FFFu, 0x7FFF8000u,
                                 0x00010001u, 0x7FFFFFFFu, 0x80000000u, 0x7F7F7F7Fu, 0x80808080u, 0x0000FFFFu};
#define N_EDGES (sizeof edges / sizeof edges[0])

static uint32_t state = 12345u;
static uint32_t next(void) {
    state = state * 1664525u + 1013904223u;
    return state ^ (state >> 15);
}

static uint32_t hash;
static void mix(uint32_t v) {
    for (int i = 0; i < 4; i++) {
        hash = (hash ^ ((v >> (8 * i)) & 0xFFu)) * 16777619u;
    }
}

static void print_line(const char *name) {
    char buf[12], *p = buf + sizeof buf;
    *--p = '\0';
    uint32_t v = hash;
    do {
        *--p = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    out(name);
    out(" ");
    out(p);
    out("\n");
}

/* operands: every pair of edge values, then random ones */
static void operands(uint32_t i, uint32_t *x, uint32_t *y, uint32_t *z) {
    if (i < N_EDGES * N_EDGES) {
        *x = edges[i / N_EDGES];
        *y = edges[i % N_EDGES];
        *z = edges[(i * 7u) % N_EDGES];
    } else {
        *x = next();
        *y = next();
        *z = next();
    }
}

#define CHECK(name, expr)                                                                                 \
    do {                                                                                                  \
        hash = 2166136261u;                                                                               \
        state = 12345u;                                                                                   \
        for (uint32_t i = 0; i < ROUNDS; i++) {                                                           \
            uint32_t x, y, z;                                                                             \
            operands(i, &x, &y, &z);                                                                      \
            uint64_t acc = ((uint64_t)z << 32) | y;                                                       \
            (void)acc;                                                                                    \
            uint64_t r = (uint64_t)(expr);                                                                \
            mix((uint32_t)r);                                                                             \
            mix((uint32_t)(r >> 32));                                                                     \
        }                                                                                                 \
        print_line(name);                                                                                 \
    } while (0)

int main(void) {
#if !defined(AC_HOST)
    board_init();
#endif
    CHECK("QADD8", __QADD8(x, y));
    CHECK("QSUB8", __QSUB8(x, y));
    CHECK("QADD16", __QADD16(x, y));
    CHECK("QSUB16", __QSUB16(x, y));
    CHECK("SHADD16", __SHADD16(x, y));
    CHECK("SHSUB16", __SHSUB16(x, y));
    CHECK("QASX", __QASX(x, y));
    CHECK("QSAX", __QSAX(x, y));
    CHECK("SHASX", __SHASX(x, y));
    CHECK("SHSAX", __SHSAX(x, y));
    CHECK("SMUAD", __SMUAD(x, y));
    CHECK("SMUADX", __SMUADX(x, y));
    CHECK("SMUSD", __SMUSD(x, y));
    CHECK("SMUSDX", __SMUSDX(x, y));
    CHECK("SMLAD", __SMLAD(x, y, z));
    CHECK("SMLADX", __SMLADX(x, y, z));
    CHECK("SMLSDX", __SMLSDX(x, y, z));
    /* none.h adds SMLALD's two products in 32 bits before the 64-bit accumulator: both products
     * 2^30 (every half -32768) wrap there, not in the instruction; that one operand pair is left out */
    CHECK("SMLALD", x == 0x80008000u && y == 0x80008000u ? 0u : __SMLALD(x, y, acc));
    CHECK("SMLALDX", x == 0x80008000u && y == 0x80008000u ? 0u : __SMLALDX(x, y, acc));
    CHECK("SXTB16", __SXTB16(x));
    CHECK("QADD", (uint32_t)__QADD((int32_t)x, (int32_t)y));
    CHECK("QSUB", (uint32_t)__QSUB((int32_t)x, (int32_t)y));
    CHECK("SMMLA", (uint32_t)__SMMLA((int32_t)x, (int32_t)y, (int32_t)z));
    CHECK("SSAT16", (uint32_t)__SSAT((int32_t)x >> (y & 15u), 16));
    CHECK("SSAT8", (uint32_t)__SSAT((int32_t)x >> (y & 31u), 8));
    CHECK("USAT8", __USAT((int32_t)x >> (y & 31u), 8));
    CHECK("CLZ", __CLZ(x >> (y & 31u)));
    CHECK("ROR", __ROR(x, y & 31u));
    CHECK("PKHBT16", (uint32_t)__PKHBT(x, y, 16));
    CHECK("PKHBT0", (uint32_t)__PKHBT(x, y, 0));
    CHECK("PKHTB16", (uint32_t)__PKHTB(x, y, 16));
    /* the q15 FFT's pack of two 16-bit halves (arm_cfft_radix4_q15.c, arm_rfft_q15.c) */
    CHECK("PKHBT_HI", (uint32_t)__PKHBT(x, y >> 16, 16));
    out("DONE\n");
#if !defined(AC_HOST)
    board_exit(0);
#endif
    return 0;
}
