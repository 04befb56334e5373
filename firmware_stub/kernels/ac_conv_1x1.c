/* Pointwise CONV_2D int8 (1x1, ungrouped, no padding) from the generator's requantisation table
 * (ac_kernels.h): the bulk of the MACs in inverted-residual networks. Output pixels are taken
 * two at a time and channels two at a time (ac_dot.h's 2x2 cores), so each loaded input word
 * serves two weight rows and each weight word two pixels. The input offset is folded into the
 * table's bias, so the taps are raw bytes; every per-channel value comes from one table row,
 * which keeps the output stage out of the stack.
 *
 * Variants: stride 1 (the two pixels adjacent in memory: one pointer, ac_dot2x2_adjacent), with
 * the weights pre-extended to int16 on the DSP core (_w16), each with a clamp or SSAT (_sat:
 * the clamp is all of int8); any stride (_strided).
 */
#include "ac_kernels.h"

#include "ac_dot.h"
#include "ac_fixedpoint.h"

/* With Helium the same functions come from ac_conv_1x1_mve.c. */
#if !AC_USE_MVE

/* One output: the output zero point is folded into the rounding term q[3] = 2^(r-1) + (zp << r). */
AC_INLINE void rq_store(const int32_t *q, int32_t acc, int8_t *out, int32_t lo, int32_t hi, int32_t full)
{
    const int32_t v = ac_requant_fast(acc + q[0], q[1], q[2], q[3]);
    *out = full ? ac_sat8(v) : ac_clamp_s8(v, lo, hi);
}

/* Adjacent pixels x0 and x0 + in_c, every channel pair (pre: int16 weights from w16). */
AC_INLINE void pair_adjacent(const ac_conv_table_params *p, const int32_t *w16, const int8_t *x0, int8_t *out0,
                             int32_t pre, int32_t full)
{
    const int32_t in_c = p->g.in_c, out_c = p->g.out_c;
    const int32_t lo = p->g.act_min, hi = p->g.act_max;
    const int32_t *q = p->requant;
    const int8_t *w = p->filter;
    int8_t *const end = out0 + (out_c & ~1);
    int8_t *o = out0;
#if !AC_USE_DSP
    (void)w16; /* the int16 weights exist for the DSP core only */
    (void)pre;
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

/* One pixel alone (the odd last pixel), every channel, plain clamp. */
static void pixel_single(const ac_conv_table_params *p, const int8_t *x0, int8_t *out)
{
    const int32_t in_c = p->g.in_c;
    int32_t oc;
    for (oc = 0; oc < p->g.out_c; ++oc) {
        const int32_t acc = ac_dot(x0, p->filter + oc * in_c, in_c, 0, 0, 0);
        rq_store(p->requant + 4 * oc, acc, out + oc, p->g.act_min, p->g.act_max, 0);
    }
}

/* Out of line, one copy per weight layout and clamp (each keeps its own register allocation). */
#define AC_PAIR_ADJACENT(name, pre, full)                                                                  \
    static AC_NOINLINE void name(const ac_conv_table_params *p, const int32_t *w16, const int8_t *x0,     \
                                 int8_t *out0)                                                            \
    {                                                                                                     \
        pair_adjacent(p, w16, x0, out0, pre, full);                                                       \
    }
AC_PAIR_ADJACENT(pair_int8, 0, 0)
AC_PAIR_ADJACENT(pair_int8_sat, 0, 1)
#if AC_USE_DSP
AC_PAIR_ADJACENT(pair_int16, 1, 0)
AC_PAIR_ADJACENT(pair_int16_sat, 1, 1)
#endif

typedef void (*ac_pair_fn)(const ac_conv_table_params *, const int32_t *, const int8_t *, int8_t *);

/* Stride 1: pixel q's input is at q * in_c, so consecutive pixels are adjacent. */
AC_INLINE void adjacent_loop(const ac_conv_table_params *params, const int32_t *w16, const int8_t *input,
                             int8_t *output, ac_pair_fn pair)
{
    /* A local copy: int8 stores may alias anything, which would reload every field. */
    const ac_conv_table_params local = *params;
    const ac_conv_table_params *p = &local;
    const int32_t in_c = p->g.in_c, out_c = p->g.out_c, pixels = p->g.out_h * p->g.out_w;
    int32_t b, q;
    for (b = 0; b < p->g.batches; ++b) {
        for (q = 0; q + 2 <= pixels; q += 2) {
            pair(p, w16, input + (b * pixels + q) * in_c, output + (b * pixels + q) * out_c);
        }
        if (q < pixels) {
            pixel_single(p, input + (b * pixels + q) * in_c, output + (b * pixels + q) * out_c);
        }
    }
}

void ac_conv2d_1x1_tables(const ac_conv_table_params *p, const int8_t *input, int8_t *output)
{
    adjacent_loop(p, 0, input, output, pair_int8);
}

void ac_conv2d_1x1_tables_sat(const ac_conv_table_params *p, const int8_t *input, int8_t *output)
{
    adjacent_loop(p, 0, input, output, pair_int8_sat);
}

#if AC_USE_DSP
void ac_conv2d_1x1_tables_w16(const ac_conv_w16_params *p, const int8_t *input, int8_t *output)
{
    adjacent_loop(&p->t, p->filter16, input, output, pair_int16);
}

void ac_conv2d_1x1_tables_w16_sat(const ac_conv_w16_params *p, const int8_t *input, int8_t *output)
{
    adjacent_loop(&p->t, p->filter16, input, output, pair_int16_sat);
}
#endif

/* Any stride: two pixels anywhere in the input (two = 0: x1 is x0, stored once). */
AC_INLINE void pair_strided(const ac_conv_table_params *p, const int8_t *x0, const int8_t *x1, int8_t *out0,
                            int8_t *out1, int32_t two)
{
    const int32_t in_c = p->g.in_c, out_c = p->g.out_c;
    const int32_t lo = p->g.act_min, hi = p->g.act_max;
    const int8_t *w = p->filter;
    int32_t oc;
    for (oc = 0; oc < out_c; oc += 2, w += 2 * in_c) {
        const int32_t *q = p->requant + 4 * oc;
        const int32_t pair = oc + 1 < out_c;
        int32_t acc[4];
        ac_dot2x2(x0, x1, w, pair ? w + in_c : w, in_c, 0, acc);
        rq_store(q, acc[0], out0 + oc, lo, hi, 0);
        if (two) {
            rq_store(q, acc[2], out1 + oc, lo, hi, 0);
        }
        if (pair) {
            rq_store(q + 4, acc[1], out0 + oc + 1, lo, hi, 0);
            if (two) {
                rq_store(q + 4, acc[3], out1 + oc + 1, lo, hi, 0);
            }
        }
    }
}

static const int8_t *strided_pixel(const ac_conv_geom *g, const int8_t *input, int32_t b, int32_t q)
{
    const int32_t oy = q / g->out_w, ox = q - oy * g->out_w;
    return input + ((b * g->in_h + oy * g->stride_h) * g->in_w + ox * g->stride_w) * g->in_c;
}

void ac_conv2d_1x1_strided_tables(const ac_conv_table_params *params, const int8_t *input, int8_t *output)
{
    const ac_conv_table_params local = *params;
    const ac_conv_table_params *p = &local;
    const int32_t out_c = p->g.out_c, pixels = p->g.out_h * p->g.out_w;
    int32_t b, q;
    for (b = 0; b < p->g.batches; ++b) {
        for (q = 0; q + 2 <= pixels; q += 2) {
            int8_t *out = output + (b * pixels + q) * out_c;
            pair_strided(p, strided_pixel(&p->g, input, b, q), strided_pixel(&p->g, input, b, q + 1), out,
                         out + out_c, 1);
        }
        if (q < pixels) {
            const int8_t *x0 = strided_pixel(&p->g, input, b, q);
            pair_strided(p, x0, x0, output + (b * pixels + q) * out_c, 0, 0);
        }
    }
}
#else
/* ISO C forbids an empty translation unit. */
typedef int ac_conv_1x1_unused;
#endif
