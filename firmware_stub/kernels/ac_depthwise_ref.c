/* DEPTHWISE_CONV_2D int8 (TFLM reference_integer_ops::DepthwiseConvPerChannel): output channel
 * oc = ic * depth_multiplier + m. The reference (exact requantisation from the multiplier and
 * shift arrays) and the portable variant that reads the generator's requantisation table
 * (rows {bias, multiplier, r, 2^(r-1) + (zp << r)}, ac_requant_fast). */
#include "ac_kernels.h"

#include "ac_fixedpoint.h"

/* One output channel at one output pixel: the in-image taps, input offset added. */
static inline int32_t dw_channel(const ac_conv_geom *g, const int8_t *filter, const int8_t *in_img, int32_t y0,
                                 int32_t x0, int32_t ic, int32_t oc)
{
    int32_t acc = 0, ky, kx;
    for (ky = 0; ky < g->k_h; ++ky) {
        const int32_t iy = y0 + ky * g->dil_h;
        if (iy < 0 || iy >= g->in_h) {
            continue;
        }
        for (kx = 0; kx < g->k_w; ++kx) {
            const int32_t ix = x0 + kx * g->dil_w;
            if (ix < 0 || ix >= g->in_w) {
                continue;
            }
            acc += (int32_t)filter[(ky * g->k_w + kx) * g->out_c + oc] *
                   ((int32_t)in_img[(iy * g->in_w + ix) * g->in_c + ic] + g->input_offset);
        }
    }
    return acc;
}

void ac_depthwise_ref(const ac_conv_params *p, const int8_t *input, int8_t *output)
{
    const ac_conv_geom *g = &p->g;
    const int32_t mult = g->out_c / g->in_c;
    int32_t b, oy, ox, ic, m;
    for (b = 0; b < g->batches; ++b) {
        const int8_t *in_img = input + b * g->in_h * g->in_w * g->in_c;
        for (oy = 0; oy < g->out_h; ++oy) {
            for (ox = 0; ox < g->out_w; ++ox) {
                int8_t *out = output + ((b * g->out_h + oy) * g->out_w + ox) * g->out_c;
                for (ic = 0; ic < g->in_c; ++ic) {
                    for (m = 0; m < mult; ++m) {
                        const int32_t oc = ic * mult + m;
                        const int32_t acc = dw_channel(g, p->filter, in_img, oy * g->stride_h - g->pad_top,
                                                       ox * g->stride_w - g->pad_left, ic, oc);
                        const int32_t v = ac_requant(acc + p->bias[oc], p->multiplier[oc], p->shift[oc]);
                        out[oc] = ac_clamp_s8(v + g->output_offset, g->act_min, g->act_max);
                    }
                }
            }
        }
    }
}

void ac_depthwise_tables(const ac_conv_table_params *params, const int8_t *input, int8_t *output)
{
    const ac_conv_table_params local = *params;
    const ac_conv_geom *g = &local.g;
    const int32_t mult = g->out_c / g->in_c;
    int32_t b, oy, ox, ic, m;
    for (b = 0; b < g->batches; ++b) {
        const int8_t *in_img = input + b * g->in_h * g->in_w * g->in_c;
        for (oy = 0; oy < g->out_h; ++oy) {
            for (ox = 0; ox < g->out_w; ++ox) {
                int8_t *out = output + ((b * g->out_h + oy) * g->out_w + ox) * g->out_c;
                for (ic = 0; ic < g->in_c; ++ic) {
                    for (m = 0; m < mult; ++m) {
                        const int32_t oc = ic * mult + m;
                        const int32_t *q = local.requant + 4 * oc;
                        const int32_t acc = dw_channel(g, local.filter, in_img, oy * g->stride_h - g->pad_top,
                                                       ox * g->stride_w - g->pad_left, ic, oc);
                        out[oc] = ac_clamp_s8(ac_requant_fast(acc + q[0], q[1], q[2], q[3]), g->act_min, g->act_max);
                    }
                }
            }
        }
    }
}
