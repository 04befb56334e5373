/* DEPTHWISE_CONV_2D int8, per-channel requantization (TFLM reference_integer_ops::
 * DepthwiseConvPerChannel): output channel oc = ic * depth_multiplier + m.
 *
 * DSP path (depth multiplier 1): four channels per step: input and filter bytes of four
 * adjacent channels are loaded as one word each, sign-extended in pairs (SXTAB16 adds the input
 * offset on the way), and SMLABB/SMLATT accumulate each lane into its own channel's accumulator.
 * 3x3 pixels with every tap in the image take an unrolled path with no tap list; border pixels
 * list their in-image taps first. Requantisation uses ac_requant_fast where it is exact.
 */
#include "ac_kernels.h"

#include "ac_dot.h"
#include "ac_fixedpoint.h"

/* Channel oc's parameters: from the requantisation table when the layer has one (its rows
 * carry the bias; no bias, multiplier or shift arrays are emitted then), else the arrays. */
AC_INLINE ac_chan dw_chan(const ac_conv_params *p, int32_t oc, int32_t fast)
{
    if (p->requant) {
        return ac_chan_row(p->requant + 4 * oc, p->requant[4 * oc]);
    }
    return ac_chan_load(p->bias, p->multiplier, p->shift, oc, fast);
}

static inline int8_t dw_finish(const ac_conv_params *p, int32_t acc, int32_t oc)
{
    const ac_chan ch = dw_chan(p, oc, 0);
    return ac_chan_out(&ch, acc, 0, p->output_offset, p->act_min, p->act_max);
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
/* Four channels at one tap: input and filter words of channels c..c+3, the input offset added
 * on the way (SXTAB16), each lane into its own channel's accumulator. */
#define AC_DW_TAP4(xp, wp)                                                                      \
    do {                                                                                       \
        const int32_t xv_ = ac_load4(xp), wv_ = ac_load4(wp);                                  \
        const int32_t xe_ = ac_sxtab16(xo, xv_), xd_ = ac_sxtab16_ror8(xo, xv_);               \
        const int32_t we_ = ac_sxtb16(wv_), wd_ = ac_sxtb16_ror8(wv_);                         \
        a0 = ac_smlabb(xe_, we_, a0);                                                          \
        a2 = ac_smlatt(xe_, we_, a2);                                                          \
        a1 = ac_smlabb(xd_, wd_, a1);                                                          \
        a3 = ac_smlatt(xd_, wd_, a3);                                                          \
    } while (0)

/* 3x3, dilation 1, depth multiplier 1, every tap in the image: channels c..c+3 at one output
 * pixel whose top-left input tap is x. Input and filter share the channel stride s (in_c =
 * out_c); `row` is the input row stride. Unrolled, so no tap list and no bounds checks. */
AC_INLINE void dw_interior3x3(const int8_t *x, const int8_t *w, int32_t s, int32_t row, int32_t xo,
                              int32_t acc[4])
{
    const int32_t s2 = 2 * s;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    /* Rows written out (a loop keeps spilling its loaded words); the barrier keeps each row's
     * loads after the previous row's multiplies (see ac_dot.h). */
    AC_DW_TAP4(x, w);
    AC_DW_TAP4(x + s, w + s);
    AC_DW_TAP4(x + s2, w + s2);
    x += row, w += s2 + s;
    AC_SCHED_BARRIER(a0, a1, a2, a3, x, w);
    AC_DW_TAP4(x, w);
    AC_DW_TAP4(x + s, w + s);
    AC_DW_TAP4(x + s2, w + s2);
    x += row, w += s2 + s;
    AC_SCHED_BARRIER(a0, a1, a2, a3, x, w);
    AC_DW_TAP4(x, w);
    AC_DW_TAP4(x + s, w + s);
    AC_DW_TAP4(x + s2, w + s2);
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* Four channels' outputs with their parameters (fast: ac_requant_fast applies); only for layers
 * without the requantisation table (those with it take dw_out4_table at every pixel). */
AC_INLINE void dw_out4(const ac_conv_params *p, const int32_t acc[4], int32_t c, int8_t *out, int32_t fast)
{
    const int32_t zp = p->output_offset, lo = p->act_min, hi = p->act_max;
    const ac_chan c0 = ac_chan_load(p->bias, p->multiplier, p->shift, c, fast);
    const ac_chan c1 = ac_chan_load(p->bias, p->multiplier, p->shift, c + 1, fast);
    const ac_chan c2 = ac_chan_load(p->bias, p->multiplier, p->shift, c + 2, fast);
    const ac_chan c3 = ac_chan_load(p->bias, p->multiplier, p->shift, c + 3, fast);
    out[c] = ac_chan_out(&c0, acc[0], fast, zp, lo, hi);
    out[c + 1] = ac_chan_out(&c1, acc[1], fast, zp, lo, hi);
    out[c + 2] = ac_chan_out(&c2, acc[2], fast, zp, lo, hi);
    out[c + 3] = ac_chan_out(&c3, acc[3], fast, zp, lo, hi);
}

/* The same from the generator's requantisation table (output zero point folded in), with the
 * SSAT clamp when the activation range is the whole int8 range. */
AC_INLINE void dw_out4_table(const ac_conv_params *p, const int32_t acc[4], int32_t c, int8_t *out, int32_t full)
{
    const int32_t *q = p->requant + 4 * c;
    const int32_t lo = p->act_min, hi = p->act_max;
    /* Written out: a loop keeps the accumulators in a stack array. */
#define AC_DW_TABLE_OUT(k)                                                                      \
    do {                                                                                       \
        const int32_t v_ = ac_requant_fast(acc[k] + q[4 * (k)], q[4 * (k) + 1], q[4 * (k) + 2], \
                                           q[4 * (k) + 3]);                                    \
        out[c + (k)] = full ? ac_sat8(v_) : ac_clamp_s8(v_, lo, hi);                           \
    } while (0)
    AC_DW_TABLE_OUT(0);
    AC_DW_TABLE_OUT(1);
    AC_DW_TABLE_OUT(2);
    AC_DW_TABLE_OUT(3);
#undef AC_DW_TABLE_OUT
}

/* One output pixel, depth multiplier 1, DSP path: channels in blocks of four; the rest (in_c
 * not a multiple of 4) through the portable per-channel loop. */
AC_INLINE void dw_pixel_dsp(const ac_conv_params *p, const int8_t *in_img, int32_t y0, int32_t x0, int8_t *out,
                            int32_t fast, int32_t full)
{
    const int32_t xo = ac_dup16(p->input_offset), s = p->in_c;
    const int32_t interior3x3 = p->k_h == 3 && p->k_w == 3 && p->dil_h == 1 && p->dil_w == 1 && y0 >= 0 &&
                                x0 >= 0 && y0 + 3 <= p->in_h && x0 + 3 <= p->in_w;
    int32_t c = 0;
    if (interior3x3) {
        const int8_t *x = in_img + (y0 * p->in_w + x0) * s;
        for (; c + 4 <= s; c += 4) {
            int32_t acc[4];
            dw_interior3x3(x + c, p->filter + c, s, p->in_w * s, xo, acc);
            if (fast == 2) {
                dw_out4_table(p, acc, c, out, full);
            } else {
                dw_out4(p, acc, c, out, fast);
            }
        }
    } else {
        int32_t in_off[AC_DW_MAX_TAPS], w_off[AC_DW_MAX_TAPS];
        const int32_t taps = dw_taps(p, y0, x0, in_off, w_off);
        for (; c + 4 <= s; c += 4) {
            int32_t acc[4];
            dw_channels4(in_img + c, p->filter + c, in_off, w_off, taps, xo, acc);
            /* Border pixels too: the generator's overflow bound covers any subset of the taps. */
            if (fast == 2) {
                dw_out4_table(p, acc, c, out, full);
            } else {
                dw_out4(p, acc, c, out, fast);
            }
        }
    }
    for (; c < s; ++c) {
        out[c] = dw_finish(p, dw_channel(p, in_img, y0, x0, c, c), c);
    }
}

/* fast: 0 exact requantisation, 1 ac_requant_fast, 2 the generator's table (interior pixels). */
AC_INLINE void dw_loop_dsp(const ac_conv_params *p, const int8_t *input, int8_t *output, int32_t fast, int32_t full)
{
    int32_t b, oy, ox;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_img = input + b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox) {
                dw_pixel_dsp(p, in_img, oy * p->stride_h - p->pad_top, ox * p->stride_w - p->pad_left,
                             output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c, fast, full);
            }
        }
    }
}

/* The common case out of line, with its own copy of the parameters: register allocation then
 * does not depend on which other variants the build keeps (AC_NET_*). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void dw_table_sat(const ac_conv_params *params, const int8_t *input, int8_t *output)
{
    const ac_conv_params local = *params;
    dw_loop_dsp(&local, input, output, 2, 1);
}
#endif

void ac_depthwise_conv2d(const ac_conv_params *params, const int8_t *input, int8_t *output)
{
    /* A local copy: int8 stores may alias anything, which would reload every field. */
    const ac_conv_params local = *params;
    const ac_conv_params *p = &local;
    const int32_t mult = p->depth_multiplier;
    int32_t b, oy, ox, ic, m;
#if AC_USE_DSP
    if (mult == 1 && p->k_h * p->k_w <= AC_DW_MAX_TAPS) {
        if (p->requant && p->act_min == -128 && p->act_max == 127) {
            dw_table_sat(p, input, output);
            return;
        }
#if !AC_NET_FULL_RANGE
        if (p->requant) {
            dw_loop_dsp(p, input, output, 2, 0);
            return;
        }
#endif
#if !AC_NET_TABLES
        if (ac_requant_fast_ok(p->multiplier, p->shift, p->out_c)) {
            dw_loop_dsp(p, input, output, 1, 0);
        } else {
            dw_loop_dsp(p, input, output, 0, 0);
        }
        return;
#endif
    }
#endif
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_img = input + b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_top;
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t x0 = ox * p->stride_w - p->pad_left;
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                for (ic = 0; ic < p->in_c; ++ic) {
                    for (m = 0; m < mult; ++m) {
                        const int32_t oc = ic * mult + m;
                        out[oc] = dw_finish(p, dw_channel(p, in_img, y0, x0, ic, oc), oc);
                    }
                }
            }
        }
    }
}
