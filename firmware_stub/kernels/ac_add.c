/* ADD int8 (TFLM add_common.cc / reference_integer_ops::Add): both inputs are shifted left by
 * 20 bits, rescaled to a common scale (multipliers below one), summed and requantized.
 * Broadcasting over up to 4 dimensions through per-input element strides (0 = broadcast); a
 * flat loop when neither input broadcasts. Each requantisation is one 64-bit product (ac_rq64).
 */
#include "ac_kernels.h"

#include "ac_fixedpoint.h"
#include "ac_mve.h"

#if AC_USE_MVE
/* Helium: four elements per step, each input's rescaled value gathered from its table (index
 * q + 128), the sum requantised as ac_requant_fast would (the same steps and preconditions as
 * ac_mve_requant4, ac_mve.h, with the per-tensor multiplier and shift as scalar operands). */
AC_INLINE int32x4_t add4(const int8_t *a, const int8_t *b, const int32_t *t1, const int32_t *t2, int32_t m,
                         int32_t neg_e, int32_t zp, int32x4_t lo, int32x4_t hi, int32_t tail, mve_pred16_t pr)
{
    const int32x4_t xa = tail ? vldrbq_z_s32(a, pr) : vldrbq_s32(a);
    const int32x4_t xb = tail ? vldrbq_z_s32(b, pr) : vldrbq_s32(b);
    const uint32x4_t ia = vreinterpretq_u32_s32(vaddq_n_s32(xa, 128));
    const uint32x4_t ib = vreinterpretq_u32_s32(vaddq_n_s32(xb, 128));
    int32x4_t y = tail ? vaddq_s32(vldrwq_gather_shifted_offset_z_s32(t1, ia, pr),
                                   vldrwq_gather_shifted_offset_z_s32(t2, ib, pr))
                       : vaddq_s32(vldrwq_gather_shifted_offset_s32(t1, ia), vldrwq_gather_shifted_offset_s32(t2, ib));
    y = vqrdmulhq_n_s32(y, m);
    y = vrshlq_n_s32(vaddq_s32(y, vshrq_n_s32(y, 31)), neg_e);
    return vminq_s32(vmaxq_s32(vaddq_n_s32(y, zp), lo), hi);
}

static void add_tables_mve(const int8_t *a, const int8_t *b, int8_t *out, int32_t n, const int32_t *t1,
                           const int32_t *t2, int32_t m, int32_t r, int32_t zp, int32_t lo, int32_t hi)
{
    const int32x4_t vlo = vdupq_n_s32(lo), vhi = vdupq_n_s32(hi);
    const int32_t neg_e = -(r + 1);
    for (; n >= 4; n -= 4, a += 4, b += 4, out += 4) {
        vstrbq_s32(out, add4(a, b, t1, t2, m, neg_e, zp, vlo, vhi, 0, 0));
    }
    if (n > 0) {
        const mve_pred16_t pr = vctp32q((uint32_t)n);
        vstrbq_p_s32(out, add4(a, b, t1, t2, m, neg_e, zp, vlo, vhi, 1, pr), pr);
    }
}
#endif

static inline int8_t add_one(const ac_add_params *p, const ac_rq64 *q1, const ac_rq64 *q2, const ac_rq64 *qo,
                             int32_t a, int32_t b)
{
    /* (q + offset) << 20 fits easily: |q + offset| <= 255. */
    const int32_t sa = ac_rq64_apply(q1, (int32_t)((uint32_t)(a + p->input1_offset) << p->left_shift));
    const int32_t sb = ac_rq64_apply(q2, (int32_t)((uint32_t)(b + p->input2_offset) << p->left_shift));
    return ac_clamp_s8(ac_rq64_apply(qo, sa + sb) + p->output_offset, p->act_min, p->act_max);
}

static int32_t dense(const int32_t *dims, const int32_t *strides)
{
    return strides[3] == 1 && strides[2] == dims[3] && strides[1] == dims[2] * dims[3] &&
           strides[0] == dims[1] * dims[2] * dims[3];
}

void ac_add(const ac_add_params *params, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    /* A local copy: int8 stores may alias anything, which would reload every field. The three
     * multipliers are "smaller than one" (shift <= 0), as ac_rq64 needs. */
    const ac_add_params local = *params;
    const ac_add_params *p = &local;
    const ac_rq64 q1 = ac_rq64_make(p->input1_multiplier, p->input1_shift);
    const ac_rq64 q2 = ac_rq64_make(p->input2_multiplier, p->input2_shift);
    const ac_rq64 qo = ac_rq64_make(p->output_multiplier, p->output_shift);
    int32_t i[4], n = 0;
    if (dense(p->out_dims, p->in1_strides) && dense(p->out_dims, p->in2_strides)) {
        const int32_t total = p->out_dims[0] * p->out_dims[1] * p->out_dims[2] * p->out_dims[3];
        if (p->input1_table && p->input2_table) {
            /* Two table lookups and one requantisation per element. */
            const int32_t *t1 = p->input1_table + 128, *t2 = p->input2_table + 128;
            const int32_t zp = p->output_offset, lo = p->act_min, hi = p->act_max;
            const int32_t m = p->output_multiplier, sh = p->output_shift;
            if (ac_requant_fast_ok(&m, &sh, 1)) {
                const int32_t r = -sh - 1, rnd = 1 << (r - 1);
#if AC_USE_MVE
                (void)rnd;
                add_tables_mve(input1, input2, output, total, p->input1_table, p->input2_table, m, r, zp, lo, hi);
                return;
#endif
                for (n = 0; n < total; ++n) {
                    output[n] = ac_clamp_s8(ac_requant_fast(t1[input1[n]] + t2[input2[n]], m, r, rnd) + zp, lo, hi);
                }
            } else {
                for (n = 0; n < total; ++n) {
                    output[n] = ac_clamp_s8(ac_rq64_apply(&qo, t1[input1[n]] + t2[input2[n]]) + zp, lo, hi);
                }
            }
            return;
        }
        for (n = 0; n < total; ++n) {
            output[n] = add_one(p, &q1, &q2, &qo, input1[n], input2[n]);
        }
        return;
    }
    for (i[0] = 0; i[0] < p->out_dims[0]; ++i[0])
    for (i[1] = 0; i[1] < p->out_dims[1]; ++i[1])
    for (i[2] = 0; i[2] < p->out_dims[2]; ++i[2])
    for (i[3] = 0; i[3] < p->out_dims[3]; ++i[3]) {
        const int32_t k1 = i[0] * p->in1_strides[0] + i[1] * p->in1_strides[1] + i[2] * p->in1_strides[2] + i[3] * p->in1_strides[3];
        const int32_t k2 = i[0] * p->in2_strides[0] + i[1] * p->in2_strides[1] + i[2] * p->in2_strides[2] + i[3] * p->in2_strides[3];
        output[n++] = add_one(p, &q1, &q2, &qo, input1[k1], input2[k2]);
    }
}
