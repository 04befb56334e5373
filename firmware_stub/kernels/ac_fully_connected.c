/* FULLY_CONNECTED int8 (TFLM reference_integer_ops::FullyConnected and
 * FullyConnectedPerChannel): acc = sum (w + w_off)(x + x_off) + bias, requantized with the
 * fixed-point multiplier (TFLM; LiteRT's reference kernel requantizes in double instead).
 * Two output rows share one pass over the input (ac_dot2).
 */
#include "ac_kernels.h"

#include "ac_dot.h"
#include "ac_fixedpoint.h"

static inline int8_t fc_finish(const ac_fc_params *p, int32_t acc, int32_t oc)
{
    const int32_t k = p->per_channel ? oc : 0;
    if (p->bias) {
        acc += p->bias[oc];
    }
    acc = ac_requant(acc, p->multiplier[k], p->shift[k]) + p->output_offset;
    return ac_clamp_s8(acc, p->act_min, p->act_max);
}

void ac_fully_connected(const ac_fc_params *params, const int8_t *input, int8_t *output)
{
    /* A local copy: int8 stores may alias anything, which would reload every field. */
    const ac_fc_params local = *params;
    const ac_fc_params *p = &local;
    int32_t r, oc;
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
}
