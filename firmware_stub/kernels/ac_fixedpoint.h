/* Fixed-point helpers shared by the acdeploy int8 kernels.
 *
 * These reproduce TFLite Micro's default (double-rounding) requantization exactly:
 * gemmlowp's SaturatingRoundingDoublingHighMul followed by RoundingDivideByPOT.
 * Integer arithmetic only: no floats on the int8 path.
 */
#ifndef AC_FIXEDPOINT_H
#define AC_FIXEDPOINT_H

#include <stdint.h>

#include "ac_config.h"

/* Force inlining where a helper takes a constant flag that must specialise the caller's loop. */
#if defined(__GNUC__)
#define AC_INLINE static inline __attribute__((always_inline))
#else
#define AC_INLINE static inline
#endif

static inline int32_t ac_min_i32(int32_t a, int32_t b) { return a < b ? a : b; }
static inline int32_t ac_max_i32(int32_t a, int32_t b) { return a > b ? a : b; }

static inline int8_t ac_clamp_s8(int32_t x, int32_t lo, int32_t hi)
{
    return (int8_t)(x < lo ? lo : (x > hi ? hi : x));
}

/* Saturate to [-128, 127]: one SSAT on cores with the DSP extension (the clamp of a layer
 * without activation, and of a ReLU whose output zero point is -128). */
#if defined(__ARM_FEATURE_SAT) && !defined(AC_DSP_EMULATE) && !defined(AC_NO_DSP)
#include <arm_acle.h>
#define ac_sat8(x) ((int8_t)__ssat((x), 8))
#else
static inline int8_t ac_sat8(int32_t x) { return ac_clamp_s8(x, -128, 127); }
#endif

/* gemmlowp SaturatingRoundingDoublingHighMul: round(a*b / 2^31), ties away from zero. */
static inline int32_t ac_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    {
        const int64_t ab = (int64_t)a * (int64_t)b;
        const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
        /* C division truncates toward zero, as gemmlowp relies on. */
        return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
    }
}

/* gemmlowp RoundingDivideByPOT: x / 2^e rounded to nearest, ties away from zero. */
static inline int32_t ac_rdbp(int32_t x, int32_t e)
{
    const int32_t mask = (int32_t)(((int64_t)1 << e) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    /* Arithmetic right shift of a negative value: implementation-defined in C99 but an
     * arithmetic shift on every compiler we target (gcc, clang, armcc); TFLM relies on it too. */
    return (x >> e) + (remainder > threshold ? 1 : 0);
}

/* TFLM MultiplyByQuantizedMultiplier (int32 overload, double rounding). */
static inline int32_t ac_requant(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    return ac_rdbp(ac_srdhm((int32_t)((uint32_t)x << left), multiplier), right);
}

/* The same result as ac_requant(x, m, shift) with fewer instructions, valid when
 * m >= 2^30 and shift <= -2 (every x; QuantizeMultiplier always gives m in [2^30, 2^31) for a
 * nonzero multiplier, and conv multipliers are almost always below 1/4). r = -shift - 1 >= 1,
 * rnd = 2^(r - 1). Why it is exact, with e = -shift and z = x*m:
 *  - SRDHM: (z + nudge) / 2^31 truncated equals floor((z + 2^30) / 2^31) for every z (the
 *    negative nudge 1 - 2^30 with truncation toward zero lands on the same integer).
 *  - RDBP(y, e), rounding half away from zero, is floor((y + 2^(e-1) - [y < 0]) / 2^e); nested
 *    floors merge, so the whole thing is floor((z + 2^30 - [y < 0] 2^31 + 2^(30+e)) / 2^(31+e)).
 *  - [y < 0] may be replaced by [x < 0]: they differ only for z = -2^30 (x = -1, m = 2^30),
 *    where y = 0 and both forms give 0 for e >= 1.
 *  - c = x < 0 ? -2^30 : 2^30 is the 32-bit constant (x & 0x80000000) | 0x40000000; u, the high
 *    word of z + c (one SMLAL), then needs only the 2^(30+e) = 2^32 * 2^(r-1) rounding term.
 * tests/deploy/test_kernels_requant.py checks it against ac_requant over edge and random values. */
AC_INLINE int32_t ac_requant_fast(int32_t x, int32_t m, int32_t r, int32_t rnd)
{
    const int32_t c = (int32_t)(((uint32_t)x & 0x80000000u) | 0x40000000u);
    const int32_t u = (int32_t)(((int64_t)x * m + c) >> 32);
    return (u + rnd) >> r;
}

/* ac_requant for any shift <= 0 (ADD's "smaller than one" multipliers) with m = 0 or m in
 * [2^30, 2^31), through one 64-bit product: the same floor formula as ac_requant_fast, with
 * the 2^(30+e) rounding term and the [x < 0] correction (only for e >= 1; for e = 0 the result is
 * just the SRDHM floor) precomputed. Checked in tests/deploy/test_kernels_requant.py. */
typedef struct {
    int32_t m, sh;
    int64_t c, d;
} ac_rq64;

static inline ac_rq64 ac_rq64_make(int32_t m, int32_t shift)
{
    ac_rq64 q;
    const int32_t e = -shift;
    q.m = m;
    q.sh = 31 + e;
    q.c = ((int64_t)1 << 30) + (e > 0 ? ((int64_t)1 << (30 + e)) : 0);
    q.d = e > 0 ? ((int64_t)1 << 31) : 0;
    return q;
}

static inline int32_t ac_rq64_apply(const ac_rq64 *q, int32_t x)
{
    const int64_t z = (int64_t)x * q->m + q->c - (x < 0 ? q->d : 0);
    /* Two 32-bit shifts instead of a 64-bit shift by a variable amount (costly on Cortex-M). */
    return q->sh >= 32 ? (int32_t)(z >> 32) >> (q->sh - 32) : (int32_t)(z >> 31);
}

/* 1 when every channel's multiplier qualifies for ac_requant_fast. */
static inline int32_t ac_requant_fast_ok(const int32_t *multiplier, const int32_t *shift, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        if (multiplier[i] < (1 << 30) || shift[i] > -2) {
            return 0;
        }
    }
    return 1;
}

/* One output channel's requantization parameters, loaded once per channel and applied to
 * every pixel computed for it (conv, depthwise). `fast` selects ac_requant_fast; callers pass
 * a compile-time constant so each variant is its own loop. */
typedef struct {
    int32_t bias, mult, shift, r, rnd;
} ac_chan;

AC_INLINE ac_chan ac_chan_load(const int32_t *bias, const int32_t *mult, const int32_t *shift, int32_t c,
                                   int32_t fast)
{
    ac_chan ch;
    ch.bias = bias ? bias[c] : 0;
    ch.mult = mult[c];
    ch.shift = shift[c];
    ch.r = fast ? -ch.shift - 1 : 0;
    ch.rnd = fast ? 1 << (ch.r - 1) : 0;
    return ch;
}

/* The same from a row of the generator's requantisation table {bias', multiplier, r, ...}
 * (ac_kernels.h): when a layer has the table its multiplier and shift arrays are not emitted
 * (shift = -r - 1), so every path reads them from here. `bias` is the bias the caller's sum
 * needs (the row's own for depthwise; conv sums with the input offset need the unfolded one). */
AC_INLINE ac_chan ac_chan_row(const int32_t *row, int32_t bias)
{
    ac_chan ch;
    ch.bias = bias;
    ch.mult = row[1];
    ch.shift = -row[2] - 1;
    ch.r = row[2];
    ch.rnd = 1 << (row[2] - 1);
    return ch;
}

/* acc + bias, requantized, plus the output zero point, clamped: one int8 output. */
AC_INLINE int8_t ac_chan_out(const ac_chan *ch, int32_t acc, int32_t fast, int32_t zp, int32_t lo, int32_t hi)
{
    const int32_t x = acc + ch->bias;
    const int32_t y = fast ? ac_requant_fast(x, ch->mult, ch->r, ch->rnd) : ac_requant(x, ch->mult, ch->shift);
    return ac_clamp_s8(y + zp, lo, hi);
}

/* The DSP intrinsics (AC_USE_DSP: ac_config.h): ACLE on the core, or portable emulations on a
 * host with AC_DSP_EMULATE, so host tests (ASan/UBSan) exercise the DSP loops. */
#if defined(AC_DSP_EMULATE)
static inline int32_t ac_sxtab16(int32_t a, int32_t b)
{
    const uint32_t ua = (uint32_t)a, ub = (uint32_t)b;
    const uint32_t lo = (uint32_t)((int32_t)(int16_t)(uint16_t)(ua & 0xFFFFu) + (int8_t)(uint8_t)(ub & 0xFFu));
    const uint32_t hi = (uint32_t)((int32_t)(int16_t)(uint16_t)(ua >> 16) + (int8_t)(uint8_t)((ub >> 16) & 0xFFu));
    return (int32_t)((lo & 0xFFFFu) | (hi << 16));
}
static inline int32_t ac_smlad(int32_t a, int32_t b, int32_t acc)
{
    const uint32_t ua = (uint32_t)a, ub = (uint32_t)b;
    const int32_t p0 = (int32_t)(int16_t)(uint16_t)(ua & 0xFFFFu) * (int32_t)(int16_t)(uint16_t)(ub & 0xFFFFu);
    const int32_t p1 = (int32_t)(int16_t)(uint16_t)(ua >> 16) * (int32_t)(int16_t)(uint16_t)(ub >> 16);
    /* SMLAD wraps on overflow; do the sum in uint32 to keep UBSan quiet about the same wrap. */
    return (int32_t)((uint32_t)acc + (uint32_t)p0 + (uint32_t)p1);
}
static inline int32_t ac_smlabb(int32_t a, int32_t b, int32_t acc)
{
    return acc + (int32_t)(int16_t)(uint16_t)((uint32_t)a & 0xFFFFu) * (int32_t)(int16_t)(uint16_t)((uint32_t)b & 0xFFFFu);
}
static inline int32_t ac_smlatt(int32_t a, int32_t b, int32_t acc)
{
    return acc + (int32_t)(int16_t)(uint16_t)((uint32_t)a >> 16) * (int32_t)(int16_t)(uint16_t)((uint32_t)b >> 16);
}
static inline int32_t ac_sxtab16_ror8(int32_t a, int32_t b)
{
    const uint32_t u = (uint32_t)b;
    return ac_sxtab16(a, (int32_t)((u >> 8) | (u << 24)));
}
static inline int32_t ac_sxtb16(int32_t b) { return ac_sxtab16(0, b); }
static inline int32_t ac_sxtb16_ror8(int32_t b) { return ac_sxtab16_ror8(0, b); }
#elif AC_USE_DSP
#include <arm_acle.h>
#define ac_sxtab16(a, b) __sxtab16((a), (b))
#define ac_smlad(a, b, c) __smlad((a), (b), (c))
#define ac_smlabb(a, b, c) __smlabb((a), (b), (c))
#define ac_smlatt(a, b, c) __smlatt((a), (b), (c))
/* SXTAB16 with its operand rotated by 8 (bytes 1 and 3) in one instruction: gcc does not fold
 * a separate rotate into the intrinsic, so spell the shifted-operand form out. */
static inline int32_t ac_sxtab16_ror8(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
#define ac_sxtb16(b) __sxtb16(b)
static inline int32_t ac_sxtb16_ror8(int32_t b)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(b));
    return r;
}
#endif

#if AC_USE_DSP
#include <string.h>
/* Unaligned 32-bit load of four int8 values (compiles to one LDR on Cortex-M4+). */
static inline int32_t ac_load4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}
static inline int32_t ac_ror8(int32_t x)
{
    const uint32_t u = (uint32_t)x;
    return (int32_t)((u >> 8) | (u << 24));
}
/* Both 16-bit lanes set to v (v fits int16: it is an int8 offset). */
static inline int32_t ac_dup16(int32_t v)
{
    const uint32_t h = (uint32_t)v & 0xFFFFu;
    return (int32_t)(h | (h << 16));
}
#endif

#endif /* AC_FIXEDPOINT_H */
