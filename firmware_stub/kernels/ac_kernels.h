/* acdeploy int8 kernels: portable C99, bit-exact with TensorFlow Lite Micro's reference int8
 * kernels (double-rounding requantization). No heap, no libc beyond memcpy/memset, no floats
 * on the int8 path (only ac_quantize/ac_dequantize touch floats, for float-I/O models).
 *
 * Tensors are NHWC int8. Every parameter (requantization multipliers/shifts, activation
 * bounds, explicit paddings) is precomputed offline by acdeploy (deploy/quant.py) and passed
 * as a const struct; the kernels are plain loops over caller-owned buffers.
 *
 * Define AC_NO_DSP to force the portable loops on DSP-capable cores; AC_DSP_EMULATE runs the
 * DSP loops on any host with emulated intrinsics (used by the bit-exactness tests).
 */
#ifndef AC_KERNELS_H
#define AC_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CONV_2D and DEPTHWISE_CONV_2D (per-channel multipliers). */
typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w;
    int32_t filter_in_c;      /* conv: input channels per group (in_c / groups) */
    int32_t depth_multiplier; /* depthwise only */
    int32_t stride_h, stride_w;
    int32_t dil_h, dil_w;
    int32_t pad_top, pad_left; /* explicit; SAME puts any extra pixel at the bottom/right */
    int32_t input_offset;      /* -input zero point */
    int32_t output_offset;     /* output zero point */
    int32_t act_min, act_max;
    const int8_t *filter;      /* conv [out_c][k_h][k_w][filter_in_c]; depthwise [k_h][k_w][out_c] */
    const int32_t *bias;       /* [out_c] or NULL (depthwise with `requant`: the rows carry it) */
    const int32_t *folded_bias; /* 1x1 conv without `requant`, or NULL: [out_c] bias + input_offset *
                                   (sum of the channel's weights), so the taps need no offset */
    const int32_t *multiplier; /* [out_c]; NULL with `requant` (row[1]) */
    const int32_t *shift;      /* [out_c]; NULL with `requant` (-row[2] - 1) */
    /* NULL, or when every channel meets ac_requant_fast's preconditions (multiplier >= 2^30,
     * shift <= -2, and the sums below cannot overflow): [out_c][4] {folded_bias (conv) or bias
     * (depthwise), multiplier, r = -shift - 1, 2^(r - 1) + (output_offset << r)}, one row per
     * channel so the output stage reads one pointer; (u + row[3]) >> r is the requantised value
     * plus the output zero point. Every path reads a channel's multiplier and shift (and the
     * depthwise bias) from here when it is set. */
    const int32_t *requant;
    /* NULL, or (1x1 conv, in_c a multiple of 4, set only where the per-output cost is large
     * against in_c) the weights of each channel pair pre-extended to int16 for the DSP core: per 4
     * input bytes the words (row 0 bytes 0|2, row 0 bytes 1|3, row 1 bytes 0|2, row 1 bytes 1|3). */
    const int32_t *filter16;
} ac_conv_params;

void ac_conv2d(const ac_conv_params *p, const int8_t *input, int8_t *output);
void ac_depthwise_conv2d(const ac_conv_params *p, const int8_t *input, int8_t *output);

/* FULLY_CONNECTED: per-tensor (per_channel = 0: multiplier[0]/shift[0]) or per-channel. */
typedef struct {
    int32_t rows;      /* batch rows */
    int32_t in_depth;  /* accumulation depth */
    int32_t out_depth;
    int32_t input_offset, filter_offset, output_offset;
    int32_t act_min, act_max;
    int32_t per_channel;
    const int8_t *filter; /* [out_depth][in_depth] */
    const int32_t *bias;  /* [out_depth] or NULL */
    const int32_t *multiplier;
    const int32_t *shift;
} ac_fc_params;

void ac_fully_connected(const ac_fc_params *p, const int8_t *input, int8_t *output);

/* MAX_POOL_2D / AVERAGE_POOL_2D (input and output share quantization). */
typedef struct {
    int32_t batches, in_h, in_w, channels, out_h, out_w;
    int32_t k_h, k_w, stride_h, stride_w, pad_top, pad_left;
    int32_t act_min, act_max;
} ac_pool_params;

void ac_max_pool(const ac_pool_params *p, const int8_t *input, int8_t *output);
void ac_avg_pool(const ac_pool_params *p, const int8_t *input, int8_t *output);

/* MEAN over any set of axes of a (up to) 4-D tensor. `reduce[d]` is 1 for a reduced axis.
 * The element count is folded into multiplier/shift offline, as TFLM's QuantizedMeanOrSum. */
typedef struct {
    int32_t dims[4];
    int32_t reduce[4];
    int32_t input_zp, output_zp;
    int32_t multiplier, shift; /* already divided by the element count */
} ac_mean_params;

void ac_mean(const ac_mean_params *p, const int8_t *input, int8_t *output);

/* ADD with the 20-bit left shift scheme and 4-D broadcasting via element strides. */
typedef struct {
    int32_t out_dims[4];
    int32_t in1_strides[4], in2_strides[4]; /* 0 along broadcast axes */
    int32_t input1_offset, input2_offset, output_offset;
    int32_t left_shift;
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
    /* NULL, or per input the rescaled value of every int8 q at index q + 128 (the generator
     * computes TFLM's per-element input arithmetic once per value). */
    const int32_t *input1_table, *input2_table;
} ac_add_params;

void ac_add(const ac_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);

/* SOFTMAX int8 -> int8 (output scale 1/256, zero point -128), gemmlowp fixed point. */
typedef struct {
    int32_t rows, depth;
    int32_t input_multiplier, input_left_shift, diff_min;
} ac_softmax_params;

void ac_softmax(const ac_softmax_params *p, const int8_t *input, int8_t *output);

/* PAD / PADV2 with a constant value, 4-D. */
typedef struct {
    int32_t in_dims[4];
    int32_t out_dims[4];
    int32_t before[4];
    int8_t value;
} ac_pad_params;

void ac_pad(const ac_pad_params *p, const int8_t *input, int8_t *output);

/* CONCATENATION: the tensor seen as [outer][axis][inner]; input i contributes axis_sizes[i]. */
typedef struct {
    int32_t num_inputs;
    int32_t outer, inner;
    const int32_t *axis_sizes;
} ac_concat_params;

void ac_concat(const ac_concat_params *p, const int8_t *const *inputs, int8_t *output);

/* QUANTIZE float -> int8 and DEQUANTIZE int8 -> float (only for float-I/O models). */
void ac_quantize(const float *input, int8_t *output, int32_t size, float scale, int32_t zero_point);
void ac_dequantize(const int8_t *input, float *output, int32_t size, float scale, int32_t zero_point);

#ifdef __cplusplus
}
#endif

#endif /* AC_KERNELS_H */
