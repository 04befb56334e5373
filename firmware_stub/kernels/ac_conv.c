/* CONV_2D int8, per-channel requantization (TFLM reference_integer_ops::ConvPerChannel).
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

/* Channel oc's parameters with `bias` (NULL: none): from the requantisation table when the
 * layer has one (then there are no multiplier/shift arrays), else from the arrays. */
AC_INLINE ac_chan conv_chan(const ac_conv_params *p, const int32_t *bias, int32_t oc, int32_t fast)
{
    if (p->requant) {
        return ac_chan_row(p->requant + 4 * oc, bias ? bias[oc] : 0);
    }
    return ac_chan_load(bias, p->multiplier, p->shift, oc, fast);
}

static inline int8_t conv_finish(const ac_conv_params *p, int32_t acc, int32_t oc)
{
    const ac_chan ch = conv_chan(p, p->bias, oc, 0);
    return ac_chan_out(&ch, acc, 0, p->output_offset, p->act_min, p->act_max);
}

/* Output channels [oc_begin, oc_end) of one group at one output pixel, from `taps` kernel
 * taps whose input and filter offsets (in bytes) are listed; each tap is a run of n bytes. */
static inline void conv_channels(const ac_conv_params *p, const int8_t *in_img, const int32_t *in_off,
                                 const int32_t *w_off, int32_t runs, int32_t n, int32_t oc_begin,
                                 int32_t oc_end, int8_t *out)
{
    const int32_t w_stride = p->k_h * p->k_w * p->filter_in_c;
    int32_t oc = oc_begin, r;
    for (; oc + 2 <= oc_end; oc += 2) {
        const int8_t *w0 = p->filter + oc * w_stride;
        int32_t acc0 = 0, acc1 = 0;
        for (r = 0; r < runs; ++r) {
            ac_dot2(in_img + in_off[r], w0 + w_off[r], w0 + w_stride + w_off[r], n, p->input_offset, 0,
                    &acc0, &acc1);
        }
        out[oc] = conv_finish(p, acc0, oc);
        out[oc + 1] = conv_finish(p, acc1, oc + 1);
    }
    if (oc < oc_end) {
        const int8_t *w0 = p->filter + oc * w_stride;
        int32_t acc0 = 0;
        for (r = 0; r < runs; ++r) {
            acc0 = ac_dot(in_img + in_off[r], w0 + w_off[r], n, p->input_offset, 0, acc0);
        }
        out[oc] = conv_finish(p, acc0, oc);
    }
}

/* Runs of taps are listed in small fixed arrays; taller kernels take the general path. */
#define AC_CONV_MAX_RUNS 16

/* Pointwise (1x1, ungrouped, no padding): the bulk of the MACs in inverted-residual networks.
 * Output pixels are taken two at a time and channels two at a time (ac_dot2x2), so each
 * loaded input word serves two weight rows and each weight word two pixels. */
static const int8_t *pointwise_pixel(const ac_conv_params *p, const int8_t *input, int32_t b, int32_t q)
{
    const int32_t oy = q / p->out_w, ox = q - oy * p->out_w;
    return input + ((b * p->in_h + oy * p->stride_h) * p->in_w + ox * p->stride_w) * p->in_c;
}

/* Pointwise output stage: channel `oc` at two pixels (the second store skipped for an odd
 * last pixel); the channel's parameters are loaded once for both. */
AC_INLINE void pointwise_out(const ac_conv_params *p, const int32_t *bias, int32_t acc0, int32_t acc1, int32_t oc,
                             int8_t *out0, int8_t *out1, int32_t two, int32_t fast)
{
    const ac_chan ch = conv_chan(p, bias, oc, fast);
    const int32_t zp = p->output_offset, lo = p->act_min, hi = p->act_max;
    out0[oc] = ac_chan_out(&ch, acc0, fast, zp, lo, hi);
    if (two) {
        out1[oc] = ac_chan_out(&ch, acc1, fast, zp, lo, hi);
    }
}

/* One pixel pair (two = 0: a single last pixel at x0, computed as a pair with itself). */
AC_INLINE void pointwise_pair(const ac_conv_params *p, const int8_t *x0, const int8_t *x1, int8_t *out0,
                              int32_t two, int32_t fast)
{
    const int32_t in_c = p->in_c, out_c = p->out_c;
    const int8_t *w = p->filter;
    int8_t *out1 = out0 + out_c;
    int32_t oc;
    /* Adjacent pixels with the input offset folded into the bias: raw bytes, no offset register. */
    const int32_t adjacent = two && p->folded_bias && x1 == x0 + in_c;
    const int32_t *bias = adjacent ? p->folded_bias : p->bias;
    for (oc = 0; oc + 2 <= out_c; oc += 2, w += 2 * in_c) {
        int32_t acc[4];
        if (adjacent) {
            ac_dot2x2_adjacent(x0, w, in_c, acc);
        } else {
            ac_dot2x2(x0, x1, w, w + in_c, in_c, p->input_offset, acc);
        }
        pointwise_out(p, bias, acc[0], acc[2], oc, out0, out1, two, fast);
        pointwise_out(p, bias, acc[1], acc[3], oc + 1, out0, out1, two, fast);
    }
    if (oc < out_c) {
        int32_t acc[4];
        ac_dot2x2(x0, x1, w, w, in_c, p->input_offset, acc);
        pointwise_out(p, p->bias, acc[0], acc[2], oc, out0, out1, two, fast);
    }
}

/* The common case: adjacent pixels, folded bias and a precomputed requantisation table
 * (rows {folded bias, multiplier, r, 2^(r-1)}, ac_requant_fast): every per-channel value comes
 * from one pointer, which keeps the output stage out of the stack. */
AC_INLINE void rq_store(const int32_t *q, int32_t acc, int8_t *out, int32_t lo, int32_t hi, int32_t full)
{
    /* The output zero point is folded into the rounding term: q[3] = 2^(r-1) + (zp << r). */
    const int32_t v = ac_requant_fast(acc + q[0], q[1], q[2], q[3]);
    *out = full ? ac_sat8(v) : ac_clamp_s8(v, lo, hi);
}

AC_INLINE void pointwise_pair_table(const ac_conv_params *p, const int8_t *x0, int8_t *out0, int32_t pre,
                                    int32_t full)
{
    const int32_t in_c = p->in_c, out_c = p->out_c;
    const int32_t lo = p->act_min, hi = p->act_max;
    const int32_t *q = p->requant;
    const int8_t *w = p->filter;
    int8_t *const end = out0 + (out_c & ~1);
    int8_t *o = out0;
#if AC_USE_DSP
    const int32_t *w16 = p->filter16;
#else
    (void)pre; /* the int16 weights exist for the DSP core only */
#endif
    for (; o != end; o += 2, w += 2 * in_c, q += 8) {
        int32_t acc[4];
#if AC_USE_DSP
        if (pre) {
            ac_dot2x2_pre(x0, w16, in_c, acc);
            w16 += in_c; /* in_c / 4 groups of 4 words per channel pair */
        } else {
            ac_dot2x2_adjacent(x0, w, in_c, acc);
        }
#else
        ac_dot2x2_adjacent(x0, w, in_c, acc);
#endif
        rq_store(q, acc[0], o, lo, hi, full);
        rq_store(q, acc[2], o + out_c, lo, hi, full);
        rq_store(q + 4, acc[1], o + 1, lo, hi, full);
        rq_store(q + 4, acc[3], o + 1 + out_c, lo, hi, full);
    }
    if (out_c & 1) {
        /* The odd last channel: one weight row, raw bytes, two pixels. */
        int32_t a0 = 0, a1 = 0, k;
        for (k = 0; k < in_c; ++k) {
            a0 += x0[k] * w[k];
            a1 += x0[in_c + k] * w[k];
        }
        rq_store(q, a0, o, lo, hi, full);
        rq_store(q, a1, o + out_c, lo, hi, full);
    }
}

/* Out of line, one copy per weight layout and clamp (each keeps its own register allocation). */
#if defined(__GNUC__)
#define AC_NOINLINE __attribute__((noinline))
#else
#define AC_NOINLINE
#endif
#define AC_PAIR_TABLE(name, pre, full)                                             \
    static AC_NOINLINE void name(const ac_conv_params *p, const int8_t *x0, int8_t *out0) \
    {                                                                              \
        pointwise_pair_table(p, x0, out0, pre, full);                              \
    }
AC_PAIR_TABLE(pair_table_int8_sat, 0, 1)
#if !AC_NET_FULL_RANGE
AC_PAIR_TABLE(pair_table_int8, 0, 0)
#endif
#if AC_USE_DSP
AC_PAIR_TABLE(pair_table_int16_sat, 1, 1)
#if !AC_NET_FULL_RANGE
AC_PAIR_TABLE(pair_table_int16, 1, 0)
#endif
#endif

/* The table core for a pixel pair: int16 weights where the generator stored them; the
 * saturating variant only when the network declares no other clamp (AC_NET_FULL_RANGE). */
AC_INLINE void pair_table(const ac_conv_params *p, const int8_t *x0, int8_t *out0, int32_t full)
{
#if AC_USE_DSP
    if (p->filter16) {
#if !AC_NET_FULL_RANGE
        if (!full) {
            pair_table_int16(p, x0, out0);
            return;
        }
#endif
        pair_table_int16_sat(p, x0, out0);
        return;
    }
#endif
#if !AC_NET_FULL_RANGE
    if (!full) {
        pair_table_int8(p, x0, out0);
        return;
    }
#endif
    (void)full;
    pair_table_int8_sat(p, x0, out0);
}

AC_INLINE void pointwise_loop(const ac_conv_params *params, const int8_t *input, int8_t *output, int32_t fast)
{
    /* A local copy: int8 stores may alias anything, which would reload every field. */
    const ac_conv_params local = *params;
    const ac_conv_params *p = &local;
    const int32_t out_c = p->out_c, pixels = p->out_h * p->out_w;
    const int32_t full = p->act_min == -128 && p->act_max == 127;
    int32_t b, q;
    for (b = 0; b < p->batches; ++b) {
        for (q = 0; q + 2 <= pixels; q += 2) {
            const int8_t *x0 = pointwise_pixel(p, input, b, q), *x1 = pointwise_pixel(p, input, b, q + 1);
            if (fast && p->requant && x1 == x0 + p->in_c && (full || !AC_NET_FULL_RANGE)) {
                pair_table(p, x0, output + (b * pixels + q) * out_c, full);
            } else {
                pointwise_pair(p, x0, x1, output + (b * pixels + q) * out_c, 1, fast);
            }
        }
        if (q < pixels) {
            const int8_t *x0 = pointwise_pixel(p, input, b, q);
            pointwise_pair(p, x0, x0, output + (b * pixels + q) * out_c, 0, fast);
        }
    }
}

/* Kept out of line: inlined into ac_conv2d it shares one register allocation with the general
 * path and its inner loop spills. Returns 0 when it left the layer to the general path. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int32_t conv_pointwise(const ac_conv_params *p, const int8_t *input, int8_t *output)
{
    /* The generator emits the table only when every channel qualifies for ac_requant_fast. */
    if (p->requant) {
        pointwise_loop(p, input, output, 1);
        return 1;
    }
#if AC_NET_TABLES
    return 0;
#else
    if (ac_requant_fast_ok(p->multiplier, p->shift, p->out_c)) {
        pointwise_loop(p, input, output, 1);
    } else {
        pointwise_loop(p, input, output, 0);
    }
    return 1;
#endif
}

#if AC_USE_DSP
/* Convolutions whose kernel rows are too short for the run-based loop (few input channels, e.g.
 * a stem conv on a 1-channel spectrogram): each output pixel's taps are gathered once as int16
 * (input + offset; 0 for taps outside the image, which equals skipping them), in the lane order
 * SXTB16 gives a weight word (bytes 0, 2 and 1, 3), then every channel pair is a short SMLAD
 * loop over the gathered words. The gather buffer is a small stack array. */
#define AC_CONV_MAX_GATHER 64

/* Kernel taps gathered for the output pixel at (y0, x0): K = k_h * k_w * fic values, packed as
 * buf[2g] = (t[4g], t[4g + 2]), buf[2g + 1] = (t[4g + 1], t[4g + 3]) for the full groups of 4
 * (conv_gather_loop packs the int16 slots into words); the K % 4 left over stay in order. */
static void gather_taps(const ac_conv_params *p, const int8_t *in_img, int32_t y0, int32_t x0, int16_t *t,
                        int32_t in_add, int32_t pad)
{
    const int32_t full = (p->k_h * p->k_w * p->filter_in_c) & ~3;
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
                t[slot] = (int16_t)(inside ? (int32_t)x[c] + in_add : pad);
            }
        }
    }
}

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

/* fast: 0 exact requantisation, 1 ac_requant_fast, 2 the generator's table (folded bias); full:
 * the activation range is all of int8 (SSAT). */
AC_INLINE void conv_gather_loop(const ac_conv_params *params, const int8_t *input, int8_t *output, int32_t fast,
                                int32_t full)
{
    const ac_conv_params local = *params;
    const ac_conv_params *p = &local;
    const int32_t taps = p->k_h * p->k_w * p->filter_in_c, groups = taps >> 2, out_c = p->out_c;
    const int32_t zp = p->output_offset, lo = p->act_min, hi = p->act_max;
    int32_t buf[AC_CONV_MAX_GATHER / 2];
    int16_t t16[AC_CONV_MAX_GATHER];
    int32_t b, oy, ox, oc, g;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_img = input + b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox) {
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * out_c;
                const int8_t *w = p->filter;
                /* With the table (folded bias: the offset of every tap already in the bias) the
                 * taps are raw bytes and taps outside the image the input zero point, whose
                 * (zp + offset) * w is 0: the same sum as skipping them. */
                gather_taps(p, in_img, oy * p->stride_h - p->pad_top, ox * p->stride_w - p->pad_left, t16,
                            fast == 2 ? 0 : p->input_offset, fast == 2 ? -p->input_offset : 0);
                for (g = 0; g < groups * 2; ++g) {
                    buf[g] = (int32_t)(((uint32_t)(uint16_t)t16[2 * g + 1] << 16) | (uint16_t)t16[2 * g]);
                }
                for (oc = 0; oc < out_c; oc += 2) {
                    /* An odd last channel runs as a pair with itself and is stored once. */
                    const int32_t two = oc + 1 < out_c;
                    const int8_t *w0 = w + oc * taps;
                    int32_t a0, a1;
                    gather_dot2(buf, t16, w0, two ? w0 + taps : w0, groups, taps, &a0, &a1);
                    if (fast == 2) {
                        const int32_t *q = p->requant + 4 * oc;
                        const int32_t v0 = ac_requant_fast(a0 + q[0], q[1], q[2], q[3]);
                        out[oc] = full ? ac_sat8(v0) : ac_clamp_s8(v0, lo, hi);
                        if (two) {
                            const int32_t v1 = ac_requant_fast(a1 + q[4], q[5], q[6], q[7]);
                            out[oc + 1] = full ? ac_sat8(v1) : ac_clamp_s8(v1, lo, hi);
                        }
                        continue;
                    }
                    {
                        const ac_chan c0 = ac_chan_load(p->bias, p->multiplier, p->shift, oc, fast);
                        out[oc] = ac_chan_out(&c0, a0, fast, zp, lo, hi);
                    }
                    if (two) {
                        const ac_chan c1 = ac_chan_load(p->bias, p->multiplier, p->shift, oc + 1, fast);
                        out[oc + 1] = ac_chan_out(&c1, a1, fast, zp, lo, hi);
                    }
                }
            }
        }
    }
}

#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int32_t conv_gather(const ac_conv_params *p, const int8_t *input, int8_t *output)
{
    if (p->requant && p->act_min == -128 && p->act_max == 127) {
        conv_gather_loop(p, input, output, 2, 1);
        return 1;
    }
#if !AC_NET_FULL_RANGE
    if (p->requant) {
        conv_gather_loop(p, input, output, 2, 0);
        return 1;
    }
#endif
#if AC_NET_TABLES
    return 0; /* a variant this network does not declare: the general path */
#else
    if (ac_requant_fast_ok(p->multiplier, p->shift, p->out_c)) {
        conv_gather_loop(p, input, output, 1, 0);
    } else {
        conv_gather_loop(p, input, output, 0, 0);
    }
    return 1;
#endif
}
#endif

void ac_conv2d(const ac_conv_params *params, const int8_t *input, int8_t *output)
{
    const ac_conv_params p = *params;
    const int32_t fic = p.filter_in_c;
    const int32_t groups = p.in_c / fic;
    const int32_t per_group = p.out_c / groups;
    /* Whole kernel rows are contiguous runs when not grouped and not dilated along x. */
    const int32_t row_runs = (p.dil_w == 1 && groups == 1);
    int32_t b, oy, ox;
    if (p.k_h == 1 && p.k_w == 1 && groups == 1 && p.pad_top == 0 && p.pad_left == 0 &&
        (p.out_h - 1) * p.stride_h < p.in_h && (p.out_w - 1) * p.stride_w < p.in_w &&
        conv_pointwise(&p, input, output)) {
        return;
    }
#if AC_USE_DSP
    /* Short kernel rows (under 8 bytes of contiguous input per row): gather the taps instead. */
    if (groups == 1 && fic * p.k_w < 8 && p.k_h * p.k_w * fic <= AC_CONV_MAX_GATHER &&
        conv_gather(&p, input, output)) {
        return;
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
                        if (n <= 0) {
                            runs = 0;
                        } else {
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
                    if (row_runs && runs < AC_CONV_MAX_RUNS) {
                        conv_channels(&p, in_img, in_off, w_off, runs, n, g * per_group, (g + 1) * per_group, out);
                        continue;
                    }
                    /* General case (grouped, dilated along x, or kernels taller than
                     * AC_CONV_MAX_RUNS rows): one dot product per in-image tap. */
                    {
                        int32_t oc;
                        for (oc = g * per_group; oc < (g + 1) * per_group; ++oc) {
                            const int8_t *w0 = p.filter + oc * p.k_h * p.k_w * fic;
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
                            out[oc] = conv_finish(&p, acc, oc);
                        }
                    }
                }
            }
        }
    }
}
