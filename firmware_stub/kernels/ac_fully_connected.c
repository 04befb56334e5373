/* FULLY_CONNECTED int8 (TFLM reference_integer_ops::FullyConnected and
 * FullyConnectedPerChannel): acc = sum (w + w_off)(x + x_off) + bias, requantized with the
 * fixed-point multiplier (TFLM; LiteRT's reference kernel requantizes in double instead).
 * Two output rows share one pass over the input (ac_dot2). With Helium, four rows per pass over
 * raw bytes (ac_mve_dot4) and the offsets added after, as exact integer sums:
 * sum (w + wo)(x + xo) = sum wx + xo sum w + wo sum x + n xo wo.
 */
#include "ac_kernels.h"

#include "ac_dot.h"
#include "ac_fixedpoint.h"
#include "ac_mve.h"

static inline int8_t fc_finish(const ac_fc_params *p, int32_t acc, int32_t oc)
{
    const int32_t k = p->per_channel ? oc : 0;
    if (p->bias) {
        acc += p->bias[oc];
    }
    acc = ac_requant(acc, p->multiplier[k], p->shift[k]) + p->output_offset;
    return ac_clamp_s8(acc, p->act_min, p->act_max);
}

#if AC_USE_MVE
static void fc_mve(const ac_fc_params *p, const int8_t *input, int8_t *output)
{
    const int32_t n = p->in_depth, xo = p->input_offset, wo = p->filter_offset;
    int32_t r, oc, j;
    for (r = 0; r < p->rows; ++r) {
        const int8_t *x = input + r * n;
        int8_t *out = output + r * p->out_depth;
        /* Wrapping int32 arithmetic, as the scalar accumulator's. */
        const uint32_t row_const = (uint32_t)wo * (uint32_t)ac_mve_sum_bytes(x, n) + (uint32_t)n * (uint32_t)xo * (uint32_t)wo;
        for (oc = 0; oc < p->out_depth; oc += 4) {
            const int32_t cnt = p->out_depth - oc < 4 ? p->out_depth - oc : 4;
            const int8_t *w[4];
            int32_t a[4];
            for (j = 0; j < 4; ++j) {
                w[j] = p->filter + (oc + (j < cnt ? j : 0)) * n;
            }
            vst1q_s32(a, ac_mve_dot4(x, w[0], w[1], w[2], w[3], n));
            for (j = 0; j < cnt; ++j) {
                const uint32_t acc = (uint32_t)a[j] + (uint32_t)xo * (uint32_t)ac_mve_sum_bytes(w[j], n) + row_const;
                out[oc + j] = fc_finish(p, (int32_t)acc, oc + j);
            }
        }
    }
}
#endif

void ac_fully_connected(const ac_fc_params *params, const int8_t *input, int8_t *output)
{
    /* A local copy: int8 stores may alias anything, which would reload every field. */
    const ac_fc_params local = *params;
    const ac_fc_params *p = &local;
    int32_t r, oc;
#if AC_USE_MVE
    fc_mve(p, input, output);
    (void)r, (void)oc;
#else
    for (r = 0; r < p->rows; ++r) {
        const int8_t *x = input + r * p->in_depth;
        int8_t *out = output + r * p->out_depth;
        for (oc = 0; oc + 2 <= p->out_depth; oc += 2) {
            int32_t acc0 = 0, acc1 = 0;
            const int8_t *w0 = p->filter + oc * p->in_depth;
            ac_dot2(x, w0, w0 + p->in_depth, p->in_depth, p->input_offset, p->filter_offset, &acc0, &acc1);
            out[oc] = fc_finish(p, acc0, oc);
            out[oc + 1] = fc_finish(p, acc1, oc + 1);
        }
        if (oc < p->out_depth) {
            const int32_t acc = ac_dot(x, p->filter + oc * p->in_depth, p->in_depth, p->input_offset, p->filter_offset, 0);
            out[oc] = fc_finish(p, acc, oc);
        }
    }
#endif
}
