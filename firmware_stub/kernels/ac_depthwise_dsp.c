/* DEPTHWISE_CONV_2D int8 on the DSP core, depth multiplier 1, from the generator's requantisation
 * table (rows {bias, multiplier, r, 2^(r-1) + (zp << r)}): four channels per step: input and
 * filter bytes of four adjacent channels are loaded as one word each, sign-extended in pairs
 * (SXTAB16 adds the input offset on the way), and SMLABB/SMLATT accumulate each lane into its
 * own channel's accumulator. 3x3 kernels (dilation 1) run channel group by channel group: the
 * group's weights are sign-extended once into pairs on the stack, interior pixels take an unrolled
 * assembly path (one LDR, two SXTAB16, one LDRD and four multiplies per tap), border pixels loop
 * over their in-image taps. Other kernels list each pixel's in-image taps. The output stage is
 * ac_requant_fast in assembly (two LDRDs per table row). Without DSP the generated call names
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

#if defined(__GNUC__) && !defined(AC_DSP_EMULATE)
/* One tap for four channels: load 4 inputs (LOAD), the two weight pairs at byte offset OFF, widen
 * the inputs with the input offset into (c,c+2) / (c+1,c+3) pairs, then MAC (first tap: multiply). */
#define AC_DW_MUL_ "smulbb %[a0], %[xe], %[we]\n\tsmultt %[a2], %[xe], %[we]\n\t" \
                   "smulbb %[a1], %[xv], %[wd]\n\tsmultt %[a3], %[xv], %[wd]\n\t"
#define AC_DW_MLA_ "smlabb %[a0], %[xe], %[we], %[a0]\n\tsmlatt %[a2], %[xe], %[we], %[a2]\n\t" \
                   "smlabb %[a1], %[xv], %[wd], %[a1]\n\tsmlatt %[a3], %[xv], %[wd], %[a3]\n\t"
#define AC_DW_TAP_(LOAD, OFF, MAC) LOAD "\n\tldrd %[we], %[wd], [%[w], #" #OFF "]\n\t" \
    "sxtab16 %[xe], %[xo], %[xv]\n\tsxtab16 %[xv], %[xo], %[xv], ror #8\n\t" MAC
/* One row of three taps: columns at x, x + s, x + 2s. */
#define AC_DW_ROW_(OFF0, OFF1, OFF2, MAC0) AC_DW_TAP_("ldr %[xv], [%[x]]", OFF0, MAC0) \
    AC_DW_TAP_("ldr %[xv], [%[x], %[s]]", OFF1, AC_DW_MLA_) \
    AC_DW_TAP_("ldr %[xv], [%[x], %[s], lsl #1]", OFF2, AC_DW_MLA_)
/* The nine taps of a 3x3 interior pixel for channels c..c+3 in assembly (x: the top-left input
 * tap of channel c, moved down two rows; w: the group's nine pre-extended weight pairs): in C,
 * gcc hoists the next row's loads and spills them to the stack; here the 13 live values stay in
 * registers. The first tap multiplies, so a0..a3 need no zeroing. */
#define AC_DW_3X3(acc0, acc1, acc2, acc3, xp, wp, sv, rowv, xov)                                   \
    do {                                                                                           \
        int32_t xv_, xe_, we_, wd_;                                                                \
        __asm__(AC_DW_ROW_(0, 8, 16, AC_DW_MUL_) "add %[x], %[x], %[row]\n\t"                      \
                AC_DW_ROW_(24, 32, 40, AC_DW_MLA_) "add %[x], %[x], %[row]\n\t"                    \
                AC_DW_ROW_(48, 56, 64, AC_DW_MLA_)                                                 \
                : [a0] "=&r"(acc0), [a1] "=&r"(acc1), [a2] "=&r"(acc2), [a3] "=&r"(acc3),          \
                  [x] "+&r"(xp), [xv] "=&r"(xv_), [xe] "=&r"(xe_), [we] "=&r"(we_), [wd] "=&r"(wd_) \
                : [w] "r"(wp), [s] "r"(sv), [row] "r"(rowv), [xo] "r"(xov),                        \
                  "m"(*(const int32_t(*)[18])(wp)));                                               \
    } while (0)
#else
#define AC_DW_3X3(acc0, acc1, acc2, acc3, xp, wp, sv, rowv, xov)                                   \
    do {                                                                                           \
        int32_t t_;                                                                                \
        acc0 = acc1 = acc2 = acc3 = 0;                                                             \
        for (t_ = 0; t_ < 9; ++t_) {                                                               \
            const int32_t xv_ = ac_load4((xp) + (t_ / 3) * (rowv) + (t_ % 3) * (sv));              \
            const int32_t xe_ = ac_sxtab16(xov, xv_), xd_ = ac_sxtab16_ror8(xov, xv_);             \
            acc0 = ac_smlabb(xe_, (wp)[2 * t_], acc0);                                             \
            acc2 = ac_smlatt(xe_, (wp)[2 * t_], acc2);                                             \
            acc1 = ac_smlabb(xd_, (wp)[2 * t_ + 1], acc1);                                         \
            acc3 = ac_smlatt(xd_, (wp)[2 * t_ + 1], acc3);                                         \
        }                                                                                          \
        (xp) += 2 * (rowv);                                                                        \
    } while (0)
#endif

#if defined(__GNUC__) && !defined(AC_DSP_EMULATE)
/* ac_requant_fast(acc + row[0], row[1], row[2], row[3]) for row k of the table at q, in
 * assembly: two LDRDs for the row, and the rounding term's high word (acc >> 31) and the
 * rounding-plus-zero-point word row[3] start the SMLAL's high half, so (u + row[3]) comes out of
 * it: (hi:lo) = row[3] * 2^32 + c with c = (acc & 2^31) | 2^30 sign-extended, the same 64-bit sum
 * as ac_requant_fast's (x * m + c) >> 32 followed by + row[3] (mod 2^32). */
#define AC_DW_REQUANT(dst, accv, rows, k)                                                          \
    do {                                                                                           \
        int32_t b_, m_, r_, lo_, x_ = (accv);                                                      \
        __asm__("ldrd %[b], %[m], [%[q], %[o0]]\n\t"                                               \
                "add %[x], %[x], %[b]\n\t"                                                         \
                "ldrd %[r], %[b], [%[q], %[o8]]\n\t"                                               \
                "and %[lo], %[x], #0x80000000\n\t"                                                 \
                "orr %[lo], %[lo], #0x40000000\n\t"                                                \
                "add %[v], %[b], %[x], asr #31\n\t"                                                \
                "smlal %[lo], %[v], %[x], %[m]\n\t"                                                \
                "asr %[v], %[v], %[r]"                                                             \
                : [v] "=&r"(dst), [x] "+&r"(x_), [b] "=&r"(b_), [m] "=&r"(m_), [r] "=&r"(r_),      \
                  [lo] "=&r"(lo_)                                                                  \
                : [q] "r"(rows), [o0] "i"(16 * (k)), [o8] "i"(16 * (k) + 8));                      \
    } while (0)
#else
#define AC_DW_REQUANT(dst, accv, rows, k)                                                          \
    ((dst) = ac_requant_fast((accv) + (rows)[4 * (k)], (rows)[4 * (k) + 1], (rows)[4 * (k) + 2],    \
                             (rows)[4 * (k) + 3]))
#endif

/* The same from the generator's requantisation table (output zero point folded in), with the
 * SSAT clamp when the activation range is the whole int8 range. */
AC_INLINE void dw_out4_table(const ac_conv_geom *p, const int32_t *requant, const int32_t acc[4], int32_t c, int8_t *out,
                              int32_t full)
{
    const int32_t *q = requant + 4 * c;
    const int32_t lo = p->act_min, hi = p->act_max;
    /* Written out: a loop keeps the accumulators in a stack array. */
#define AC_DW_TABLE_OUT(k)                                                                         \
    do {                                                                                           \
        int32_t v_;                                                                                \
        AC_DW_REQUANT(v_, acc[k], q, k);                                                           \
        out[c + (k)] = full ? ac_sat8(v_) : ac_clamp_s8(v_, lo, hi);                               \
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

/* One output pixel of any kernel: channels in blocks of four from the in-image tap list, the rest
 * one at a time. */
AC_INLINE void dw_pixel(const ac_conv_geom *p, const int8_t *filter, const int32_t *requant, const int8_t *in_img,
                        int32_t y0, int32_t x0, int8_t *out, int32_t full)
{
    const int32_t xo = ac_dup16(p->input_offset), s = p->in_c;
    int32_t in_off[AC_DW_MAX_TAPS], w_off[AC_DW_MAX_TAPS];
    const int32_t taps = dw_taps(p, y0, x0, in_off, w_off);
    int32_t c = 0;
    for (; c + 4 <= s; c += 4) {
        int32_t acc[4];
        dw_channels4(in_img + c, filter + c, in_off, w_off, taps, xo, acc);
        /* Border pixels too: the generator's overflow bound covers any subset of the taps. */
        dw_out4_table(p, requant, acc, c, out, full);
    }
    for (; c < s; ++c) {
        out[c] = dw_single(p, filter, requant + 4 * c, in_img, y0, x0, c);
    }
}

static inline int32_t dw_min(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

/* A border pixel of the 3x3 path: channels c..c+3 (xc: the image at channel c) over the taps in
 * the image, weights from the group's pre-extended pairs w16. */
static void dw_border3x3(const ac_conv_geom *p, const int8_t *xc, const int32_t *w16, int32_t y0, int32_t x0,
                         int32_t xo, int32_t acc[4])
{
    const int32_t ky0 = y0 < 0 ? -y0 : 0, ky1 = dw_min(3, p->in_h - y0);
    const int32_t kx0 = x0 < 0 ? -x0 : 0, kx1 = dw_min(3, p->in_w - x0);
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, ky, kx;
    for (ky = ky0; ky < ky1; ++ky) {
        const int8_t *xr = xc + ((y0 + ky) * p->in_w + x0) * p->in_c;
        const int32_t *wr = w16 + 6 * ky;
        for (kx = kx0; kx < kx1; ++kx) {
            const int32_t xv = ac_load4(xr + kx * p->in_c);
            const int32_t xe = ac_sxtab16(xo, xv), xd = ac_sxtab16_ror8(xo, xv);
            a0 = ac_smlabb(xe, wr[2 * kx], a0);
            a2 = ac_smlatt(xe, wr[2 * kx], a2);
            a1 = ac_smlabb(xd, wr[2 * kx + 1], a1);
            a3 = ac_smlatt(xd, wr[2 * kx + 1], a3);
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* 3x3, dilation 1, depth multiplier 1: channel groups outermost, so each group's nine weight words
 * are sign-extended once (into w16 on the stack, pairs (c, c+2) and (c+1, c+3) per tap) and the
 * pixel loop reads them as pairs with LDRD; interior pixels take the unrolled assembly, border
 * pixels the in-image taps. The channels left over (in_c not a multiple of 4) go one at a time. */
AC_INLINE void dw_image3x3(const ac_conv_geom *p, const int8_t *filter, const int32_t *requant, const int8_t *in_img,
                           int8_t *out_img, int32_t full)
{
    const int32_t xo = ac_dup16(p->input_offset), s = p->in_c, row = p->in_w * s;
    /* Output rows / columns whose 3x3 window lies in the image. */
    const int32_t oy_lo = dw_min((p->pad_top + p->stride_h - 1) / p->stride_h, p->out_h);
    const int32_t ox_lo = dw_min((p->pad_left + p->stride_w - 1) / p->stride_w, p->out_w);
    const int32_t oy_hi = p->in_h >= 3 ? dw_min((p->in_h - 3 + p->pad_top) / p->stride_h + 1, p->out_h) : 0;
    const int32_t ox_hi = p->in_w >= 3 ? dw_min((p->in_w - 3 + p->pad_left) / p->stride_w + 1, p->out_w) : 0;
    int32_t c, oy, ox, t;
    for (c = 0; c + 4 <= s; c += 4) {
        int32_t w16[18];
        const int8_t *xc = in_img + c;
        const int32_t *q = requant + 4 * c;
        for (t = 0; t < 9; ++t) {
            const int32_t wv = ac_load4(filter + t * s + c);
            w16[2 * t] = ac_sxtb16(wv);
            w16[2 * t + 1] = ac_sxtb16_ror8(wv);
        }
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_top;
            int8_t *o = out_img + oy * p->out_w * p->out_c + c;
            int32_t acc[4];
            ox = 0;
            if (oy >= oy_lo && oy < oy_hi && ox_lo < ox_hi) {
                for (; ox < ox_lo; ++ox, o += s) {
                    dw_border3x3(p, xc, w16, y0, ox * p->stride_w - p->pad_left, xo, acc);
                    dw_out4_table(p, q, acc, 0, o, full);
                }
                {
                    /* Interior: the assembly leaves x two rows down; xstep takes it to the next pixel. */
                    const int8_t *x = xc + (y0 * p->in_w + ox * p->stride_w - p->pad_left) * s;
                    const int32_t xstep = p->stride_w * s - 2 * row;
                    int8_t *const o_end = o + (ox_hi - ox_lo) * s;
                    for (; o != o_end; o += s, x += xstep) {
                        int32_t in[4];
                        AC_DW_3X3(in[0], in[1], in[2], in[3], x, w16, s, row, xo);
                        dw_out4_table(p, q, in, 0, o, full);
                    }
                    ox = ox_hi;
                }
            }
            for (; ox < p->out_w; ++ox, o += s) {
                dw_border3x3(p, xc, w16, y0, ox * p->stride_w - p->pad_left, xo, acc);
                dw_out4_table(p, q, acc, 0, o, full);
            }
        }
    }
    if (c < s) {
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox) {
                int8_t *o = out_img + (oy * p->out_w + ox) * p->out_c;
                int32_t k;
                for (k = c; k < s; ++k) {
                    o[k] = dw_single(p, filter, requant + 4 * k, in_img, oy * p->stride_h - p->pad_top,
                                     ox * p->stride_w - p->pad_left, k);
                }
            }
        }
    }
}

/* A local copy of the parameters: int8 stores may alias anything, which would reload every field. */
AC_INLINE void dw_loop(const ac_conv_table_params *params, const int8_t *input, int8_t *output, int32_t full)
{
    const ac_conv_table_params local = *params;
    const ac_conv_geom *p = &local.g;
    const int32_t k3x3 = p->k_h == 3 && p->k_w == 3 && p->dil_h == 1 && p->dil_w == 1;
    int32_t b, oy, ox;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_img = input + b * p->in_h * p->in_w * p->in_c;
        int8_t *out_img = output + b * p->out_h * p->out_w * p->out_c;
        if (k3x3) {
            dw_image3x3(p, local.filter, local.requant, in_img, out_img, full);
            continue;
        }
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox) {
                dw_pixel(p, local.filter, local.requant, in_img, oy * p->stride_h - p->pad_top,
                         ox * p->stride_w - p->pad_left, out_img + (oy * p->out_w + ox) * p->out_c, full);
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
