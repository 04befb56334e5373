/* CONV_2D int8 over index-compressed weights (deploy/ops/sparse_weights.py): per output channel
 * only the non-zero weights, each with its tap index in the channel's [k_h][k_w][in_c] filter
 * (uint8: the generator emits the format only for layers with at most 256 taps per channel).
 * A skipped zero contributes exactly nothing to TFLM's sum, so the result is bit-exact.
 *
 * The input offset is folded into the table's bias (bias + input_offset * sum of the channel's
 * non-zeros), so the taps are raw input bytes; two output pixels share each index and weight
 * load: per non-zero 2 byte loads (index, weight), 2 input loads and 2 MLAs for 2 MACs. On the
 * Cortex-M4/M7 a SMLAD pair would cost as much (the two gathered input bytes and the two weights
 * each need a PKHBT), so the DSP build runs the same loop.
 *
 * Variants: 1x1 without padding, any stride (the pixel's input channels are the taps, read in
 * place); any other ungrouped conv with at most 256 taps per channel (each pixel's taps are
 * gathered into a stack buffer first, a tap outside the image read as the input zero point, whose
 * product is cancelled by the folded bias exactly as in ac_conv2d_gather_tables).
 */
#include "ac_kernels.h"

#include "ac_fixedpoint.h"

#define AC_SPARSE_MAX_TAPS 256

/* Every output channel for two pixels whose taps are at x0 and x1 (x1 == x0 and two == 0 for an
 * odd last pixel). */
AC_INLINE void sparse_pair(const ac_conv_sparse_params *p, const int8_t *x0, const int8_t *x1, int8_t *o0,
                           int8_t *o1, int32_t two)
{
    const int32_t out_c = p->t.g.out_c, lo = p->t.g.act_min, hi = p->t.g.act_max;
    const uint16_t *cnt = p->count;
    const uint8_t *idx = p->index;
    const int8_t *val = p->value;
    const int32_t *q = p->t.requant;
    int32_t oc;
    for (oc = 0; oc < out_c; ++oc, q += 4) {
        int32_t a0 = 0, a1 = 0;
        const uint8_t *const end = idx + cnt[oc];
        if (cnt[oc] & 1) {
            const int32_t w = *val++, k = *idx++;
            a0 += x0[k] * w;
            a1 += x1[k] * w;
        }
        while (idx != end) {
            const int32_t w = val[0], k = idx[0], v = val[1], j = idx[1];
            a0 += x0[k] * w;
            a1 += x1[k] * w;
            a0 += x0[j] * v;
            a1 += x1[j] * v;
            val += 2, idx += 2;
        }
        o0[oc] = ac_clamp_s8(ac_requant_fast(a0 + q[0], q[1], q[2], q[3]), lo, hi);
        if (two) {
            o1[oc] = ac_clamp_s8(ac_requant_fast(a1 + q[0], q[1], q[2], q[3]), lo, hi);
        }
    }
}

static AC_NOINLINE void sparse_pair_out(const ac_conv_sparse_params *p, const int8_t *x0, const int8_t *x1,
                                        int8_t *o0, int8_t *o1, int32_t two)
{
    sparse_pair(p, x0, x1, o0, o1, two);
}

static const int8_t *pixel_1x1(const ac_conv_geom *g, const int8_t *input, int32_t b, int32_t q)
{
    const int32_t oy = q / g->out_w, ox = q - oy * g->out_w;
    return input + ((b * g->in_h + oy * g->stride_h) * g->in_w + ox * g->stride_w) * g->in_c;
}

void ac_conv2d_sparse_1x1(const ac_conv_sparse_params *params, const int8_t *input, int8_t *output)
{
    /* A local copy: int8 stores may alias anything, which would reload every field. */
    const ac_conv_sparse_params local = *params;
    const ac_conv_sparse_params *p = &local;
    const int32_t out_c = p->t.g.out_c, pixels = p->t.g.out_h * p->t.g.out_w;
    int32_t b, q;
    for (b = 0; b < p->t.g.batches; ++b) {
        for (q = 0; q + 2 <= pixels; q += 2) {
            int8_t *out = output + (b * pixels + q) * out_c;
            sparse_pair_out(p, pixel_1x1(&p->t.g, input, b, q), pixel_1x1(&p->t.g, input, b, q + 1), out,
                            out + out_c, 1);
        }
        if (q < pixels) {
            const int8_t *x0 = pixel_1x1(&p->t.g, input, b, q);
            int8_t *out = output + (b * pixels + q) * out_c;
            sparse_pair_out(p, x0, x0, out, out, 0);
        }
    }
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

void ac_conv2d_sparse_gather(const ac_conv_sparse_params *params, const int8_t *input, int8_t *output)
{
    const ac_conv_sparse_params local = *params;
    const ac_conv_sparse_params *p = &local;
    const ac_conv_geom *g = &p->t.g;
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
            sparse_pair_out(p, t0, two ? t1 : t0, out, out + out_c, two);
        }
    }
}
