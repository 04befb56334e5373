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
 *
 * On the DSP core, stride 1 with in_c a multiple of 4 (8..AC_1X1_QUAD_MAX_IN) takes four pixels
 * at a time instead (quad_*): their input is sign-extended once into int16 pairs on the stack, so
 * each output channel's pass over it costs, per 16 MACs, one weight load, two SXTB16 (none with
 * int16 weights), two LDMs of four pixel words and eight SMLADs; the requantisation row is loaded
 * once for the four outputs, and the bias seeds the accumulators.
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

#if AC_USE_DSP
/* Widest input of the four-pixel path: its int16 copy of four pixels is 8 * in_c bytes of stack. */
#define AC_1X1_QUAD_MAX_IN 256

/* Four adjacent pixels' input (in_c bytes apart) as int16 pairs, for each 4 input bytes the
 * words (pixel 0 bytes 0|2, pixel 0 bytes 1|3, pixel 1 ..., pixel 3 bytes 1|3): the SXTB16 order
 * of a weight word, so one LDM brings two pixels' operands. */
static void quad_widen(const int8_t *x, int32_t in_c, int32_t *buf)
{
    const int8_t *const end = x + in_c;
    for (; x != end; x += 4, buf += 8) {
        const int32_t v0 = ac_load4(x), v1 = ac_load4(x + in_c);
        const int32_t v2 = ac_load4(x + 2 * in_c), v3 = ac_load4(x + 3 * in_c);
        buf[0] = ac_sxtb16(v0);
        buf[1] = ac_sxtb16_ror8(v0);
        buf[2] = ac_sxtb16(v1);
        buf[3] = ac_sxtb16_ror8(v1);
        buf[4] = ac_sxtb16(v2);
        buf[5] = ac_sxtb16_ror8(v2);
        buf[6] = ac_sxtb16(v3);
        buf[7] = ac_sxtb16_ror8(v3);
    }
}

#if defined(__GNUC__) && !defined(AC_DSP_EMULATE) && defined(__OPTIMIZE__)
/* One output channel over the four pixels in assembly: gcc's own schedule of this loop hoists
 * loads and spills accumulators. The LDMs fill r4, r5, r6, r8 in that order (a register list is
 * loaded in ascending order, so those are named, not allocated). Weights: one int8 word of the row
 * and its two SXTB16 halves, or the int16 words (row stride 16 bytes in the _w16 layout). */
#define AC_Q_W8_ "ldr %[wv], [%[w]], #4\n\tsxtb16 %[wb], %[wv], ror #8\n\tsxtb16 %[wv], %[wv]\n\t"
#define AC_Q_W16_ "ldrd %[wv], %[wb], [%[w]], #16\n\t"
#define AC_Q_MACS_(A0, A1, A2, A3)                                                                 \
    "ldm %[x]!, {r4, r5, r6, r8}\n\t"                                                              \
    "smlad %[a0], r4, %[wv], " A0 "\n\tsmlad %[a0], r5, %[wb], %[a0]\n\t"                          \
    "smlad %[a1], r6, %[wv], " A1 "\n\tsmlad %[a1], r8, %[wb], %[a1]\n\t"                          \
    "ldm %[x]!, {r4, r5, r6, r8}\n\t"                                                              \
    "smlad %[a2], r4, %[wv], " A2 "\n\tsmlad %[a2], r5, %[wb], %[a2]\n\t"                          \
    "smlad %[a3], r6, %[wv], " A3 "\n\tsmlad %[a3], r8, %[wb], %[a3]\n\t"
/* a3 comes in as the bias: the first step adds every pixel's products to it (a3's own last).
 * Then two steps per loop iteration; an even step count (the first step leaves an odd number)
 * enters at the second (bit 5 of end - x: 32 bytes per step). */
#define AC_Q_DOT(W, a0, a1, a2, a3, xp, wp, endp)                                                  \
    do {                                                                                           \
        int32_t wv_, wb_;                                                                          \
        __asm__ volatile("sub %[wv], %[end], %[x]\n\t"                                             \
                         "tst %[wv], #32\n\t" W AC_Q_MACS_("%[a3]", "%[a3]", "%[a3]", "%[a3]")     \
                         "beq 2f\n"                                                                \
                         "1:\n\t" W AC_Q_MACS_("%[a0]", "%[a1]", "%[a2]", "%[a3]")                 \
                         "2:\n\t" W AC_Q_MACS_("%[a0]", "%[a1]", "%[a2]", "%[a3]")                 \
                         "cmp %[x], %[end]\n\t"                                                    \
                         "bne 1b"                                                                  \
                         : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "+&r"(a3),         \
                           [x] "+&r"(xp), [w] "+&r"(wp), [wv] "=&r"(wv_), [wb] "=&r"(wb_)          \
                         : [end] "r"(endp)                                                         \
                         : "r4", "r5", "r6", "r8", "cc", "memory");                                \
    } while (0)
/* ac_requant_fast(acc, m, r, rnd) with the row in registers (as AC_DW_REQUANT in
 * ac_depthwise_dsp.c, which derives the rounding words). */
#define AC_Q_REQUANT(dst, accv, m, r, rnd)                                                         \
    do {                                                                                           \
        int32_t lo_;                                                                               \
        __asm__("and %[lo], %[x], #0x80000000\n\t"                                                 \
                "orr %[lo], %[lo], #0x40000000\n\t"                                                \
                "add %[v], %[rnd], %[x], asr #31\n\t"                                              \
                "smlal %[lo], %[v], %[x], %[m]\n\t"                                                \
                "asr %[v], %[v], %[r]"                                                             \
                : [v] "=&r"(dst), [lo] "=&r"(lo_)                                                  \
                : [x] "r"(accv), [m] "r"(m), [r] "r"(r), [rnd] "r"(rnd));                          \
    } while (0)
#define AC_Q_DOT_W8(a0, a1, a2, a3, xp, wp, endp) AC_Q_DOT(AC_Q_W8_, a0, a1, a2, a3, xp, wp, endp)
#define AC_Q_DOT_W16(a0, a1, a2, a3, xp, wp, endp) AC_Q_DOT(AC_Q_W16_, a0, a1, a2, a3, xp, wp, endp)
/* The four pixels' bytes of one channel: out[0], out[s], out[2s], out[3s] from one pointer and the
 * stride (in C gcc keeps four pointers and spills them around the dot-product block). */
#define AC_Q_STORE4(po, ps, v0, v1, v2, v3)                                                          \
    do {                                                                                           \
        int8_t *t_;                                                                                \
        __asm__ volatile("strb %[a], [%[o]]\n\t"                                                   \
                         "strb %[b], [%[o], %[s]]\n\t"                                             \
                         "add %[t], %[o], %[s], lsl #1\n\t"                                        \
                         "strb %[c], [%[t]]\n\t"                                                   \
                         "strb %[d], [%[t], %[s]]"                                                 \
                         : [t] "=&r"(t_)                                                           \
                         : [o] "r"(po), [s] "r"(ps), [a] "r"(v0), [b] "r"(v1), [c] "r"(v2), [d] "r"(v3) \
                         : "memory");                                                              \
    } while (0)
#else
/* The same in C (host emulation, other compilers, unoptimised builds). */
AC_INLINE void quad_dot_c(int32_t *a0, int32_t *a1, int32_t *a2, int32_t *a3, const int32_t *x,
                          const void *w, const int32_t *end, int32_t pre)
{
    const int8_t *w8 = (const int8_t *)w;
    const int32_t *w16 = (const int32_t *)w;
    int32_t b0 = *a3, b1 = *a3, b2 = *a3, b3 = *a3;
    for (; x != end; x += 8) {
        int32_t wa, wb;
        if (pre) {
            wa = w16[0];
            wb = w16[1];
            w16 += 4;
        } else {
            const int32_t v = ac_load4(w8);
            wa = ac_sxtb16(v);
            wb = ac_sxtb16_ror8(v);
            w8 += 4;
        }
        b0 = ac_smlad(x[1], wb, ac_smlad(x[0], wa, b0));
        b1 = ac_smlad(x[3], wb, ac_smlad(x[2], wa, b1));
        b2 = ac_smlad(x[5], wb, ac_smlad(x[4], wa, b2));
        b3 = ac_smlad(x[7], wb, ac_smlad(x[6], wa, b3));
    }
    *a0 = b0;
    *a1 = b1;
    *a2 = b2;
    *a3 = b3;
}
#define AC_Q_DOT_W8(a0, a1, a2, a3, xp, wp, endp) \
    (quad_dot_c(&(a0), &(a1), &(a2), &(a3), (xp), (wp), (endp), 0), (wp) += ((endp) - (xp)) / 2)
#define AC_Q_DOT_W16(a0, a1, a2, a3, xp, wp, endp) quad_dot_c(&(a0), &(a1), &(a2), &(a3), (xp), (wp), (endp), 1)
#define AC_Q_REQUANT(dst, accv, m, r, rnd) ((dst) = ac_requant_fast((accv), (m), (r), (rnd)))
#define AC_Q_STORE4(o, s, v0, v1, v2, v3)                                                          \
    ((o)[0] = (int8_t)(v0), (o)[(s)] = (int8_t)(v1), (o)[2 * (s)] = (int8_t)(v2), (o)[3 * (s)] = (int8_t)(v3))
#endif

/* SSAT to int8, kept in an int32 (as the store takes it). */
#if defined(__ARM_FEATURE_SAT) && !defined(AC_DSP_EMULATE)
#define q_sat8(x) __ssat((x), 8)
#else
#define q_sat8(x) ac_min_i32(ac_max_i32((x), -128), 127)
#endif

/* Four adjacent pixels (x0, x0 + in_c, ...), every output channel, one at a time (pre: int16
 * weights from w16). */
AC_INLINE void quad_adjacent(const ac_conv_table_params *p, const int32_t *w16, const int8_t *x0, int8_t *out,
                             int32_t pre, int32_t full)
{
    int32_t buf[2 * AC_1X1_QUAD_MAX_IN];
    const int32_t in_c = p->g.in_c, out_c = p->g.out_c;
    const int32_t lo = p->g.act_min, hi = p->g.act_max;
    const int32_t *q = p->requant;
    const int32_t *const q_end = q + 4 * out_c;
    const int32_t *const end = buf + 2 * in_c;
    const int8_t *w = p->filter;
    quad_widen(x0, in_c, buf);
    /* One output channel: a3 starts as the bias; the row's other words after the dot products. */
#define AC_Q_CHANNEL(DOT, wp)                                                                      \
    do {                                                                                           \
        const int32_t *x_ = buf;                                                                   \
        int32_t a0, a1, a2, a3 = q[0], m, r, rnd, v;                                               \
        DOT(a0, a1, a2, a3, x_, wp, end);                                                          \
        m = q[1];                                                                                  \
        r = q[2];                                                                                  \
        rnd = q[3];                                                                                \
        AC_Q_OUT(a0);                                                                              \
        AC_Q_OUT(a1);                                                                              \
        AC_Q_OUT(a2);                                                                              \
        AC_Q_OUT(a3);                                                                              \
        AC_Q_STORE4(out, out_c, a0, a1, a2, a3);                                                   \
        q += 4;                                                                                    \
        ++out;                                                                                     \
    } while (0)
#define AC_Q_OUT(acc)                                                                              \
    do {                                                                                           \
        AC_Q_REQUANT(v, acc, m, r, rnd);                                                           \
        (acc) = full ? q_sat8(v) : ac_min_i32(ac_max_i32(v, lo), hi);                                 \
    } while (0)
    if (pre) {
        /* Channel pairs of in_c words, the odd channel's words 2 after the even one's; the int16
         * words cover the pairs only, so an odd last channel reads its int8 row below. */
        const int32_t *const q_pairs = q + 8 * (out_c >> 1);
        const int32_t *wb = w16;
        for (; q != q_pairs; wb += in_c) {
            const int32_t *w0 = wb, *w1 = wb + 2;
            AC_Q_CHANNEL(AC_Q_DOT_W16, w0);
            AC_Q_CHANNEL(AC_Q_DOT_W16, w1);
        }
        w += (out_c & ~1) * in_c;
    }
    while (q != q_end) {
        AC_Q_CHANNEL(AC_Q_DOT_W8, w);
    }
#undef AC_Q_OUT
#undef AC_Q_CHANNEL
}

#define AC_QUAD_ADJACENT(name, pre, full)                                                                  \
    static AC_NOINLINE void name(const ac_conv_table_params *p, const int32_t *w16, const int8_t *x0,     \
                                 int8_t *out0)                                                            \
    {                                                                                                     \
        quad_adjacent(p, w16, x0, out0, pre, full);                                                       \
    }
AC_QUAD_ADJACENT(quad_int8, 0, 0)
AC_QUAD_ADJACENT(quad_int8_sat, 0, 1)
AC_QUAD_ADJACENT(quad_int16, 1, 0)
AC_QUAD_ADJACENT(quad_int16_sat, 1, 1)

/* The four-pixel path when the layer fits it, else 0 (pairs only). */
static ac_pair_fn quad_for(const ac_conv_table_params *p, ac_pair_fn quad)
{
    const int32_t in_c = p->g.in_c;
    return in_c % 4 == 0 && in_c >= 8 && in_c <= AC_1X1_QUAD_MAX_IN ? quad : 0;
}
#endif

/* Stride 1: pixel q's input is at q * in_c, so consecutive pixels are adjacent. */
AC_INLINE void adjacent_loop(const ac_conv_table_params *params, const int32_t *w16, const int8_t *input,
                             int8_t *output, ac_pair_fn pair, ac_pair_fn quad)
{
    /* A local copy: int8 stores may alias anything, which would reload every field. */
    const ac_conv_table_params local = *params;
    const ac_conv_table_params *p = &local;
    const int32_t in_c = p->g.in_c, out_c = p->g.out_c, pixels = p->g.out_h * p->g.out_w;
    int32_t b, q;
    for (b = 0; b < p->g.batches; ++b) {
        q = 0;
        if (quad) {
            for (; q + 4 <= pixels; q += 4) {
                quad(p, w16, input + (b * pixels + q) * in_c, output + (b * pixels + q) * out_c);
            }
            if (pixels - q == 3 && q > 0) {
                /* Three left: the last four pixels, one of them again (same bytes: the input and
                 * output never overlap), cheaper than a pair and a single pixel. */
                q = pixels - 4;
                quad(p, w16, input + (b * pixels + q) * in_c, output + (b * pixels + q) * out_c);
                q = pixels;
            }
        }
        for (; q + 2 <= pixels; q += 2) {
            pair(p, w16, input + (b * pixels + q) * in_c, output + (b * pixels + q) * out_c);
        }
        if (q < pixels) {
            pixel_single(p, input + (b * pixels + q) * in_c, output + (b * pixels + q) * out_c);
        }
    }
}

#if AC_USE_DSP
#define AC_QUAD(p, fn) quad_for((p), (fn))
#else
#define AC_QUAD(p, fn) ((ac_pair_fn)0)
#endif

void ac_conv2d_1x1_tables(const ac_conv_table_params *p, const int8_t *input, int8_t *output)
{
    adjacent_loop(p, 0, input, output, pair_int8, AC_QUAD(p, quad_int8));
}

void ac_conv2d_1x1_tables_sat(const ac_conv_table_params *p, const int8_t *input, int8_t *output)
{
    adjacent_loop(p, 0, input, output, pair_int8_sat, AC_QUAD(p, quad_int8_sat));
}

#if AC_USE_DSP
void ac_conv2d_1x1_tables_w16(const ac_conv_w16_params *p, const int8_t *input, int8_t *output)
{
    adjacent_loop(&p->t, p->filter16, input, output, pair_int16, quad_for(&p->t, quad_int16));
}

void ac_conv2d_1x1_tables_w16_sat(const ac_conv_w16_params *p, const int8_t *input, int8_t *output)
{
    adjacent_loop(&p->t, p->filter16, input, output, pair_int16_sat, quad_for(&p->t, quad_int16_sat));
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
