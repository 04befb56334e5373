/* ADD int8 (TFLM add_common.cc / reference_integer_ops::Add): both inputs are shifted left by
 * 20 bits, rescaled to a common scale (multipliers below one), summed and requantized.
 * Broadcasting over up to 4 dimensions through per-input element strides (0 = broadcast).
 */
#include "ac_kernels.h"

#include "ac_fixedpoint.h"

static int32_t scale_input(int32_t q, int32_t offset, int32_t left_shift, int32_t mult, int32_t shift)
{
    const int32_t shifted = (int32_t)((uint32_t)(q + offset) << left_shift);
    return ac_rdbp(ac_srdhm(shifted, mult), -shift);
}

void ac_add(const ac_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    int32_t i[4], n = 0;
    for (i[0] = 0; i[0] < p->out_dims[0]; ++i[0])
    for (i[1] = 0; i[1] < p->out_dims[1]; ++i[1])
    for (i[2] = 0; i[2] < p->out_dims[2]; ++i[2])
    for (i[3] = 0; i[3] < p->out_dims[3]; ++i[3]) {
        const int32_t k1 = i[0] * p->in1_strides[0] + i[1] * p->in1_strides[1] + i[2] * p->in1_strides[2] + i[3] * p->in1_strides[3];
        const int32_t k2 = i[0] * p->in2_strides[0] + i[1] * p->in2_strides[1] + i[2] * p->in2_strides[2] + i[3] * p->in2_strides[3];
        const int32_t a = scale_input(input1[k1], p->input1_offset, p->left_shift, p->input1_multiplier, p->input1_shift);
        const int32_t b = scale_input(input2[k2], p->input2_offset, p->left_shift, p->input2_multiplier, p->input2_shift);
        const int32_t sum = ac_rdbp(ac_srdhm(a + b, p->output_multiplier), -p->output_shift) + p->output_offset;
        output[n++] = ac_clamp_s8(sum, p->act_min, p->act_max);
    }
}
