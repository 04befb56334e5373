/* MEAN int8 (TFLM reduce_common.cc, reference QuantizedMeanOrSum): (sum - zp_in * count)
 * requantized with a multiplier that already holds 1/count (folded offline with the integer
 * steps TFLM runs at Eval). TFLM takes this path even when input and output quantization are
 * equal (older versions divided the integer sum instead).
 * Iterates output elements and, for each, the reduced sub-box: no scratch buffer needed.
 */
#include "ac_kernels.h"

#include "ac_fixedpoint.h"

void ac_mean(const ac_mean_params *p, const int8_t *input, int8_t *output)
{
    int32_t od[4], rd[4], stride[4], o[4], r[4], count = 1, d, n = 0;
    stride[3] = 1;
    for (d = 2; d >= 0; --d) {
        stride[d] = stride[d + 1] * p->dims[d + 1];
    }
    for (d = 0; d < 4; ++d) {
        od[d] = p->reduce[d] ? 1 : p->dims[d];
        rd[d] = p->reduce[d] ? p->dims[d] : 1;
        count *= rd[d];
    }
    for (o[0] = 0; o[0] < od[0]; ++o[0])
    for (o[1] = 0; o[1] < od[1]; ++o[1])
    for (o[2] = 0; o[2] < od[2]; ++o[2])
    for (o[3] = 0; o[3] < od[3]; ++o[3]) {
        int32_t sum = 0, v;
        for (r[0] = 0; r[0] < rd[0]; ++r[0])
        for (r[1] = 0; r[1] < rd[1]; ++r[1])
        for (r[2] = 0; r[2] < rd[2]; ++r[2])
        for (r[3] = 0; r[3] < rd[3]; ++r[3]) {
            sum += input[(o[0] + r[0]) * stride[0] + (o[1] + r[1]) * stride[1] +
                         (o[2] + r[2]) * stride[2] + (o[3] + r[3]) * stride[3]];
        }
        v = ac_requant(sum - p->input_zp * count, p->multiplier, p->shift) + p->output_zp;
        output[n++] = ac_clamp_s8(v, -128, 127);
    }
}
