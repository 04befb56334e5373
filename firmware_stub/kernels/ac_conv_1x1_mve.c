/* Pointwise CONV_2D int8 with Helium (MVE, Cortex-M55): the 1x1 table variants (any stride),
 * compiled instead of ac_conv_1x1.c when AC_USE_MVE is set (same names, same params: the
 * generator's choice stands, the core decides the code at compile time).
 *
 * Each output pixel's taps are its input pixel, K = in_c contiguous bytes (the input offset is in
 * the table's folded bias). Four output channels at a time are four weight rows against that run,
 * 16 bytes per VMLADAVA (a predicated last step for K % 16), then one vector requantisation
 * (ac_mve.h) and one narrowing store of the four outputs.
 */
#include "ac_kernels.h"

#include "ac_fixedpoint.h"
#include "ac_mve.h"

#if AC_USE_MVE
/* Four output channels (rows w0..w3) at every output pixel; full: all four are stored. */
AC_INLINE void channels4(const ac_conv_table_params *p, const int8_t *input, int8_t *output, int32_t c, int32_t n,
                         int32_t full)
{
    const ac_conv_geom *g = &p->g;
    const int32_t k = g->in_c, out_c = g->out_c, zp = g->output_offset, lo = g->act_min, hi = g->act_max;
    const int32_t step = g->stride_w * k, row = g->stride_h * g->in_w * k;
    const mve_pred16_t keep = vctp32q((uint32_t)n);
    const ac_mve_rq q = ac_mve_rq_load(p->requant + 4 * c, n);
    /* 1-3 channels left: the missing rows repeat the first one, the store is predicated. */
    const int8_t *w0 = p->filter + c * k;
    const int8_t *w1 = n > 1 ? w0 + k : w0, *w2 = n > 2 ? w0 + 2 * k : w0, *w3 = n > 3 ? w0 + 3 * k : w0;
    int32_t b, oy, ox;
    for (b = 0; b < g->batches; ++b) {
        for (oy = 0; oy < g->out_h; ++oy) {
            const int8_t *x = input + b * g->in_h * g->in_w * k + oy * row;
            int8_t *out = output + ((b * g->out_h + oy) * g->out_w) * out_c + c;
            for (ox = 0; ox < g->out_w; ++ox, x += step, out += out_c) {
                const int32x4_t y = ac_mve_requant4(ac_mve_dot4(x, w0, w1, w2, w3, k), &q, zp, lo, hi);
                if (full) {
                    vstrbq_s32(out, y);
                } else {
                    vstrbq_p_s32(out, y, keep);
                }
            }
        }
    }
}

/* 1x1, no padding, any stride: each output pixel's taps are its input pixel. Channel groups
 * outside, pixels inside: a group's requantisation stays in registers. */
static void conv_1x1(const ac_conv_table_params *params, const int8_t *input, int8_t *output)
{
    const ac_conv_table_params local = *params;
    int32_t c;
    for (c = 0; c + 4 <= local.g.out_c; c += 4) {
        channels4(&local, input, output, c, 4, 1);
    }
    if (c < local.g.out_c) {
        channels4(&local, input, output, c, local.g.out_c - c, 0);
    }
}

void ac_conv2d_1x1_tables(const ac_conv_table_params *p, const int8_t *input, int8_t *output)
{
    conv_1x1(p, input, output);
}

void ac_conv2d_1x1_tables_sat(const ac_conv_table_params *p, const int8_t *input, int8_t *output)
{
    conv_1x1(p, input, output);
}

void ac_conv2d_1x1_strided_tables(const ac_conv_table_params *p, const int8_t *input, int8_t *output)
{
    conv_1x1(p, input, output);
}

#else
/* ISO C forbids an empty translation unit. */
typedef int ac_conv_mve_unused;
#endif
