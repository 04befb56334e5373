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
#endif

#endif /* AC_MVE_H */
