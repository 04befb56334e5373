/* Offset dot products: the inner loops of conv 2D and fully connected.
 *
 *   acc += sum_i (x[i] + x_off) * (w[i] + w_off)
 *
 * DSP path (AC_USE_DSP): four int8 pairs per step. SXTAB16 sign-extends bytes 0/2 (and, after
 * a rotate by 8, bytes 1/3) and adds the offset in the same instruction; the sums fit int16
 * because int8 + an int8 zero-point offset lies in [-255, 255]. SMLAD then does two 16x16
 * multiply-accumulates. Integer arithmetic throughout, so the result is identical to the
 * portable loop. ac_dot2 shares the input unpacking between two weight rows: per 8 MACs it
 * costs 3 loads, 6 SXTAB16 (the byte 1/3 halves with the rotate folded in) and 4 SMLAD, i.e.
 * 13 instructions, plus the loop overhead shared by two such steps: under 1.8 per MAC.
 */
#ifndef AC_DOT_H
#define AC_DOT_H

#include <stdint.h>

#include "ac_fixedpoint.h"

/* An empty asm that "uses and redefines" the accumulators and pointers: the next step's loads
 * cannot be hoisted above the previous step's SMLADs. gcc's pre-allocation scheduler otherwise
 * issues all loads of an unrolled loop first and spills accumulators on the M4 (checked in the
 * disassembly: 56 instead of 42 instructions per 32 MACs). No code is emitted. */
#if defined(__GNUC__) && AC_USE_DSP && !defined(AC_DSP_EMULATE)
#define AC_SCHED_BARRIER(a, b, c, d, p, q) __asm__("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(p), "+r"(q))
#define AC_SCHED_BARRIER4(a, b, c, d) __asm__("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d))
#else
#define AC_SCHED_BARRIER4(a, b, c, d) ((void)0)
#define AC_SCHED_BARRIER(a, b, c, d, p, q) ((void)0)
#endif

static inline int32_t ac_dot(const int8_t *x, const int8_t *w, int32_t n, int32_t x_off,
                             int32_t w_off, int32_t acc)
{
    int32_t i = 0;
#if AC_USE_DSP
    const int32_t xo = ac_dup16(x_off), wo = ac_dup16(w_off);
    for (; i + 4 <= n; i += 4) {
        const int32_t xv = ac_load4(x + i), wv = ac_load4(w + i);
        acc = ac_smlad(ac_sxtab16(xo, xv), ac_sxtab16(wo, wv), acc);
        acc = ac_smlad(ac_sxtab16_ror8(xo, xv), ac_sxtab16_ror8(wo, wv), acc);
    }
#endif
    for (; i < n; ++i) {
        acc += ((int32_t)x[i] + x_off) * ((int32_t)w[i] + w_off);
    }
    return acc;
}

#if AC_USE_DSP
/* One step of ac_dot2: 4 input bytes against 4 bytes of each of two weight rows. */
#define AC_DOT2_STEP(k)                                                            \
    do {                                                                           \
        const int32_t xv_ = ac_load4(x + (k));                                     \
        const int32_t xa_ = ac_sxtab16(xo, xv_), xb_ = ac_sxtab16_ror8(xo, xv_);   \
        const int32_t v0_ = ac_load4(w0 + (k)), v1_ = ac_load4(w1 + (k));          \
        a0 = ac_smlad(xa_, ac_sxtab16(wo, v0_), a0);                               \
        a0 = ac_smlad(xb_, ac_sxtab16_ror8(wo, v0_), a0);                          \
        a1 = ac_smlad(xa_, ac_sxtab16(wo, v1_), a1);                               \
        a1 = ac_smlad(xb_, ac_sxtab16_ror8(wo, v1_), a1);                          \
    } while (0)

/* The same for symmetric weights (zero point 0, always so for conv): SXTB16 needs no offset
 * register, which leaves the compiler enough registers to keep both accumulators. */
#define AC_DOT2_STEP_SYM(k)                                                        \
    do {                                                                           \
        const int32_t xv_ = ac_load4(x + (k));                                     \
        const int32_t xa_ = ac_sxtab16(xo, xv_), xb_ = ac_sxtab16_ror8(xo, xv_);   \
        const int32_t v0_ = ac_load4(w0 + (k)), v1_ = ac_load4(w1 + (k));          \
        a0 = ac_smlad(xa_, ac_sxtb16(v0_), a0);                                    \
        a0 = ac_smlad(xb_, ac_sxtb16_ror8(v0_), a0);                               \
        a1 = ac_smlad(xa_, ac_sxtb16(v1_), a1);                                    \
        a1 = ac_smlad(xb_, ac_sxtb16_ror8(v1_), a1);                               \
    } while (0)
#endif

static inline void ac_dot2(const int8_t *x, const int8_t *w0, const int8_t *w1, int32_t n,
                           int32_t x_off, int32_t w_off, int32_t *acc0, int32_t *acc1)
{
    int32_t a0 = *acc0, a1 = *acc1;
    int32_t i = 0;
#if AC_USE_DSP
    const int32_t xo = ac_dup16(x_off), wo = ac_dup16(w_off);
    /* Two 4-byte steps per iteration halve the loop overhead. */
    if (w_off == 0) {
        for (; i + 8 <= n; i += 8) {
            AC_DOT2_STEP_SYM(i);
            AC_DOT2_STEP_SYM(i + 4);
        }
    } else {
        for (; i + 8 <= n; i += 8) {
            AC_DOT2_STEP(i);
            AC_DOT2_STEP(i + 4);
        }
    }
    for (; i + 4 <= n; i += 4) {
        AC_DOT2_STEP(i);
    }
#endif
    for (; i < n; ++i) {
        const int32_t xi = (int32_t)x[i] + x_off;
        a0 += xi * ((int32_t)w0[i] + w_off);
        a1 += xi * ((int32_t)w1[i] + w_off);
    }
    *acc0 = a0;
    *acc1 = a1;
}

/* Two input vectors (two output pixels) against two weight rows: four accumulators
 * acc[2 * pixel + row]. Per 16 MACs on the DSP path: 4 loads, 8 sign extensions, 8 SMLAD;
 * two such steps per loop iteration, with post-incremented pointers, keep the loop overhead
 * at 2 instructions per 32 MACs. */
#if AC_USE_DSP
#define AC_DOT2X2_STEP()                                                            \
    do {                                                                            \
        const int32_t p0 = ac_load4(x0), p1 = ac_load4(x1);                         \
        const int32_t v0 = ac_load4(w0), v1 = ac_load4(w1);                         \
        const int32_t p0a = ac_sxtab16(xo, p0), p0b = ac_sxtab16_ror8(xo, p0);      \
        const int32_t p1a = ac_sxtab16(xo, p1), p1b = ac_sxtab16_ror8(xo, p1);      \
        const int32_t v0a = ac_sxtb16(v0), v0b = ac_sxtb16_ror8(v0);                \
        const int32_t v1a = ac_sxtb16(v1), v1b = ac_sxtb16_ror8(v1);                \
        a00 = ac_smlad(p0b, v0b, ac_smlad(p0a, v0a, a00));                          \
        a01 = ac_smlad(p0b, v1b, ac_smlad(p0a, v1a, a01));                          \
        a10 = ac_smlad(p1b, v0b, ac_smlad(p1a, v0a, a10));                          \
        a11 = ac_smlad(p1b, v1b, ac_smlad(p1a, v1a, a11));                          \
        x0 += 4, x1 += 4, w0 += 4, w1 += 4;                                         \
    } while (0)
#endif

AC_INLINE void ac_dot2x2(const int8_t *x0, const int8_t *x1, const int8_t *w0, const int8_t *w1,
                             int32_t n, int32_t x_off, int32_t acc[4])
{
    int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0, i;
#if AC_USE_DSP
    const int32_t xo = ac_dup16(x_off);
    const int8_t *const end = x0 + (n & ~7);
    while (x0 != end) {
        AC_DOT2X2_STEP();
        AC_DOT2X2_STEP();
    }
    if (n & 4) {
        AC_DOT2X2_STEP();
    }
    n &= 3;
#endif
    for (i = 0; i < n; ++i) {
        const int32_t q0 = (int32_t)x0[i] + x_off, q1 = (int32_t)x1[i] + x_off;
        a00 += q0 * w0[i];
        a01 += q0 * w1[i];
        a10 += q1 * w0[i];
        a11 += q1 * w1[i];
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* Pointwise conv core, two adjacent pixels x 2 adjacent weight rows: the second pixel's input
 * and the second row's weights both sit `n` bytes after the first, so one offset register
 * serves both and the loop needs 4 accumulators, 2 pointers, n and the end pointer: few enough
 * for the M4's registers without spilling. Raw input bytes (the input offset is folded into
 * the bias by the generator): acc[2 * pixel + row] += sum x * w. */
#if AC_USE_DSP
#define AC_DOT2X2_ADJ_STEP()                                                        \
    do {                                                                            \
        const int32_t p1 = ac_load4(x + n), v1 = ac_load4(w + n);                   \
        const int32_t p0 = ac_load4(x), v0 = ac_load4(w);                           \
        const int32_t v0a = ac_sxtb16(v0), v0b = ac_sxtb16_ror8(v0);                \
        const int32_t p0a = ac_sxtb16(p0), p0b = ac_sxtb16_ror8(p0);                \
        const int32_t p1a = ac_sxtb16(p1), p1b = ac_sxtb16_ror8(p1);                \
        const int32_t v1a = ac_sxtb16(v1), v1b = ac_sxtb16_ror8(v1);                \
        a00 = ac_smlad(p0b, v0b, ac_smlad(p0a, v0a, a00));                          \
        a10 = ac_smlad(p1b, v0b, ac_smlad(p1a, v0a, a10));                          \
        a01 = ac_smlad(p0b, v1b, ac_smlad(p0a, v1a, a01));                          \
        a11 = ac_smlad(p1b, v1b, ac_smlad(p1a, v1a, a11));                          \
        x += 4, w += 4;                                                             \
        AC_SCHED_BARRIER(a00, a01, a10, a11, x, w);                                 \
    } while (0)
#endif

AC_INLINE void ac_dot2x2_adjacent(const int8_t *x, const int8_t *w, int32_t n, int32_t acc[4])
{
    int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0, tail = n, i;
#if AC_USE_DSP
    const int8_t *const end = x + (n & ~7);
    while (x != end) {
        AC_DOT2X2_ADJ_STEP();
        AC_DOT2X2_ADJ_STEP();
    }
    if (n & 4) {
        AC_DOT2X2_ADJ_STEP();
    }
    tail = n & 3;
#endif
    for (i = 0; i < tail; ++i) {
        const int32_t q0 = x[i], q1 = x[n + i];
        a00 += q0 * w[i];
        a01 += q0 * w[n + i];
        a10 += q1 * w[i];
        a11 += q1 * w[n + i];
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* ac_dot2x2_adjacent with the weights pre-extended by the generator: for each 4 input bytes of
 * a channel pair, four words (row 0 bytes 0/2, row 0 bytes 1/3, row 1 bytes 0/2, row 1 bytes
 * 1/3) as int16 pairs, so the weights need loads only (two LDRD) and no sign extension:
 * 16 instructions per 16 MACs. n must be a multiple of 4. */
#if AC_USE_DSP
#define AC_DOT2X2_PRE_STEP()                                                        \
    do {                                                                            \
        const int32_t p1 = ac_load4(x + n), p0 = ac_load4(x);                       \
        const int32_t w0a = w[0], w0b = w[1], w1a = w[2], w1b = w[3];               \
        const int32_t p0a = ac_sxtb16(p0), p0b = ac_sxtb16_ror8(p0);                \
        const int32_t p1a = ac_sxtb16(p1), p1b = ac_sxtb16_ror8(p1);                \
        a00 = ac_smlad(p0b, w0b, ac_smlad(p0a, w0a, a00));                          \
        a01 = ac_smlad(p0b, w1b, ac_smlad(p0a, w1a, a01));                          \
        a10 = ac_smlad(p1b, w0b, ac_smlad(p1a, w0a, a10));                          \
        a11 = ac_smlad(p1b, w1b, ac_smlad(p1a, w1a, a11));                          \
        x += 4, w += 4;                                                             \
        AC_SCHED_BARRIER(a00, a01, a10, a11, x, w);                                 \
    } while (0)

AC_INLINE void ac_dot2x2_pre(const int8_t *x, const int32_t *w, int32_t n, int32_t acc[4])
{
    int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
    const int8_t *const end = x + (n & ~7);
    while (x != end) {
        AC_DOT2X2_PRE_STEP();
        AC_DOT2X2_PRE_STEP();
    }
    if (n & 4) {
        AC_DOT2X2_PRE_STEP();
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}
#endif

#endif /* AC_DOT_H */
