/* DEPTHWISE_CONV_2D int8, per-channel requantization (TFLM reference_integer_ops::
 * DepthwiseConvPerChannel): output channel oc = ic * depth_multiplier + m.
 *
 * DSP path (depth multiplier 1): the in-image taps of an output pixel are listed once, then
 * four channels per step: input and filter bytes of four adjacent channels are loaded as one
 * word each, sign-extended in pairs (SXTAB16 adds the input offset on the way), and
 * SMLABB/SMLATT accumulate each lane into its own channel's accumulator.
 */
#include "ac_kernels.h"

#include "ac_fixedpoint.h"

static inline int8_t dw_finish(const ac_conv_params *p, int32_t acc, int32_t oc)
{
    if (p->bias) {
        acc += p->bias[oc];
    }
    acc = ac_requant(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
    return ac_clamp_s8(acc, p->act_min, p->act_max);
}

/* One output channel at one output pixel (portable). */
static inline int32_t dw_channel(const ac_conv_params *p, const int8_t *in_img, int32_t y0, int32_t x0,
                          int32_t ic, int32_t oc)
{
    int32_t acc = 0, ky, kx;
    for (ky = 0; ky < p->k_h; ++ky) {
        const int32_t iy = y0 + ky * p->dil_h;
        if (iy < 0 || iy >= p->in_h) {
            continue;
        }
        for (kx = 0; kx < p->k_w; ++kx) {
            const int32_t ix = x0 + kx * p->dil_w;
            if (ix < 0 || ix >= p->in_w) {
                continue;
            }
            acc += (int32_t)p->filter[(ky * p->k_w + kx) * p->out_c + oc] *
                   ((int32_t)in_img[(iy * p->in_w + ix) * p->in_c + ic] + p->input_offset);
        }
    }
    return acc;
}

#if AC_USE_DSP
/* Kernels up to this many taps use the DSP path (per-pixel tap list on the stack). */
#define AC_DW_MAX_TAPS 64

/* Channels c..c+3 at one output pixel, depth multiplier 1, over the `taps` in-image taps
 * whose input / filter byte offsets (relative to channel 0) are listed. */
static inline void dw_channels4(const int8_t *x, const int8_t *w, const int32_t *in_off,
                                const int32_t *w_off, int32_t taps, int32_t xo, int32_t acc[4])
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, t;
    for (t = 0; t < taps; ++t) {
        const int32_t xv = ac_load4(x + in_off[t]);
        const int32_t wv = ac_load4(w + w_off[t]);
        const int32_t xe = ac_sxtab16(xo, xv);      /* channels c, c+2 */
        const int32_t xd = ac_sxtab16_ror8(xo, xv); /* channels c+1, c+3 */
        const int32_t we = ac_sxtb16(wv);
        const int32_t wd = ac_sxtb16_ror8(wv);
        a0 = ac_smlabb(xe, we, a0);
        a2 = ac_smlatt(xe, we, a2);
        a1 = ac_smlabb(xd, wd, a1);
        a3 = ac_smlatt(xd, wd, a3);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* The in-image taps of the output pixel at (y0, x0): input and filter offsets. */
static inline int32_t dw_taps(const ac_conv_params *p, int32_t y0, int32_t x0, int32_t *in_off, int32_t *w_off)
{
    int32_t n = 0, ky, kx;
    for (ky = 0; ky < p->k_h; ++ky) {
        const int32_t iy = y0 + ky * p->dil_h;
        if (iy < 0 || iy >= p->in_h) {
            continue;
        }
        for (kx = 0; kx < p->k_w; ++kx) {
            const int32_t ix = x0 + kx * p->dil_w;
            if (ix < 0 || ix >= p->in_w) {
                continue;
            }
            in_off[n] = (iy * p->in_w + ix) * p->in_c;
            w_off[n] = (ky * p->k_w + kx) * p->out_c;
            ++n;
        }
    }
    return n;
}
#endif

void ac_depthwise_conv2d(const ac_conv_params *params, const int8_t *input, int8_t *output)
{
    /* A local copy: int8 stores may alias anything, which would reload every field. */
    const ac_conv_params local = *params;
    const ac_conv_params *p = &local;
    const int32_t mult = p->depth_multiplier;
    int32_t b, oy, ox, ic, m;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_img = input + b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_top;
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t x0 = ox * p->stride_w - p->pad_left;
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                ic = 0;
#if AC_USE_DSP
                if (mult == 1 && p->k_h * p->k_w <= AC_DW_MAX_TAPS) {
                    int32_t in_off[AC_DW_MAX_TAPS], w_off[AC_DW_MAX_TAPS];
                    const int32_t taps = dw_taps(p, y0, x0, in_off, w_off);
                    const int32_t xo = ac_dup16(p->input_offset);
                    for (; ic + 4 <= p->in_c; ic += 4) {
                        int32_t acc[4], k;
                        dw_channels4(in_img + ic, p->filter + ic, in_off, w_off, taps, xo, acc);
                        for (k = 0; k < 4; ++k) {
                            out[ic + k] = dw_finish(p, acc[k], ic + k);
                        }
                    }
                }
#endif
                for (; ic < p->in_c; ++ic) {
                    for (m = 0; m < mult; ++m) {
                        const int32_t oc = ic * mult + m;
                        out[oc] = dw_finish(p, dw_channel(p, in_img, y0, x0, ic, oc), oc);
                    }
                }
            }
        }
    }
}
