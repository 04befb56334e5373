/* Helium (MVE) helpers shared by the *_mve.c kernels (AC_USE_MVE: ac_config.h).
 *
 * ac_mve_requant4 is TFLM's MultiplyByQuantizedMultiplier for four channels at once, for the
 * generator's requantisation table rows (multiplier m in [2^30, 2^31), shift <= -2, so e = -shift
 * = r + 1 >= 2). Why it is exact, with z = x * m:
 *  - VQRDMULH gives sat((2z + 2^31) >> 32) = floor((z + 2^30) / 2^31), which is gemmlowp's
 *    SaturatingRoundingDoublingHighMul for every z (ac_fixedpoint.h, ac_requant_fast's proof); it
 *    saturates only for x = m = INT32_MIN, and m >= 2^30.
 *  - gemmlowp's RoundingDivideByPOT(y, e) rounds half away from zero: floor((y + 2^(e-1) - [y < 0])
 *    / 2^e). VRSHL by -e rounds half up, floor((y' + 2^(e-1)) / 2^e) computed without overflow, so
 *    y' = y + (y >> 31) (y - 1 for negative y; y >= -2^31 + 1 here, no wrap) gives the same.
 * tests/deploy/test_kernels_mve.py checks the same steps, spelled as the Arm pseudocode, against
 * ac_requant's arithmetic on the tie cases, and the QEMU tests run them against TFLM.
 */
#ifndef AC_MVE_H
#define AC_MVE_H

#include "ac_config.h"

#if AC_USE_MVE
#include <arm_mve.h>
#include <stdint.h>

#include "ac_fixedpoint.h"

/* Per-channel requantisation of four channels: bias, multiplier and -e (VRSHL's shift count). */
typedef struct {
    int32x4_t bias, mult, neg_e;
} ac_mve_rq;

/* Channels c..c+3 from the table rows (ac_kernels.h: {bias', m, r, ...}); lanes past `n` channels
 * are zero (predicated gathers: nothing is read past the table). */
static inline ac_mve_rq ac_mve_rq_load(const int32_t *rows, int32_t n)
{
    const uint32x4_t off = vmulq_n_u32(vidupq_n_u32(0, 1), 4);
    const mve_pred16_t pr = vctp32q((uint32_t)n);
    ac_mve_rq q;
    q.bias = vldrwq_gather_shifted_offset_z_s32(rows, off, pr);
    q.mult = vldrwq_gather_shifted_offset_z_s32(rows + 1, off, pr);
    q.neg_e = vmvnq_s32(vldrwq_gather_shifted_offset_z_s32(rows + 2, off, pr)); /* ~r = -(r + 1) */
    return q;
}

/* (acc + bias) requantised, plus the output zero point, clamped to [lo, hi]. */
static inline int32x4_t ac_mve_requant4(int32x4_t acc, const ac_mve_rq *q, int32_t zp, int32_t lo, int32_t hi)
{
    int32x4_t y = vqrdmulhq_s32(vaddq_s32(acc, q->bias), q->mult);
    y = vrshlq_s32(vaddq_s32(y, vshrq_n_s32(y, 31)), q->neg_e);
    y = vaddq_n_s32(y, zp);
    return vminq_s32(vmaxq_s32(y, vdupq_n_s32(lo)), vdupq_n_s32(hi));
}

/* The sum of n int8 values (16 per VADDVA, a predicated last step). */
static inline int32_t ac_mve_sum_bytes(const int8_t *w, int32_t n)
{
    int32_t s = 0, i = 0;
    for (; i + 16 <= n; i += 16) {
        s = vaddvaq_s8(s, vldrbq_s8(w + i));
    }
    if (i < n) {
        s = vaddvaq_s8(s, vldrbq_z_s8(w + i, vctp8q((uint32_t)(n - i))));
    }
    return s;
}

/* Four scalars as one vector (two VMOVs from register pairs). */
static inline int32x4_t ac_mve_vec4(int32_t a0, int32_t a1, int32_t a2, int32_t a3)
{
    int32x4_t v;
    /* VMOV Qd[i], Qd[i - 2], Rt, Rt2 writes lane i - 2 from Rt and lane i from Rt2. */
    __asm__("vmov %q0[2], %q0[0], %1, %3\n\tvmov %q0[3], %q0[1], %2, %4"
            : "=w"(v)
            : "r"(a0), "r"(a1), "r"(a2), "r"(a3));
    return v;
}

/* Rows w0..w3 (K bytes each) against the K bytes at x: the four sums as one vector. The 16-byte
 * steps are written in assembly: gcc neither uses the post-incremented loads nor keeps the four
 * pointers in registers (9 instead of 15-20 instructions per 64 MACs). VMLADAVA's accumulator
 * must be an even register, which no constraint expresses, hence the fixed registers. */
AC_INLINE int32x4_t ac_mve_dot4(const int8_t *x, const int8_t *w0, const int8_t *w1, const int8_t *w2,
                         const int8_t *w3, int32_t k)
{
#if defined(__OPTIMIZE__)
    register int32_t a0 __asm__("r4"), a1 __asm__("r6"), a2 __asm__("r8"), a3 __asm__("r10");
    int32_t n = k >> 4;
    /* A partial channel group repeats a row: opaque copies keep gcc from giving two of the
     * post-incremented operands one register. */
    __asm__("" : "+r"(w1), "+r"(w2), "+r"(w3));
    if (n > 0) {
        /* The first step without accumulation (VMLADAV) sets the sums: no zeroing. */
        __asm__ volatile("vldrb.8 q0, [%[x]], #16\n\t"
                         "vldrb.8 q1, [%[w0]], #16\n\t"
                         "vmladav.s8 %[a0], q0, q1\n\t"
                         "vldrb.8 q1, [%[w1]], #16\n\t"
                         "vmladav.s8 %[a1], q0, q1\n\t"
                         "vldrb.8 q1, [%[w2]], #16\n\t"
                         "vmladav.s8 %[a2], q0, q1\n\t"
                         "vldrb.8 q1, [%[w3]], #16\n\t"
                         "vmladav.s8 %[a3], q0, q1\n\t"
                         "subs %[n], %[n], #1\n\t"
                         "beq 2f\n"
                         "1:\n\t"
                         "vldrb.8 q0, [%[x]], #16\n\t"
                         "vldrb.8 q1, [%[w0]], #16\n\t"
                         "vmladava.s8 %[a0], q0, q1\n\t"
                         "vldrb.8 q1, [%[w1]], #16\n\t"
                         "vmladava.s8 %[a1], q0, q1\n\t"
                         "vldrb.8 q1, [%[w2]], #16\n\t"
                         "vmladava.s8 %[a2], q0, q1\n\t"
                         "vldrb.8 q1, [%[w3]], #16\n\t"
                         "vmladava.s8 %[a3], q0, q1\n\t"
                         "subs %[n], %[n], #1\n\t"
                         "bne 1b\n"
                         "2:"
                         : [x] "+r"(x), [w0] "+r"(w0), [w1] "+r"(w1), [w2] "+r"(w2), [w3] "+r"(w3), [n] "+r"(n),
                           [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3)
                         :
                         : "q0", "q1", "cc", "memory");
    } else {
        a0 = a1 = a2 = a3 = 0;
    }
#else
    /* At -O0 (make OPT=-O0, for debugging) gcc keeps r7 as the frame pointer and cannot give the
     * block above its ten registers ("impossible constraints"): the same integer sums with the
     * intrinsics, 16 bytes a step, in the same order. */
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (; k >= 16; k -= 16, x += 16, w0 += 16, w1 += 16, w2 += 16, w3 += 16) {
        const int8x16_t xv = vldrbq_s8(x);
        a0 = vmladavaq_s8(a0, xv, vldrbq_s8(w0));
        a1 = vmladavaq_s8(a1, xv, vldrbq_s8(w1));
        a2 = vmladavaq_s8(a2, xv, vldrbq_s8(w2));
        a3 = vmladavaq_s8(a3, xv, vldrbq_s8(w3));
    }
#endif
    k &= 15;
    if (k > 0) {
        /* Zeroed lanes past the run: nothing is read beyond the input or the last weight row. */
        const mve_pred16_t pr = vctp8q((uint32_t)k);
        const int8x16_t xv = vldrbq_z_s8(x, pr);
        a0 = vmladavaq_s8(a0, xv, vldrbq_z_s8(w0, pr));
        a1 = vmladavaq_s8(a1, xv, vldrbq_z_s8(w1, pr));
        a2 = vmladavaq_s8(a2, xv, vldrbq_z_s8(w2, pr));
        a3 = vmladavaq_s8(a3, xv, vldrbq_z_s8(w3, pr));
    }
    return ac_mve_vec4(a0, a1, a2, a3);
}
#endif

#endif /* AC_MVE_H */
