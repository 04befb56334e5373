/* CONV_2D int8, any geometry, exact per-channel requantisation: the variant for layers no
 * specialised variant covers (kernels with long rows, grouped or dilated convs, layers without
 * the requantisation table).
 *
 * Out-of-image taps are skipped, which equals padding with the input zero point. The inner
 * loop is an offset dot product (ac_dot.h): for one kernel row, when the convolution is not
 * grouped and not dilated along x, all in-image taps of the row are one contiguous run of
 * input and filter bytes, so the DSP loop sees long runs even for small channel counts.
 * Two output channels are computed together so the input is unpacked once for both.
 *
 * The parameters are copied to a local struct first: every int8 store may alias any object
 * (char-type aliasing), so fields read through the pointer would be reloaded after each
 * output byte.
 */
#include "ac_kernels.h"

#include "ac_dot.h"
#include "ac_fixedpoint.h"
#include "ac_mve.h"

static inline int8_t conv_finish(const ac_conv_params *p, int32_t acc, int32_t oc)
{
    const ac_chan ch = ac_chan_load(p->bias, p->multiplier, p->shift, oc, 0);
    return ac_chan_out(&ch, acc, 0, p->g.output_offset, p->g.act_min, p->g.act_max);
}

/* Output channels [oc_begin, oc_end) of one group at one output pixel, from `runs` runs of n
 * bytes whose input and filter offsets (in bytes) are listed. */
static inline void conv_channels(const ac_conv_params *p, const int8_t *in_img, const int32_t *in_off,
                                 const int32_t *w_off, int32_t runs, int32_t n, int32_t oc_begin,
                                 int32_t oc_end, int8_t *out)
{
    const int32_t w_stride = p->g.k_h * p->g.k_w * p->g.filter_in_c;
    int32_t oc = oc_begin, r;
    for (; oc + 2 <= oc_end; oc += 2) {
        const int8_t *w0 = p->filter + oc * w_stride;
        int32_t acc0 = 0, acc1 = 0;
        for (r = 0; r < runs; ++r) {
            ac_dot2(in_img + in_off[r], w0 + w_off[r], w0 + w_stride + w_off[r], n, p->g.input_offset, 0,
                    &acc0, &acc1);
        }
        out[oc] = conv_finish(p, acc0, oc);
        out[oc + 1] = conv_finish(p, acc1, oc + 1);
    }
    if (oc < oc_end) {
        const int8_t *w0 = p->filter + oc * w_stride;
        int32_t acc0 = 0;
        for (r = 0; r < runs; ++r) {
            acc0 = ac_dot(in_img + in_off[r], w0 + w_off[r], n, p->g.input_offset, 0, acc0);
        }
        out[oc] = conv_finish(p, acc0, oc);
    }
}

#if AC_USE_MVE
/* Helium: four output channels per pass over the runs (ac_mve_dot4: raw bytes, 16 per VMLADAVA);
 * the input offset enters as offset x (sum of the weights the runs cover), the same integer sum
 * as adding it to every tap. A full kernel's weight sums are computed once per call. */
#define AC_ROWS_MVE_MAX_OC 256

static void conv_channels_mve(const ac_conv_params *p, const int8_t *in_img, const int32_t *in_off,
                              const int32_t *w_off, int32_t runs, int32_t n, int32_t oc_end, int8_t *out,
                              const int32_t *wsum)
{
    const int32_t w_stride = p->g.k_h * p->g.k_w * p->g.filter_in_c;
    int32_t oc, r, j;
    for (oc = 0; oc < oc_end; oc += 4) {
        const int32_t cnt = oc_end - oc < 4 ? oc_end - oc : 4;
        const int8_t *w[4];
        int32_t a[4];
        int32x4_t acc = vdupq_n_s32(0);
        for (j = 0; j < 4; ++j) {
            w[j] = p->filter + (oc + (j < cnt ? j : 0)) * w_stride;
        }
        for (r = 0; r < runs; ++r) {
            acc = vaddq_s32(acc, ac_mve_dot4(in_img + in_off[r], w[0] + w_off[r], w[1] + w_off[r], w[2] + w_off[r],
                                             w[3] + w_off[r], n));
        }
        vst1q_s32(a, acc);
        for (j = 0; j < cnt; ++j) {
            int32_t s = 0;
            if (wsum) {
                s = wsum[oc + j];
            } else {
                for (r = 0; r < runs; ++r) {
                    s += ac_mve_sum_bytes(w[j] + w_off[r], n);
                }
            }
            out[oc + j] = conv_finish(p, a[j] + p->g.input_offset * s, oc + j);
        }
    }
}
#endif

/* Runs of taps are listed in small fixed arrays; taller kernels take the per-tap loop. */
#define AC_CONV_MAX_RUNS 16

void ac_conv2d_rows(const ac_conv_params *params, const int8_t *input, int8_t *output)
{
    const ac_conv_params local = *params;
    const ac_conv_params *pp = &local;
    const ac_conv_geom p = local.g;
    const int32_t fic = p.filter_in_c;
    const int32_t groups = p.in_c / fic;
    const int32_t per_group = p.out_c / groups;
    /* Whole kernel rows are contiguous runs when not grouped and not dilated along x. */
    const int32_t row_runs = (p.dil_w == 1 && groups == 1);
    int32_t b, oy, ox;
#if AC_USE_MVE
    int32_t wsum[AC_ROWS_MVE_MAX_OC];
    const int32_t mve = row_runs && p.out_c <= AC_ROWS_MVE_MAX_OC;
    if (mve) {
        int32_t oc;
        for (oc = 0; oc < p.out_c; ++oc) {
            wsum[oc] = ac_mve_sum_bytes(local.filter + oc * p.k_h * p.k_w * fic, p.k_h * p.k_w * fic);
        }
    }
#endif
    for (b = 0; b < p.batches; ++b) {
        const int8_t *in_img = input + b * p.in_h * p.in_w * p.in_c;
        for (oy = 0; oy < p.out_h; ++oy) {
            const int32_t y0 = oy * p.stride_h - p.pad_top;
            for (ox = 0; ox < p.out_w; ++ox) {
                const int32_t x0 = ox * p.stride_w - p.pad_left;
                int8_t *out = output + ((b * p.out_h + oy) * p.out_w + ox) * p.out_c;
                int32_t g;
                for (g = 0; g < groups; ++g) {
                    int32_t in_off[AC_CONV_MAX_RUNS], w_off[AC_CONV_MAX_RUNS];
                    int32_t runs = 0, n = fic, ky, kx;
                    if (row_runs) {
                        const int32_t kx0 = x0 < 0 ? -x0 : 0;
                        const int32_t kx1 = ac_min_i32(p.k_w, p.in_w - x0);
                        n = (kx1 - kx0) * fic;
                        if (n > 0) {
                            for (ky = 0; ky < p.k_h; ++ky) {
                                const int32_t iy = y0 + ky * p.dil_h;
                                if (iy < 0 || iy >= p.in_h) {
                                    continue;
                                }
                                in_off[runs] = (iy * p.in_w + x0 + kx0) * p.in_c;
                                w_off[runs] = (ky * p.k_w + kx0) * fic;
                                ++runs;
                                if (runs == AC_CONV_MAX_RUNS) {
                                    break;
                                }
                            }
                        }
                    }
#if AC_USE_MVE
                    if (mve && runs < AC_CONV_MAX_RUNS) {
                        conv_channels_mve(pp, in_img, in_off, w_off, runs, n, p.out_c, out,
                                          runs == p.k_h && n == p.k_w * fic ? wsum : 0);
                        continue;
                    }
#endif
                    if (row_runs && runs < AC_CONV_MAX_RUNS) {
                        conv_channels(pp, in_img, in_off, w_off, runs, n, g * per_group, (g + 1) * per_group, out);
                        continue;
                    }
                    /* Grouped, dilated along x, or kernels taller than AC_CONV_MAX_RUNS rows: one
                     * dot product per in-image tap. */
                    {
                        int32_t oc;
                        for (oc = g * per_group; oc < (g + 1) * per_group; ++oc) {
                            const int8_t *w0 = pp->filter + oc * p.k_h * p.k_w * fic;
                            int32_t acc = 0;
                            for (ky = 0; ky < p.k_h; ++ky) {
                                const int32_t iy = y0 + ky * p.dil_h;
                                if (iy < 0 || iy >= p.in_h) {
                                    continue;
                                }
                                for (kx = 0; kx < p.k_w; ++kx) {
                                    const int32_t ix = x0 + kx * p.dil_w;
                                    if (ix < 0 || ix >= p.in_w) {
                                        continue;
                                    }
                                    acc = ac_dot(in_img + (iy * p.in_w + ix) * p.in_c + g * fic,
                                                 w0 + (ky * p.k_w + kx) * fic, fic, p.input_offset, 0, acc);
                                }
                            }
                            out[oc] = conv_finish(pp, acc, oc);
                        }
                    }
                }
            }
        }
    }
}
