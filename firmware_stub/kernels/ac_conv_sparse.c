/* CONV_2D int8 over index-compressed weights (deploy/ops/sparse_weights.py): per output channel
 * only the non-zero weights (in pairs), each with its tap index in the channel's [k_h][k_w][in_c] filter
 * (uint8: the generator emits the format only for layers with at most 256 taps per channel).
 * A skipped zero contributes exactly nothing to TFLM's sum, so the result is bit-exact.
 *
 * The input offset is folded into the table's bias (bias + input_offset * sum of the channel's
 * non-zeros), so the taps are raw input bytes; two output pixels share each index and weight
 * load: per non-zero 2 byte loads (index, weight), 2 input loads and 2 MLAs for 2 MACs. On the
 * Cortex-M4/M7 a SMLAD pair would cost as much (the two gathered input bytes and the two weights
 * each need a PKHBT), so the DSP build runs the same loop.
 *
 * Variants (each also _sat: the clamp is all of int8): 1x1 without padding, any stride (the pixel's input channels are the taps, read in
 * place); any other ungrouped conv with at most 256 taps per channel (each pixel's taps are
 * gathered into a stack buffer first, a tap outside the image read as the input zero point, whose
 * product is cancelled by the folded bias exactly as in ac_conv2d_gather_tables).
 */
#include "ac_kernels.h"

#include "ac_fixedpoint.h"

#define AC_SPARSE_MAX_TAPS 256

/* Every output channel for two pixels whose taps are at x0 and x1, outputs at o0 and o0 + d (an
 * odd last pixel: x1 == x0 and d == 0, the same value stored twice). One pass over the entry
 * stream: per channel the row {bias', multiplier, r | (pairs << 8), rounding} and `pairs` groups
 * of 4 bytes (index, index, value, value). The accumulators start at bias'. full: the clamp is
 * all of int8 (SSAT). */
AC_INLINE void sparse_pair(const ac_conv_sparse_params *p, const int8_t *x0, const int8_t *x1, int8_t *o0,
                           int32_t d, int32_t full)
{
    const int32_t lo = p->g.act_min, hi = p->g.act_max;
    const uint8_t *e = p->entries;
    const int32_t *q = p->requant;
    int8_t *const last = o0 + p->g.out_c;
    for (; o0 != last; ++o0, q += 4) {
        int32_t a0 = q[0], a1 = q[0];
        const uint32_t rn = (uint32_t)q[2];
        const uint8_t *const end = e + 4 * (rn >> 8);
        while (e != end) {
            const int32_t k = e[0], j = e[1], w = (int8_t)e[2], v = (int8_t)e[3];
            a0 += x0[k] * w;
            a1 += x1[k] * w;
            a0 += x0[j] * v;
            a1 += x1[j] * v;
            e += 4;
        }
        {
            const int32_t r = (int32_t)(rn & 0xFFu);
            const int32_t r0 = ac_requant_fast(a0, q[1], r, q[3]);
            const int32_t r1 = ac_requant_fast(a1, q[1], r, q[3]);
            o0[0] = full ? ac_sat8(r0) : ac_clamp_s8(r0, lo, hi);
            o0[d] = full ? ac_sat8(r1) : ac_clamp_s8(r1, lo, hi);
        }
    }
}

/* Four pixels (x[0..3], outputs at o0 + i * d): each index and weight load serves four MACs. */
AC_INLINE void sparse_quad(const ac_conv_sparse_params *p, const int8_t *x0, const int8_t *x1, const int8_t *x2,
                           const int8_t *x3, int8_t *o0, int32_t d, int32_t full)
{
    const int32_t lo = p->g.act_min, hi = p->g.act_max;
    const uint8_t *e = p->entries;
    const int32_t *q = p->requant;
    int8_t *const last = o0 + p->g.out_c;
    for (; o0 != last; ++o0, q += 4) {
        int32_t a0 = q[0], a1 = q[0], a2 = q[0], a3 = q[0];
        const uint32_t rn = (uint32_t)q[2];
        const uint8_t *const end = e + 4 * (rn >> 8);
        while (e != end) {
            int32_t k = e[0], w = (int8_t)e[2];
            a0 += x0[k] * w;
            a1 += x1[k] * w;
            a2 += x2[k] * w;
            a3 += x3[k] * w;
            k = e[1], w = (int8_t)e[3];
            a0 += x0[k] * w;
            a1 += x1[k] * w;
            a2 += x2[k] * w;
            a3 += x3[k] * w;
            e += 4;
        }
        {
            const int32_t r = (int32_t)(rn & 0xFFu), m = q[1], rnd = q[3];
            const int32_t r0 = ac_requant_fast(a0, m, r, rnd), r1 = ac_requant_fast(a1, m, r, rnd);
            const int32_t r2 = ac_requant_fast(a2, m, r, rnd), r3 = ac_requant_fast(a3, m, r, rnd);
            o0[0] = full ? ac_sat8(r0) : ac_clamp_s8(r0, lo, hi);
            o0[d] = full ? ac_sat8(r1) : ac_clamp_s8(r1, lo, hi);
            o0[2 * d] = full ? ac_sat8(r2) : ac_clamp_s8(r2, lo, hi);
            o0[3 * d] = full ? ac_sat8(r3) : ac_clamp_s8(r3, lo, hi);
        }
    }
}

static AC_NOINLINE void quad_clamp(const ac_conv_sparse_params *p, const int8_t *const *x, int8_t *o0, int32_t d)
{
    sparse_quad(p, x[0], x[1], x[2], x[3], o0, d, 0);
}

static AC_NOINLINE void quad_sat(const ac_conv_sparse_params *p, const int8_t *const *x, int8_t *o0, int32_t d)
{
    sparse_quad(p, x[0], x[1], x[2], x[3], o0, d, 1);
}

typedef void (*ac_sparse_quad_fn)(const ac_conv_sparse_params *, const int8_t *const *, int8_t *, int32_t);

static AC_NOINLINE void pair_clamp(const ac_conv_sparse_params *p, const int8_t *x0, const int8_t *x1, int8_t *o0,
                                   int32_t d)
{
    sparse_pair(p, x0, x1, o0, d, 0);
}

static AC_NOINLINE void pair_sat(const ac_conv_sparse_params *p, const int8_t *x0, const int8_t *x1, int8_t *o0,
                                 int32_t d)
{
    sparse_pair(p, x0, x1, o0, d, 1);
}

typedef void (*ac_sparse_pair_fn)(const ac_conv_sparse_params *, const int8_t *, const int8_t *, int8_t *, int32_t);

static const int8_t *pixel_1x1(const ac_conv_geom *g, const int8_t *input, int32_t b, int32_t q)
{
    const int32_t oy = q / g->out_w, ox = q - oy * g->out_w;
    return input + ((b * g->in_h + oy * g->stride_h) * g->in_w + ox * g->stride_w) * g->in_c;
}

AC_INLINE void loop_1x1(const ac_conv_sparse_params *params, const int8_t *input, int8_t *output,
                         ac_sparse_quad_fn quad, ac_sparse_pair_fn pair)
{
    /* A local copy: int8 stores may alias anything, which would reload every field. */
    const ac_conv_sparse_params local = *params;
    const ac_conv_sparse_params *p = &local;
    const int32_t out_c = p->g.out_c, pixels = p->g.out_h * p->g.out_w;
    int32_t b, q;
    for (b = 0; b < p->g.batches; ++b) {
        for (q = 0; q + 4 <= pixels; q += 4) {
            const int8_t *x[4];
            x[0] = pixel_1x1(&p->g, input, b, q);
            x[1] = pixel_1x1(&p->g, input, b, q + 1);
            x[2] = pixel_1x1(&p->g, input, b, q + 2);
            x[3] = pixel_1x1(&p->g, input, b, q + 3);
            quad(p, x, output + (b * pixels + q) * out_c, out_c);
        }
        for (; q + 2 <= pixels; q += 2) {
            pair(p, pixel_1x1(&p->g, input, b, q), pixel_1x1(&p->g, input, b, q + 1), output + (b * pixels + q) * out_c,
                 out_c);
        }
        if (q < pixels) {
            const int8_t *x0 = pixel_1x1(&p->g, input, b, q);
            pair(p, x0, x0, output + (b * pixels + q) * out_c, 0);
        }
    }
}

void ac_conv2d_sparse_1x1(const ac_conv_sparse_params *p, const int8_t *input, int8_t *output)
{
    loop_1x1(p, input, output, quad_clamp, pair_clamp);
}

void ac_conv2d_sparse_1x1_sat(const ac_conv_sparse_params *p, const int8_t *input, int8_t *output)
{
    loop_1x1(p, input, output, quad_sat, pair_sat);
}

/* The taps of the output pixel at (y0, x0) in filter order; outside the image: the zero point. */
static void gather(const ac_conv_geom *g, const int8_t *img, int32_t y0, int32_t x0, int8_t *t)
{
    const int8_t pad = (int8_t)-g->input_offset;
    int32_t ky, kx, c, k = 0;
    for (ky = 0; ky < g->k_h; ++ky) {
        const int32_t iy = y0 + ky * g->dil_h;
        for (kx = 0; kx < g->k_w; ++kx) {
            const int32_t ix = x0 + kx * g->dil_w;
            if (iy >= 0 && iy < g->in_h && ix >= 0 && ix < g->in_w) {
                const int8_t *x = img + (iy * g->in_w + ix) * g->in_c;
                for (c = 0; c < g->in_c; ++c) {
                    t[k++] = x[c];
                }
            } else {
                for (c = 0; c < g->in_c; ++c) {
                    t[k++] = pad;
                }
            }
        }
    }
}

AC_INLINE void loop_gather(const ac_conv_sparse_params *params, const int8_t *input, int8_t *output,
                            ac_sparse_pair_fn pair)
{
    const ac_conv_sparse_params local = *params;
    const ac_conv_sparse_params *p = &local;
    const ac_conv_geom *g = &p->g;
    const int32_t out_c = g->out_c, pixels = g->out_h * g->out_w;
    int8_t t0[AC_SPARSE_MAX_TAPS], t1[AC_SPARSE_MAX_TAPS];
    int32_t b, q;
    for (b = 0; b < g->batches; ++b) {
        const int8_t *img = input + b * g->in_h * g->in_w * g->in_c;
        for (q = 0; q < pixels; q += 2) {
            const int32_t oy = q / g->out_w, ox = q - oy * g->out_w;
            const int32_t two = q + 1 < pixels;
            int8_t *out = output + (b * pixels + q) * out_c;
            gather(g, img, oy * g->stride_h - g->pad_top, ox * g->stride_w - g->pad_left, t0);
            if (two) {
                const int32_t py = (q + 1) / g->out_w, px = q + 1 - py * g->out_w;
                gather(g, img, py * g->stride_h - g->pad_top, px * g->stride_w - g->pad_left, t1);
            }
            pair(p, t0, two ? t1 : t0, out, two ? out_c : 0);
        }
    }
}

void ac_conv2d_sparse_gather(const ac_conv_sparse_params *p, const int8_t *input, int8_t *output)
{
    loop_gather(p, input, output, pair_clamp);
}

void ac_conv2d_sparse_gather_sat(const ac_conv_sparse_params *p, const int8_t *input, int8_t *output)
{
    loop_gather(p, input, output, pair_sat);
}
