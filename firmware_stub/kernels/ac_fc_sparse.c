/* FULLY_CONNECTED int8 over index-compressed weights (deploy/ops/sparse_weights.py): per output
 * row only the non-zero weights, each with the uint8 distance from the previous one's input
 * position (the first from position 0; a gap over 255 is bridged by entries of weight 0, which
 * add exactly nothing), so any input depth fits one byte per index. The input offset is folded
 * into the bias (bias + input_offset * sum of the row's non-zeros), so the taps are raw input
 * bytes; requantisation is TFLM's exact MultiplyByQuantizedMultiplier, per tensor or per channel.
 * Weights are symmetric (the generator emits the format only for a zero filter offset).
 */
#include "ac_kernels.h"

#include "ac_fixedpoint.h"

void ac_fully_connected_sparse(const ac_fc_sparse_params *params, const int8_t *input, int8_t *output)
{
    const ac_fc_sparse_params local = *params;
    const ac_fc_sparse_params *p = &local;
    int32_t r, oc;
    for (r = 0; r < p->rows; ++r) {
        const int8_t *const row = input + r * p->in_depth;
        int8_t *out = output + r * p->out_depth;
        const uint8_t *d = p->delta;
        const int8_t *val = p->value;
        for (oc = 0; oc < p->out_depth; ++oc) {
            const int32_t k = p->per_channel ? oc : 0;
            const int8_t *const end = val + p->count[oc];
            const int8_t *x = row;
            int32_t acc = 0;
            while (val != end) {
                x += *d++;
                acc += *x * *val++;
            }
            acc = ac_requant(acc + p->bias[oc], p->multiplier[k], p->shift[k]) + p->output_offset;
            out[oc] = ac_clamp_s8(acc, p->act_min, p->act_max);
        }
    }
}
