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

#include "ac_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CONV_2D and DEPTHWISE_CONV_2D.
 *
 * One reference kernel per op (`ac_conv2d_ref`, `ac_depthwise_ref`: plain loops, exact
 * requantisation, the oracle the other variants are tested against) and optimized variants,
 * each its own function with a params struct that holds what it reads. The generator
 * (deploy/ops/conv_emit.py) knows each layer's shape, tables and the clamp and emits the call of
 * the one variant the layer uses; nothing is chosen at run time and --gc-sections drops the
 * variants no layer calls. */

/* The geometry every conv variant reads. Depthwise: filter_in_c = 1 and the depth multiplier is
 * out_c / in_c. SAME padding puts any extra pixel at the bottom/right. */
typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w;
    int32_t filter_in_c; /* input channels per group (in_c / groups); 1 for depthwise */
    int32_t stride_h, stride_w;
    int32_t dil_h, dil_w;
    int32_t pad_top, pad_left;
    int32_t input_offset;  /* -input zero point */
    int32_t output_offset; /* output zero point */
    int32_t act_min, act_max;
} ac_conv_geom;

/* Exact per-channel requantisation (TFLM MultiplyByQuantizedMultiplier): the reference kernels
 * and ac_conv2d_rows. Filter: conv [out_c][k_h][k_w][filter_in_c], depthwise [k_h][k_w][out_c]. */
typedef struct {
    ac_conv_geom g;
    const int8_t *filter;
    const int32_t *bias;       /* [out_c] (zeros when the model has no bias) */
    const int32_t *multiplier; /* [out_c] */
    const int32_t *shift;      /* [out_c] */
} ac_conv_params;

/* The generator's requantisation table: [out_c][4] rows {bias', multiplier, r = -shift - 1,
 * 2^(r - 1) + (output_offset << r)} for ac_requant_fast, emitted only when every channel meets its
 * preconditions (multiplier >= 2^30, shift <= -2, sums within int32); (u + row[3]) >> r is the
 * requantised value plus the output zero point. bias' of the conv variants is the folded bias
 * (bias + input_offset * sum of the channel's weights: the taps are summed as raw bytes, with taps
 * outside the image read as the input zero point); the depthwise variants add the input offset
 * to every tap and bias' is the plain bias. */
typedef struct {
    ac_conv_geom g;
    const int8_t *filter;
    const int32_t *requant; /* [out_c][4] */
} ac_conv_table_params;

/* A 1x1 conv with its weights also pre-extended to int16 for the DSP core: per channel pair and
 * 4 input bytes the words (row 0 bytes 0|2, row 0 bytes 1|3, row 1 bytes 0|2, row 1 bytes 1|3).
 * in_c is a multiple of 4. */
typedef struct {
    ac_conv_table_params t;
    const int32_t *filter16; /* [out_c / 2][in_c / 4][4] */
} ac_conv_w16_params;

/* Reference: any conv (stride, dilation, padding, groups). */
void ac_conv2d_ref(const ac_conv_params *p, const int8_t *input, int8_t *output);
/* Any conv, kernel rows as contiguous runs of offset dot products (DSP SMLAD where available). */
void ac_conv2d_rows(const ac_conv_params *p, const int8_t *input, int8_t *output);
/* 1x1, ungrouped, no padding, stride 1 (output pixels = input pixels, adjacent in memory): two
 * pixels x two channels per step; _sat when the clamp is all of int8 (SSAT). */
void ac_conv2d_1x1_tables(const ac_conv_table_params *p, const int8_t *input, int8_t *output);
void ac_conv2d_1x1_tables_sat(const ac_conv_table_params *p, const int8_t *input, int8_t *output);
/* 1x1, ungrouped, no padding, any stride. */
void ac_conv2d_1x1_strided_tables(const ac_conv_table_params *p, const int8_t *input, int8_t *output);
/* Ungrouped conv with short kernel rows (filter_in_c * k_w < 8, k_h * k_w * filter_in_c <= 64,
 * e.g. a stem on a 1-channel spectrogram): each pixel's taps gathered once as int16 (SMLAD pairs
 * on the DSP core). */
void ac_conv2d_gather_tables(const ac_conv_table_params *p, const int8_t *input, int8_t *output);
void ac_conv2d_gather_tables_sat(const ac_conv_table_params *p, const int8_t *input, int8_t *output);
/* Depthwise reference: any depth multiplier, stride, dilation, padding. */
void ac_depthwise_ref(const ac_conv_params *p, const int8_t *input, int8_t *output);
/* Depthwise with the table (portable): any depth multiplier. */
void ac_depthwise_tables(const ac_conv_table_params *p, const int8_t *input, int8_t *output);

#if AC_USE_DSP
/* DSP core only. 1x1 stride 1 as ac_conv2d_1x1_tables, weights read pre-extended. */
void ac_conv2d_1x1_tables_w16(const ac_conv_w16_params *p, const int8_t *input, int8_t *output);
void ac_conv2d_1x1_tables_w16_sat(const ac_conv_w16_params *p, const int8_t *input, int8_t *output);
/* Depthwise, depth multiplier 1, k_h * k_w <= 64: four channels per SMLABB/SMLATT step. */
void ac_depthwise_tables_dsp(const ac_conv_table_params *p, const int8_t *input, int8_t *output);
void ac_depthwise_tables_dsp_sat(const ac_conv_table_params *p, const int8_t *input, int8_t *output);
#endif

#if AC_USE_MVE
/* Helium core only. Depthwise, depth multiplier 1, k_h * k_w <= 64: sixteen channels per step. */
void ac_depthwise_tables_mve(const ac_conv_table_params *p, const int8_t *input, int8_t *output);
#endif

/* The variants that exist only on the DSP core, as the generated code names them. The DSP choice
 * is made here at compile time (AC_USE_DSP: __ARM_FEATURE_DSP unless AC_NO_DSP, or
 * AC_DSP_EMULATE on a host), not by the generator: one acnet.c builds with and without DSP (the
 * firmware Makefile's DSP=0|1, the host tests), and each macro names one function either way. */
#if AC_USE_MVE
/* Helium: the MVE kernels (ac_*_mve.c) read the int8 weights; the int16 copy is unused. */
#define AC_CONV2D_1X1_W16(p, x, y) ac_conv2d_1x1_tables(&(p)->t, (x), (y))
#define AC_CONV2D_1X1_W16_SAT(p, x, y) ac_conv2d_1x1_tables_sat(&(p)->t, (x), (y))
#define AC_DEPTHWISE_DSP(p, x, y) ac_depthwise_tables_mve((p), (x), (y))
#define AC_DEPTHWISE_DSP_SAT(p, x, y) ac_depthwise_tables_mve((p), (x), (y))
#elif AC_USE_DSP
#define AC_CONV2D_1X1_W16(p, x, y) ac_conv2d_1x1_tables_w16((p), (x), (y))
#define AC_CONV2D_1X1_W16_SAT(p, x, y) ac_conv2d_1x1_tables_w16_sat((p), (x), (y))
#define AC_DEPTHWISE_DSP(p, x, y) ac_depthwise_tables_dsp((p), (x), (y))
#define AC_DEPTHWISE_DSP_SAT(p, x, y) ac_depthwise_tables_dsp_sat((p), (x), (y))
#else
#define AC_CONV2D_1X1_W16(p, x, y) ac_conv2d_1x1_tables(&(p)->t, (x), (y))
#define AC_CONV2D_1X1_W16_SAT(p, x, y) ac_conv2d_1x1_tables_sat(&(p)->t, (x), (y))
#define AC_DEPTHWISE_DSP(p, x, y) ac_depthwise_tables((p), (x), (y))
#define AC_DEPTHWISE_DSP_SAT(p, x, y) ac_depthwise_tables((p), (x), (y))
#endif

/* Sparse weights (deploy/ops/sparse_weights.py): per output channel its requantisation row with
 * the number of entry pairs in the shift word, {bias', multiplier, r | (pairs << 8), 2^(r-1) +
 * (output_offset << r)} (bias' sums the non-zeros only), and an entry stream: per channel `pairs`
 * groups of 4 bytes (tap index, tap index, value, value) in the channel's [k_h][k_w][in_c] filter
 * (at most 256 taps; an odd count of non-zeros padded with one entry of weight 0). No dense copy. */
typedef struct {
    ac_conv_geom g;
    const int32_t *requant;  /* [out_c][4] */
    const uint8_t *entries;  /* values stored as two's-complement bytes */
} ac_conv_sparse_params;

/* Sparse 1x1, ungrouped, no padding, any stride; _sat: the clamp is all of int8. */
void ac_conv2d_sparse_1x1(const ac_conv_sparse_params *p, const int8_t *input, int8_t *output);
void ac_conv2d_sparse_1x1_sat(const ac_conv_sparse_params *p, const int8_t *input, int8_t *output);
/* Sparse, any ungrouped conv with k_h * k_w * in_c <= 256 (taps gathered per pixel). */
void ac_conv2d_sparse_gather(const ac_conv_sparse_params *p, const int8_t *input, int8_t *output);
void ac_conv2d_sparse_gather_sat(const ac_conv_sparse_params *p, const int8_t *input, int8_t *output);

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

/* FULLY_CONNECTED over sparse symmetric weights: per output row the count of entries, each a
 * uint8 step from the previous entry's input position (the first from 0; gaps over 255 bridged by
 * entries of weight 0) and a value; bias' = bias + input_offset * sum of the row's weights. */
typedef struct {
    int32_t rows, in_depth, out_depth;
    int32_t output_offset;
    int32_t act_min, act_max;
    int32_t per_channel;
    const int32_t *bias; /* [out_depth] folded */
    const int32_t *multiplier;
    const int32_t *shift;
    const uint16_t *count; /* [out_depth] */
    const uint8_t *delta;
    const int8_t *value;
} ac_fc_sparse_params;

void ac_fully_connected_sparse(const ac_fc_sparse_params *p, const int8_t *input, int8_t *output);

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

/* Parameters kept compact in flash and expanded at run time (kernels/ac_params.c), chosen per layer
 * by the generator (deploy.objective balanced or size: deploy/weight_formats.py `expand_pays`). A
 * table conv layer stores per channel bias', multiplier and r = -shift - 1 (9 bytes instead of its
 * 16-byte row) and its params' `requant` points into the arena, where ac_requant_expand writes the
 * rows right before the layer runs (a range the memory plan leaves free during that layer); the
 * sparse form adds each channel's entry-pair count (r | pairs << 8). An ADD layer's input tables are
 * computed from its params the same way. The expanded values equal the flash tables bit for bit. */
typedef struct {
    int32_t out_c;
    int32_t output_offset;
    const int32_t *bias;       /* [out_c] bias' as in the row */
    const int32_t *multiplier; /* [out_c] */
    const uint8_t *r;          /* [out_c] -shift - 1 */
} ac_requant_compact;

typedef struct {
    ac_requant_compact c;
    const uint8_t *pairs; /* [out_c] entry pairs of each channel */
} ac_requant_compact_sparse;

void ac_requant_expand(const ac_requant_compact *c, int32_t *rows);
void ac_requant_expand_sparse(const ac_requant_compact_sparse *c, int32_t *rows);
void ac_add_expand_tables(const ac_add_params *p, int32_t *table1, int32_t *table2);

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
