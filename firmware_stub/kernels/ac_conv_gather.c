/* CONV_2D int8 for convolutions whose kernel rows are too short for the run-based loop (few
 * input channels, e.g. a stem conv on a 1-channel spectrogram), from the generator's
 * requantisation table: each output pixel's taps are gathered once as int16 raw bytes (a tap
 * outside the image is the input zero point, whose (zp + offset) * w is 0 with the folded bias:
 * the same sum as skipping it), then every channel pair is a short loop over the gathered taps.
 * On the DSP core the taps are stored in the lane order SXTB16 gives a weight word (bytes 0, 2
 * and 1, 3) and the loop is SMLAD; elsewhere they stay in order and the loop is scalar. The
 * gather buffer is a small stack array.
 */
#include "ac_kernels.h"

#include "ac_dot.h"
#include "ac_fixedpoint.h"
#include "ac_mve.h"

#define AC_CONV_MAX_GATHER 64

/* Kernel taps gathered for the output pixel at (y0, x0): K = k_h * k_w * fic values. On the DSP
 * core packed as buf[2g] = (t[4g], t[4g + 2]), buf[2g + 1] = (t[4g + 1], t[4g + 3]) for the full
 * groups of 4 (gather_loop packs the int16 slots into words; the K % 4 left over stay in order),
 * elsewhere in order. */
static void gather_taps(const ac_conv_geom *p, const int8_t *in_img, int32_t y0, int32_t x0, int16_t *t,
                        int32_t pad)
{
    const int32_t full = AC_USE_DSP ? (p->k_h * p->k_w * p->filter_in_c) & ~3 : 0;
    int32_t ky, kx, c, k = 0;
    for (ky = 0; ky < p->k_h; ++ky) {
        const int32_t iy = y0 + ky * p->dil_h;
        for (kx = 0; kx < p->k_w; ++kx) {
            const int32_t ix = x0 + kx * p->dil_w;
            const int32_t inside = iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w;
            const int8_t *x = inside ? in_img + (iy * p->in_w + ix) * p->in_c : in_img;
            for (c = 0; c < p->filter_in_c; ++c, ++k) {
                /* Lane order of a weight word: k = 4g + j goes to slot 4g + {0, 2, 1, 3}[j];
                 * the K % 4 tail keeps its place (it is summed by a scalar loop). */
                const int32_t j = k & 3;
                const int32_t slot = k < full ? (k & ~3) + (j == 1 ? 2 : j == 2 ? 1 : j) : k;
                t[slot] = (int16_t)(inside ? (int32_t)x[c] : pad);
            }
        }
    }
}

#if AC_USE_DSP
/* Two weight rows against the gathered taps: `groups` SMLAD groups of 4, then the tail. */
AC_INLINE void gather_dot2(const int32_t *buf, const int16_t *t16, const int8_t *w0, const int8_t *w1,
                           int32_t groups, int32_t taps, int32_t *acc0, int32_t *acc1)
{
    const int32_t *const end = buf + 2 * groups;
    int32_t a0 = 0, a1 = 0, k;
    for (; buf != end; buf += 2, w0 += 4, w1 += 4) {
        const int32_t v0 = ac_load4(w0), v1 = ac_load4(w1);
        const int32_t e = buf[0], d = buf[1];
        a0 = ac_smlad(e, ac_sxtb16(v0), a0);
        a0 = ac_smlad(d, ac_sxtb16_ror8(v0), a0);
        a1 = ac_smlad(e, ac_sxtb16(v1), a1);
        a1 = ac_smlad(d, ac_sxtb16_ror8(v1), a1);
    }
    for (k = 4 * groups; k < taps; ++k) {
        a0 += t16[k] * w0[k - 4 * groups];
        a1 += t16[k] * w1[k - 4 * groups];
    }
    *acc0 = a0;
    *acc1 = a1;
}
#else
/* Two weight rows against the gathered taps, in order. */
AC_INLINE void gather_dot2(const int16_t *t16, const int8_t *w0, const int8_t *w1, int32_t taps, int32_t *acc0,
                           int32_t *acc1)
{
    int32_t a0 = 0, a1 = 0, k;
    for (k = 0; k < taps; ++k) {
        const int32_t t = t16[k];
        a0 += t * w0[k];
        a1 += t * w1[k];
    }
    *acc0 = a0;
    *acc1 = a1;
}
#endif

/* full: the activation range is all of int8 (SSAT). */
AC_INLINE void gather_loop(const ac_conv_table_params *params, const int8_t *input, int8_t *output, int32_t full)
{
    const ac_conv_table_params local = *params;
    const ac_conv_geom *p = &local.g;
    const int32_t taps = p->k_h * p->k_w * p->filter_in_c, out_c = p->out_c;
    const int32_t lo = p->act_min, hi = p->act_max;
#if AC_USE_DSP
    const int32_t groups = taps >> 2;
    int32_t buf[AC_CONV_MAX_GATHER / 2];
    int32_t g;
#endif
    int16_t t16[AC_CONV_MAX_GATHER];
    int32_t b, oy, ox, oc;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_img = input + b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox) {
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * out_c;
                const int8_t *w = local.filter;
                gather_taps(p, in_img, oy * p->stride_h - p->pad_top, ox * p->stride_w - p->pad_left, t16,
                            -p->input_offset);
#if AC_USE_DSP
                for (g = 0; g < groups * 2; ++g) {
                    buf[g] = (int32_t)(((uint32_t)(uint16_t)t16[2 * g + 1] << 16) | (uint16_t)t16[2 * g]);
                }
#endif
                for (oc = 0; oc < out_c; oc += 2) {
                    /* An odd last channel runs as a pair with itself and is stored once. */
                    const int32_t two = oc + 1 < out_c;
                    const int8_t *w0 = w + oc * taps;
                    const int32_t *q = local.requant + 4 * oc;
                    int32_t a0, a1;
#if AC_USE_DSP
                    gather_dot2(buf, t16, w0, two ? w0 + taps : w0, groups, taps, &a0, &a1);
#else
                    gather_dot2(t16, w0, two ? w0 + taps : w0, taps, &a0, &a1);
#endif
                    {
                        const int32_t v0 = ac_requant_fast(a0 + q[0], q[1], q[2], q[3]);
                        out[oc] = full ? ac_sat8(v0) : ac_clamp_s8(v0, lo, hi);
                    }
                    if (two) {
                        const int32_t v1 = ac_requant_fast(a1 + q[4], q[5], q[6], q[7]);
                        out[oc + 1] = full ? ac_sat8(v1) : ac_clamp_s8(v1, lo, hi);
                    }
                }
            }
        }
    }
}

#if AC_USE_DSP
/* The taps of a 3x3 kernel on one input channel (the stem on a spectrogram), dilation 1: nine
 * values, padding where outside the image, packed into the SMLAD lane order of a weight word's
 * SXTB16 halves: t[0] = (t0, t2), t[1] = (t1, t3), t[2] = (t4, t6), t[3] = (t5, t7); t8 alone. */
AC_INLINE int32_t gather3x3(const ac_conv_geom *p, const int8_t *in_img, int32_t y0, int32_t x0, int32_t pad,
                            int32_t t[4])
{
    int32_t v[9], ky, kx;
    if (y0 >= 0 && x0 >= 0 && y0 + 3 <= p->in_h && x0 + 3 <= p->in_w) {
        /* Inside the image (most pixels): nine loads, no bounds checks. */
        const int8_t *x = in_img + y0 * p->in_w + x0;
        const int32_t w1 = p->in_w, w2 = 2 * p->in_w;
        t[0] = (int32_t)((uint32_t)(uint16_t)x[0] | ((uint32_t)x[2] << 16));
        t[1] = (int32_t)((uint32_t)(uint16_t)x[1] | ((uint32_t)x[w1] << 16));
        t[2] = (int32_t)((uint32_t)(uint16_t)x[w1 + 1] | ((uint32_t)x[w2] << 16));
        t[3] = (int32_t)((uint32_t)(uint16_t)x[w1 + 2] | ((uint32_t)x[w2 + 1] << 16));
        return x[w2 + 2];
    }
    for (ky = 0; ky < 3; ++ky) {
        const int32_t iy = y0 + ky;
        const int32_t row_in = iy >= 0 && iy < p->in_h;
        const int8_t *x = in_img + iy * p->in_w;
        for (kx = 0; kx < 3; ++kx) {
            const int32_t ix = x0 + kx;
            v[3 * ky + kx] = row_in && ix >= 0 && ix < p->in_w ? x[ix] : pad;
        }
    }
    t[0] = (int32_t)((uint32_t)(uint16_t)v[0] | ((uint32_t)v[2] << 16));
    t[1] = (int32_t)((uint32_t)(uint16_t)v[1] | ((uint32_t)v[3] << 16));
    t[2] = (int32_t)((uint32_t)(uint16_t)v[4] | ((uint32_t)v[6] << 16));
    t[3] = (int32_t)((uint32_t)(uint16_t)v[5] | ((uint32_t)v[7] << 16));
    return v[8];
}

/* 3x3 on one input channel: each pixel's taps stay in five registers while every output channel
 * runs over them (two weight words, four SMLAD, one MLA), the bias' as the starting sum. */
AC_INLINE void gather3x3_loop(const ac_conv_table_params *params, const int8_t *input, int8_t *output,
                              int32_t full)
{
    const ac_conv_table_params local = *params;
    const ac_conv_geom *p = &local.g;
    const int32_t out_c = p->out_c, lo = p->act_min, hi = p->act_max, pad = -p->input_offset;
    int32_t b, oy, ox;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_img = input + b * p->in_h * p->in_w;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox) {
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * out_c;
                int8_t *const end = out + out_c;
                const int8_t *w = local.filter;
                const int32_t *q = local.requant;
                int32_t t[4];
                const int32_t t8 = gather3x3(p, in_img, oy * p->stride_h - p->pad_top, ox * p->stride_w - p->pad_left,
                                             pad, t);
                const int32_t e0 = t[0], d0 = t[1], e1 = t[2], d1 = t[3];
                for (; out != end; ++out, w += 9, q += 4) {
                    const int32_t v0 = ac_load4(w), v1 = ac_load4(w + 4);
                    int32_t a = ac_smlad(e0, ac_sxtb16(v0), q[0]);
                    a = ac_smlad(d0, ac_sxtb16_ror8(v0), a);
                    a = ac_smlad(e1, ac_sxtb16(v1), a);
                    a = ac_smlad(d1, ac_sxtb16_ror8(v1), a);
                    a += t8 * w[8];
                    {
                        const int32_t y = ac_requant_fast(a, q[1], q[2], q[3]);
                        *out = full ? ac_sat8(y) : ac_clamp_s8(y, lo, hi);
                    }
                }
            }
        }
    }
}

#if AC_USE_MVE
/* Helium: the nine taps (padding where outside the image) as bytes 0-8 of one vector, zeros
 * after; each group of four output channels is four VMLADAVA of a weight row against it. */
AC_INLINE void gather3x3_mve(const ac_conv_table_params *params, const int8_t *input, int8_t *output)
{
    const ac_conv_table_params local = *params;
    const ac_conv_geom *p = &local.g;
    const int32_t out_c = p->out_c, zp = p->output_offset, lo = p->act_min, hi = p->act_max;
    const int8_t pad = (int8_t)(-p->input_offset);
    /* Whole 16-byte weight loads read up to 7 bytes past a row: the last group's are predicated,
     * so nothing past the filter array is read. */
    const int32_t full_groups = out_c >= 5 ? (out_c - 5) / 4 + 1 : 0;
    const mve_pred16_t nine = vctp8q(9);
    int8_t buf[16] = {0};
    int32_t b, oy, ox, g, ky, kx;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_img = input + b * p->in_h * p->in_w;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left;
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * out_c;
                const int8_t *w = local.filter;
                int8x16_t tv;
                int32_t c = 0;
                if (y0 >= 0 && x0 >= 0 && y0 + 3 <= p->in_h && x0 + 3 <= p->in_w) {
                    const int8_t *x = in_img + y0 * p->in_w + x0;
                    buf[0] = x[0], buf[1] = x[1], buf[2] = x[2];
                    x += p->in_w;
                    buf[3] = x[0], buf[4] = x[1], buf[5] = x[2];
                    x += p->in_w;
                    buf[6] = x[0], buf[7] = x[1], buf[8] = x[2];
                } else {
                    for (ky = 0; ky < 3; ++ky) {
                        for (kx = 0; kx < 3; ++kx) {
                            const int32_t iy = y0 + ky, ix = x0 + kx;
                            buf[3 * ky + kx] = iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w
                                                   ? in_img[iy * p->in_w + ix] : pad;
                        }
                    }
                }
                tv = vldrbq_s8(buf);
                for (g = 0; g < full_groups; ++g, c += 4, w += 36) {
                    const ac_mve_rq q = ac_mve_rq_load(local.requant + 4 * c, 4);
                    const int32_t a0 = vmladavq_s8(tv, vldrbq_s8(w)), a1 = vmladavq_s8(tv, vldrbq_s8(w + 9));
                    const int32_t a2 = vmladavq_s8(tv, vldrbq_s8(w + 18)), a3 = vmladavq_s8(tv, vldrbq_s8(w + 27));
                    vstrbq_s32(out + c, ac_mve_requant4(ac_mve_vec4(a0, a1, a2, a3), &q, zp, lo, hi));
                }
                {
                    /* The last 1-4 channels: rows predicated to their nine bytes. */
                    const int32_t n = out_c - c;
                    const ac_mve_rq q = ac_mve_rq_load(local.requant + 4 * c, n);
                    const int32_t a0 = vmladavq_s8(tv, vldrbq_z_s8(w, nine));
                    const int32_t a1 = n > 1 ? vmladavq_s8(tv, vldrbq_z_s8(w + 9, nine)) : 0;
                    const int32_t a2 = n > 2 ? vmladavq_s8(tv, vldrbq_z_s8(w + 18, nine)) : 0;
                    const int32_t a3 = n > 3 ? vmladavq_s8(tv, vldrbq_z_s8(w + 27, nine)) : 0;
                    vstrbq_p_s32(out + c, ac_mve_requant4(ac_mve_vec4(a0, a1, a2, a3), &q, zp, lo, hi),
                                 vctp32q((uint32_t)n));
                }
            }
        }
    }
}
#endif

#if AC_USE_MVE
/* The taps of the output pixel at (y0, x0) as raw bytes, padding where outside the image. */
static void gather_bytes(const ac_conv_geom *p, const int8_t *in_img, int32_t y0, int32_t x0, int8_t pad, int8_t *t)
{
    int32_t ky, kx, c;
    for (ky = 0; ky < p->k_h; ++ky) {
        const int32_t iy = y0 + ky * p->dil_h;
        for (kx = 0; kx < p->k_w; ++kx) {
            const int32_t ix = x0 + kx * p->dil_w;
            if (iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w) {
                const int8_t *x = in_img + (iy * p->in_w + ix) * p->in_c;
                for (c = 0; c < p->filter_in_c; ++c) {
                    *t++ = x[c];
                }
            } else {
                for (c = 0; c < p->filter_in_c; ++c) {
                    *t++ = pad;
                }
            }
        }
    }
}

/* Helium, any other shape: each pixel's K taps gathered once as raw bytes (padding taps = the
 * input zero point), then four output channels per ac_mve_dot4 pass over them. */
static void gather_mve(const ac_conv_table_params *params, const int8_t *input, int8_t *output)
{
    const ac_conv_table_params local = *params;
    const ac_conv_geom *p = &local.g;
    const int32_t k = p->k_h * p->k_w * p->filter_in_c, out_c = p->out_c;
    const int32_t zp = p->output_offset, lo = p->act_min, hi = p->act_max;
    const int8_t pad = (int8_t)(-p->input_offset);
    /* Kernel rows are contiguous input runs when not dilated along x and not grouped. */
    const int32_t rows = p->dil_w == 1 && p->filter_in_c == p->in_c, row = p->k_w * p->in_c;
    int8_t taps[AC_CONV_MAX_GATHER];
    int32_t b, oy, ox, ky, c;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_img = input + b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left;
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * out_c;
                int8_t *t = taps;
                if (rows && x0 >= 0 && x0 + p->k_w <= p->in_w) {
                    /* Every kernel row inside horizontally: one contiguous run per row (or padding). */
                    for (ky = 0; ky < p->k_h; ++ky, t += row) {
                        const int32_t iy = y0 + ky * p->dil_h;
                        int32_t i;
                        if (iy >= 0 && iy < p->in_h) {
                            const int8_t *x = in_img + (iy * p->in_w + x0) * p->in_c;
                            for (i = 0; i < row; i += 16) {
                                const mve_pred16_t pr = vctp8q((uint32_t)(row - i));
                                vstrbq_p_s8(t + i, vldrbq_z_s8(x + i, pr), pr);
                            }
                        } else {
                            for (i = 0; i < row; i += 16) {
                                vstrbq_p_s8(t + i, vdupq_n_s8(pad), vctp8q((uint32_t)(row - i)));
                            }
                        }
                    }
                } else {
                    gather_bytes(p, in_img, y0, x0, pad, t);
                }
                for (c = 0; c < out_c; c += 4) {
                    /* 1-3 channels left: the missing rows repeat the first, the store is predicated. */
                    const int32_t n = out_c - c < 4 ? out_c - c : 4;
                    const int8_t *w0 = local.filter + c * k;
                    const ac_mve_rq q = ac_mve_rq_load(local.requant + 4 * c, n);
                    const int32x4_t acc = ac_mve_dot4(taps, w0, n > 1 ? w0 + k : w0, n > 2 ? w0 + 2 * k : w0,
                                                      n > 3 ? w0 + 3 * k : w0, k);
                    vstrbq_p_s32(out + c, ac_mve_requant4(acc, &q, zp, lo, hi), vctp32q((uint32_t)n));
                }
            }
        }
    }
}
#endif

static int32_t is_3x3_one_channel(const ac_conv_geom *g)
{
    return g->k_h == 3 && g->k_w == 3 && g->filter_in_c == 1 && g->in_c == 1 && g->dil_h == 1 && g->dil_w == 1;
}
#endif

/* full: the clamp is all of int8 (_sat); the Helium loops clamp the same way either way. */
AC_INLINE void gather_dispatch(const ac_conv_table_params *p, const int8_t *input, int8_t *output, int32_t full)
{
#if AC_USE_DSP
    if (is_3x3_one_channel(&p->g)) {
#if AC_USE_MVE
        gather3x3_mve(p, input, output);
#else
        gather3x3_loop(p, input, output, full);
#endif
        return;
    }
#endif
#if AC_USE_MVE
    (void)full;
    gather_mve(p, input, output);
#else
    gather_loop(p, input, output, full);
#endif
}

void ac_conv2d_gather_tables(const ac_conv_table_params *p, const int8_t *input, int8_t *output)
{
    gather_dispatch(p, input, output, 0);
}

void ac_conv2d_gather_tables_sat(const ac_conv_table_params *p, const int8_t *input, int8_t *output)
{
    gather_dispatch(p, input, output, 1);
}
