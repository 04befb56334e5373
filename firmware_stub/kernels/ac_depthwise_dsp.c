/* DEPTHWISE_CONV_2D int8 on the DSP core, depth multiplier 1, from the generator's requantisation
 * table (rows {bias, multiplier, r, 2^(r-1) + (zp << r)}): four channels per step: input and
 * filter bytes of four adjacent channels are loaded as one word each, sign-extended in pairs
 * (SXTAB16 adds the input offset on the way), and SMLABB/SMLATT accumulate each lane into its
 * own channel's accumulator. 3x3 pixels with every tap in the image take an unrolled path with no
 * tap list; border pixels list their in-image taps first. Without DSP the generated call names
 * ac_depthwise_tables instead (ac_kernels.h).
 */
#include "ac_kernels.h"

#include "ac_dot.h"
#include "ac_fixedpoint.h"

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
static inline int32_t dw_taps(const ac_conv_geom *p, int32_t y0, int32_t x0, int32_t *in_off, int32_t *w_off)
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

/* The same from the generator's requantisation table (output zero point folded in), with the
 * SSAT clamp when the activation range is the whole int8 range. */
AC_INLINE void dw_out4_table(const ac_conv_geom *p, const int32_t *requant, const int32_t acc[4], int32_t c, int8_t *out,
                              int32_t full)
{
    const int32_t *q = requant + 4 * c;
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

/* The channels left over (in_c not a multiple of 4): one at a time, input offset added. */
static int8_t dw_single(const ac_conv_geom *p, const int8_t *filter, const int32_t *q, const int8_t *in_img,
                        int32_t y0, int32_t x0, int32_t c)
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
            acc += (int32_t)filter[(ky * p->k_w + kx) * p->out_c + c] *
                   ((int32_t)in_img[(iy * p->in_w + ix) * p->in_c + c] + p->input_offset);
        }
    }
    return ac_clamp_s8(ac_requant_fast(acc + q[0], q[1], q[2], q[3]), p->act_min, p->act_max);
}

/* One output pixel: channels in blocks of four, the rest one at a time. */
AC_INLINE void dw_pixel(const ac_conv_geom *p, const int8_t *filter, const int32_t *requant, const int8_t *in_img,
                        int32_t y0, int32_t x0, int8_t *out, int32_t full)
{
    const int32_t xo = ac_dup16(p->input_offset), s = p->in_c;
    const int32_t interior3x3 = p->k_h == 3 && p->k_w == 3 && p->dil_h == 1 && p->dil_w == 1 && y0 >= 0 &&
                                x0 >= 0 && y0 + 3 <= p->in_h && x0 + 3 <= p->in_w;
    int32_t c = 0;
    if (interior3x3) {
        const int8_t *x = in_img + (y0 * p->in_w + x0) * s;
        for (; c + 4 <= s; c += 4) {
            int32_t acc[4];
            dw_interior3x3(x + c, filter + c, s, p->in_w * s, xo, acc);
            dw_out4_table(p, requant, acc, c, out, full);
        }
    } else {
        int32_t in_off[AC_DW_MAX_TAPS], w_off[AC_DW_MAX_TAPS];
        const int32_t taps = dw_taps(p, y0, x0, in_off, w_off);
        for (; c + 4 <= s; c += 4) {
            int32_t acc[4];
            dw_channels4(in_img + c, filter + c, in_off, w_off, taps, xo, acc);
            /* Border pixels too: the generator's overflow bound covers any subset of the taps. */
            dw_out4_table(p, requant, acc, c, out, full);
        }
    }
    for (; c < s; ++c) {
        out[c] = dw_single(p, filter, requant + 4 * c, in_img, y0, x0, c);
    }
}

/* A local copy of the parameters: int8 stores may alias anything, which would reload every field. */
AC_INLINE void dw_loop(const ac_conv_table_params *params, const int8_t *input, int8_t *output, int32_t full)
{
    const ac_conv_table_params local = *params;
    const ac_conv_geom *p = &local.g;
    int32_t b, oy, ox;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_img = input + b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox) {
                dw_pixel(p, local.filter, local.requant, in_img, oy * p->stride_h - p->pad_top,
                         ox * p->stride_w - p->pad_left, output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c,
                         full);
            }
        }
    }
}

void ac_depthwise_tables_dsp(const ac_conv_table_params *p, const int8_t *input, int8_t *output)
{
    dw_loop(p, input, output, 0);
}

void ac_depthwise_tables_dsp_sat(const ac_conv_table_params *p, const int8_t *input, int8_t *output)
{
    dw_loop(p, input, output, 1);
}
#else
/* ISO C forbids an empty translation unit. */
typedef int ac_depthwise_dsp_unused;
#endif
