/* DEPTHWISE_CONV_2D int8 with Helium (MVE, Cortex-M55): depth multiplier 1, up to 64 taps, from
 * the generator's requantisation table (plain bias: the input offset is added to every tap, and
 * taps outside the image are skipped, as TFLM does). ac_kernels.h's AC_DEPTHWISE_DSP names it
 * when AC_USE_MVE is set.
 *
 * Sixteen channels per step (then eight, predicated): a widening load of each tap's input and weight bytes to int16 lanes,
 * the input offset added (x + offset and w both fit int16), VMULLB/VMULLT for the int32 products of
 * the even and odd channels, one add each into their accumulators. The even and odd results are
 * requantised as two vectors and interleaved back (VMOVNB/VMOVNT) for one narrowing store.
 */
#include "ac_kernels.h"

#include "ac_fixedpoint.h"
#include "ac_mve.h"

#if AC_USE_MVE
#define AC_DW_MVE_MAX_TAPS 64

/* The in-image taps of the output pixel at (y0, x0): input and filter byte offsets. */
static int32_t dw_taps(const ac_conv_geom *g, int32_t y0, int32_t x0, int32_t *in_off, int32_t *w_off)
{
    int32_t n = 0, ky, kx;
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
            in_off[n] = (iy * g->in_w + ix) * g->in_c;
            w_off[n] = (ky * g->k_w + kx) * g->out_c;
            ++n;
        }
    }
    return n;
}

/* Requantisation of channels c, c + 2, c + 4, c + 6 (rows 8 words apart), `n` of them valid. */
static inline ac_mve_rq rq_even(const int32_t *rows, int32_t n)
{
    const uint32x4_t off = vmulq_n_u32(vidupq_n_u32(0, 1), 8);
    const mve_pred16_t pr = vctp32q((uint32_t)n);
    ac_mve_rq q;
    q.bias = vldrwq_gather_shifted_offset_z_s32(rows, off, pr);
    q.mult = vldrwq_gather_shifted_offset_z_s32(rows + 1, off, pr);
    q.neg_e = vmvnq_s32(vldrwq_gather_shifted_offset_z_s32(rows + 2, off, pr));
    return q;
}

/* Eight channels' even and odd sums requantised, interleaved and stored (n valid). */
AC_INLINE void dw_store8(const ac_conv_geom *g, const int32_t *rows, int32x4_t ae, int32x4_t ao, int32_t n,
                         int8_t *out)
{
    const ac_mve_rq qe = rq_even(rows, (n + 1) >> 1), qo = rq_even(rows + 4, n >> 1);
    const int32x4_t ye = ac_mve_requant4(ae, &qe, g->output_offset, g->act_min, g->act_max);
    const int32x4_t yo = ac_mve_requant4(ao, &qo, g->output_offset, g->act_min, g->act_max);
    int16x8_t z = vdupq_n_s16(0);
    z = vmovnbq_s32(z, ye);
    z = vmovntq_s32(z, yo);
    vstrbq_p_s16(out, z, vctp16q((uint32_t)n));
}

/* Eight channels' sums (even channels in ae, odd in ao; the bias already in them) requantised,
 * narrowed with saturation to int16 and interleaved back into channel order, the output zero
 * point added (saturating) and the clamp applied on the int16 lanes: the same values as clamping
 * the int32 results (a saturated lane is far outside the int8 range on the same side). */
AC_INLINE void dw_out8(int32x4_t ae, int32x4_t ao, const int32_t *rows, uint32x4_t off, int16_t zp, int16x8_t lo,
                       int16x8_t hi, int8_t *out)
{
    int16x8_t z = vuninitializedq_s16();
    ae = vqrdmulhq_s32(ae, vldrwq_gather_shifted_offset_s32(rows + 1, off));
    ao = vqrdmulhq_s32(ao, vldrwq_gather_shifted_offset_s32(rows + 5, off));
    ae = vrshlq_s32(vaddq_s32(ae, vshrq_n_s32(ae, 31)), vmvnq_s32(vldrwq_gather_shifted_offset_s32(rows + 2, off)));
    ao = vrshlq_s32(vaddq_s32(ao, vshrq_n_s32(ao, 31)), vmvnq_s32(vldrwq_gather_shifted_offset_s32(rows + 6, off)));
    z = vqmovnbq_s32(z, ae);
    z = vqmovntq_s32(z, ao);
    z = vminq_s16(vmaxq_s16(vqaddq_n_s16(z, zp), lo), hi);
    vstrbq_s16(out, z);
}

/* Channels c..c+15 of one pixel over its taps (no predication); xt/wt: each tap's input and
 * filter pointers at channel 0. The accumulators start at the bias. */
AC_INLINE void dw_group16(const ac_conv_geom *g, int32_t c, const int32_t *rows, const int8_t *const *xt,
                          const int8_t *const *wt, int32_t taps, uint32x4_t off, int16x8_t lo, int16x8_t hi,
                          int8_t *out)
{
    const int16_t xo = (int16_t)g->input_offset;
    int32x4_t ae0 = vldrwq_gather_shifted_offset_s32(rows, off), ao0 = vldrwq_gather_shifted_offset_s32(rows + 4, off);
    int32x4_t ae1 = vldrwq_gather_shifted_offset_s32(rows + 32, off);
    int32x4_t ao1 = vldrwq_gather_shifted_offset_s32(rows + 36, off);
    int32_t t;
    for (t = 0; t < taps; ++t) {
        const int8_t *xp = xt[t] + c, *wp = wt[t] + c;
        const int16x8_t x0 = vaddq_n_s16(vldrbq_s16(xp), xo), w0 = vldrbq_s16(wp);
        ae0 = vaddq_s32(ae0, vmullbq_int_s16(x0, w0));
        ao0 = vaddq_s32(ao0, vmulltq_int_s16(x0, w0));
        /* The second half's loads after the first half's products: all eight vector registers
         * are then enough (gcc otherwise loads everything first and spills an accumulator). */
        __asm__("" : "+r"(xp), "+r"(wp), "+w"(ae0), "+w"(ao0));
        {
            const int16x8_t x1 = vaddq_n_s16(vldrbq_s16(xp + 8), xo), w1 = vldrbq_s16(wp + 8);
            ae1 = vaddq_s32(ae1, vmullbq_int_s16(x1, w1));
            ao1 = vaddq_s32(ao1, vmulltq_int_s16(x1, w1));
        }
    }
    dw_out8(ae0, ao0, rows, off, (int16_t)g->output_offset, lo, hi, out + c);
    dw_out8(ae1, ao1, rows + 32, off, (int16_t)g->output_offset, lo, hi, out + c + 8);
}

/* Channels c..c+n-1 (n <= 8) of one pixel over its taps (predicated loads). */
static void dw_group8(const ac_conv_geom *g, const int8_t *x, const int8_t *w, const int32_t *rows,
                      const int32_t *in_off, const int32_t *w_off, int32_t taps, int32_t n, int8_t *out)
{
    const mve_pred16_t pr = vctp16q((uint32_t)n);
    const int16_t xo = (int16_t)g->input_offset;
    int32x4_t ae = vdupq_n_s32(0), ao = vdupq_n_s32(0);
    int32_t t;
    for (t = 0; t < taps; ++t) {
        const int16x8_t xv = vaddq_n_s16(vldrbq_z_s16(x + in_off[t], pr), xo);
        const int16x8_t wv = vldrbq_z_s16(w + w_off[t], pr);
        ae = vaddq_s32(ae, vmullbq_int_s16(xv, wv));
        ao = vaddq_s32(ao, vmulltq_int_s16(xv, wv));
    }
    dw_store8(g, rows, ae, ao, n, out);
}

static void dw_loop(const ac_conv_table_params *params, const int8_t *input, int8_t *output)
{
    const ac_conv_table_params local = *params;
    const ac_conv_geom *g = &local.g;
    const int32_t ch = g->out_c;
    /* Requantisation rows of channels c, c + 2, c + 4, c + 6: 8 words apart. */
    const uint32x4_t off = vmulq_n_u32(vidupq_n_u32(0, 1), 8);
    const int16x8_t lo = vdupq_n_s16((int16_t)g->act_min), hi = vdupq_n_s16((int16_t)g->act_max);
    int32_t in_off[AC_DW_MVE_MAX_TAPS], w_off[AC_DW_MVE_MAX_TAPS];
    const int8_t *xt[AC_DW_MVE_MAX_TAPS], *wt[AC_DW_MVE_MAX_TAPS];
    int32_t b, oy, ox, c, t;
    for (b = 0; b < g->batches; ++b) {
        const int8_t *in_img = input + b * g->in_h * g->in_w * g->in_c;
        for (oy = 0; oy < g->out_h; ++oy) {
            for (ox = 0; ox < g->out_w; ++ox) {
                int8_t *out = output + ((b * g->out_h + oy) * g->out_w + ox) * ch;
                const int32_t taps = dw_taps(g, oy * g->stride_h - g->pad_top, ox * g->stride_w - g->pad_left,
                                             in_off, w_off);
                for (t = 0; t < taps; ++t) {
                    xt[t] = in_img + in_off[t];
                    wt[t] = local.filter + w_off[t];
                }
                for (c = 0; c + 16 <= ch; c += 16) {
                    dw_group16(g, c, local.requant + 4 * c, xt, wt, taps, off, lo, hi, out);
                }
                for (; c < ch; c += 8) {
                    const int32_t n = ch - c < 8 ? ch - c : 8;
                    dw_group8(g, in_img + c, local.filter + c, local.requant + 4 * c, in_off, w_off, taps, n,
                              out + c);
                }
            }
        }
    }
}

void ac_depthwise_tables_mve(const ac_conv_table_params *p, const int8_t *input, int8_t *output)
{
    dw_loop(p, input, output);
}
#else
/* ISO C forbids an empty translation unit. */
typedef int ac_depthwise_mve_unused;
#endif
