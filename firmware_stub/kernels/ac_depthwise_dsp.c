/* DEPTHWISE_CONV_2D int8 on the DSP core, depth multiplier 1, from the generator's requantisation
 * table (rows {bias, multiplier, r, 2^(r-1) + (zp << r)}): four channels per step: input and
 * filter bytes of four adjacent channels are loaded as one word each, sign-extended in pairs
 * (SXTAB16 adds the input offset on the way), and SMLABB/SMLATT accumulate each lane into its
 * own channel's accumulator. 3x3 kernels (dilation 1) run channel group by channel group: the
 * group's weights are sign-extended once, doubled, into a zero-framed tap frame on the stack, so
 * every pixel, border ones included (the window moved into the image, the frame origin moved
 * the other way), runs one assembly block of nine taps (one LDR, two SXTAB16, one LDRD and four
 * SMLAxy each) that starts from twice the bias; the doubled sums are requantised with SMMLAR (one
 * LDM per channel's row). Groups whose doubled sums could leave int32, and other kernels, list each
 * pixel's in-image taps and use ac_requant_fast in assembly. Without DSP the generated call names
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

/* The assembly blocks need optimised register allocation: at -O0 gcc keeps r7 as the frame
 * pointer and gives every operand its own register (none shared with the "m" operands), so the
 * nine-tap block's 13 live values and the requantisation's named r4-r6 have "impossible
 * constraints". Unoptimised builds (make OPT=-O0, for debugging) take the C forms below instead:
 * the ones the host tests (AC_DSP_EMULATE) check against TFLM, so the result is the same bytes. */
#if defined(__GNUC__) && !defined(AC_DSP_EMULATE) && defined(__OPTIMIZE__)
#define AC_DW_ASM 1
#else
#define AC_DW_ASM 0
#endif

#if AC_DW_ASM
/* One tap for four channels: load 4 inputs (LOAD), the two weight pairs at byte offset OFF, widen
 * the inputs with the input offset into (c,c+2) / (c+1,c+3) pairs, then accumulate. */
#define AC_DW_MLA_ "smlabb %[a0], %[xe], %[we], %[a0]\n\tsmlatt %[a2], %[xe], %[we], %[a2]\n\t" \
                   "smlabb %[a1], %[xv], %[wd], %[a1]\n\tsmlatt %[a3], %[xv], %[wd], %[a3]\n\t"
#define AC_DW_TAP_(LOAD, OFF) LOAD "\n\tldrd %[we], %[wd], [%[w], #" #OFF "]\n\t" \
    "sxtab16 %[xe], %[xo], %[xv]\n\tsxtab16 %[xv], %[xo], %[xv], ror #8\n\t" AC_DW_MLA_
/* One row of three taps: columns at x, x + s, x + 2s. */
#define AC_DW_ROW_(OFF0, OFF1, OFF2) AC_DW_TAP_("ldr %[xv], [%[x]]", OFF0) \
    AC_DW_TAP_("ldr %[xv], [%[x], %[s]]", OFF1) AC_DW_TAP_("ldr %[xv], [%[x], %[s], lsl #1]", OFF2)
/* The nine taps of a 3x3 window for channels c..c+3 in assembly, added to acc0..acc3 (x: the
 * window's top-left input at channel c, moved down two rows; w: the window's origin in a group's
 * tap frame, rows 10 words apart): in C, gcc hoists the next row's loads and spills them to the
 * stack; here the 13 live values stay in registers. */
#define AC_DW_3X3(acc0, acc1, acc2, acc3, xp, wp, sv, rowv, xov)                                   \
    do {                                                                                           \
        int32_t xv_, xe_, we_, wd_;                                                                \
        __asm__(AC_DW_ROW_(0, 8, 16) "add %[x], %[x], %[row]\n\t"                                  \
                AC_DW_ROW_(40, 48, 56) "add %[x], %[x], %[row]\n\t"                                \
                AC_DW_ROW_(80, 88, 96)                                                             \
                : [a0] "+&r"(acc0), [a1] "+&r"(acc1), [a2] "+&r"(acc2), [a3] "+&r"(acc3),          \
                  [x] "+&r"(xp), [xv] "=&r"(xv_), [xe] "=&r"(xe_), [we] "=&r"(we_), [wd] "=&r"(wd_) \
                : [w] "r"(wp), [s] "r"(sv), [row] "r"(rowv), [xo] "r"(xov),                        \
                  "m"(*(const int32_t(*)[26])(wp)));                                               \
    } while (0)
#else
#define AC_DW_3X3(acc0, acc1, acc2, acc3, xp, wp, sv, rowv, xov)                                   \
    do {                                                                                           \
        int32_t t_;                                                                                \
        for (t_ = 0; t_ < 9; ++t_) {                                                               \
            const int32_t xv_ = ac_load4((xp) + (t_ / 3) * (rowv) + (t_ % 3) * (sv));              \
            const int32_t xe_ = ac_sxtab16(xov, xv_), xd_ = ac_sxtab16_ror8(xov, xv_);             \
            const int32_t *w_ = (wp) + 10 * (t_ / 3) + 2 * (t_ % 3);                               \
            acc0 = ac_smlabb(xe_, w_[0], acc0);                                                    \
            acc2 = ac_smlatt(xe_, w_[0], acc2);                                                    \
            acc1 = ac_smlabb(xd_, w_[1], acc1);                                                    \
            acc3 = ac_smlatt(xd_, w_[1], acc3);                                                    \
        }                                                                                          \
        (xp) += 2 * (rowv);                                                                        \
    } while (0)
#endif

/* The requantisation of the 3x3 path, whose sums are doubled (weights and bias times two):
 * with x2 = 2 (acc + bias) and a row's {m, 2 row[3], r + 1},
 * SMMLAR(x2, m, 2 row[3] - [x2 < 0]) >> (r + 1) is ac_requant_fast(acc + bias, m, r, row[3]).
 * Why: SMMLAR gives floor((Ra 2^32 + 2 x m + 2^31) / 2^32), and nested floors merge, so the result
 * is floor((2 x m + 2^31 - [x < 0] 2^32 + 2^(32+r) + zp 2^(33+r)) / 2^(33+r)), twice the
 * numerator and denominator of ac_requant_fast's floor((x m + c + 2^(31+r)) / 2^(32+r)) + zp.
 * Four instructions after the loads instead of six (no rounding constant to build, no bias add). */
#if AC_DW_ASM
/* The four channels' rows from rq (one LDM each into three registers in ascending order, as LDM
 * needs), the results in place of the sums. */
#define AC_DW_ROW2_(A) "ldmia %[q]!, {r4, r5, r6}\n\tadd r5, r5, %[" A "], asr #31\n\t" \
    "smmlar %[" A "], %[" A "], r4, r5\n\tasr %[" A "], %[" A "], r6\n\t"
#define AC_DW_REQUANT2X4(a0, a1, a2, a3, rq)                                                       \
    do {                                                                                           \
        const int32_t *q_ = (rq);                                                                  \
        __asm__(AC_DW_ROW2_("a0") AC_DW_ROW2_("a1") AC_DW_ROW2_("a2") AC_DW_ROW2_("a3")            \
                : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [q] "+r"(q_)         \
                : "m"(*(const int32_t(*)[12])(rq))                                                 \
                : "r4", "r5", "r6");                                                               \
    } while (0)
#else
static inline int32_t dw_requant2(int32_t x2, const int32_t *rq)
{
    const int32_t ra = rq[1] + (x2 < 0 ? -1 : 0);
    const uint64_t t = ((uint64_t)(uint32_t)ra << 32) + (uint64_t)((int64_t)x2 * rq[0]) + 0x80000000u;
    return (int32_t)(uint32_t)(t >> 32) >> rq[2];
}
#define AC_DW_REQUANT2X4(a0, a1, a2, a3, rq)                                                       \
    do {                                                                                           \
        (a0) = dw_requant2((a0), (rq));                                                            \
        (a1) = dw_requant2((a1), (rq) + 3);                                                        \
        (a2) = dw_requant2((a2), (rq) + 6);                                                        \
        (a3) = dw_requant2((a3), (rq) + 9);                                                        \
    } while (0)
#endif

#if AC_DW_ASM
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

/* One channel group of the 3x3 path: its weights twice over, sign-extended into pairs (c, c+2) /
 * (c+1, c+3) per tap, in the middle of a 5x5 frame of zero taps (rows 10 words apart), so a window
 * that overhangs the image by one row or column is the window moved back inside it with its
 * origin moved in the frame: the taps it lost read in-image pixels against zero weights. Every
 * pixel thus runs the same nine-tap block. The sums start at twice the bias; rq holds the rows for
 * AC_DW_REQUANT2X4. */
typedef struct {
    int32_t w[50];
    int32_t acc0[4];
    int32_t rq[12];
} dw_group;

/* 1 (and g filled) when the group's doubled sums and requantisation stay within int32:
 * |acc| <= 9 * 255 * 128, so |2 (acc + bias)| < 2^31 needs |bias| below 2^30 less that, and
 * SMMLAR's |2 row[3] - 1 + x2 m / 2^32| < 2^31 holds for |row[3]| < 2^29. */
static int32_t dw_group_init(dw_group *g, const int8_t *filter, const int32_t *q, int32_t s)
{
    const int32_t bmax = (1 << 30) - 9 * 255 * 128;
    int32_t *f = g->w + 12, *rq = g->rq, ky, k, ok = 1;
    for (ky = 0; ky < 3; ++ky, f += 10, filter += 3 * s) {
        const int32_t v0 = ac_load4(filter), v1 = ac_load4(filter + s), v2 = ac_load4(filter + 2 * s);
        /* Each int16 lane doubled by adding the byte to its own sign extension. */
        f[0] = ac_sxtab16(ac_sxtb16(v0), v0);
        f[1] = ac_sxtab16_ror8(ac_sxtb16_ror8(v0), v0);
        f[2] = ac_sxtab16(ac_sxtb16(v1), v1);
        f[3] = ac_sxtab16_ror8(ac_sxtb16_ror8(v1), v1);
        f[4] = ac_sxtab16(ac_sxtb16(v2), v2);
        f[5] = ac_sxtab16_ror8(ac_sxtb16_ror8(v2), v2);
    }
    for (k = 0; k < 4; ++k, q += 4, rq += 3) {
        ok &= q[0] > -bmax && q[0] < bmax && q[3] > -(1 << 29) && q[3] < (1 << 29);
        g->acc0[k] = (int32_t)((uint32_t)q[0] << 1);
        rq[0] = q[1];
        rq[1] = (int32_t)((uint32_t)q[3] << 1);
        rq[2] = q[2] + 1;
    }
    return ok;
}

/* A local variable held in the named register (the real core's assembly paths only). */
#if AC_DW_ASM
#define AC_DW_REG(r) __asm__(r)
#else
#define AC_DW_REG(r)
#endif

/* Output rows per block of the 3x3 path's run list (three runs a row, 12 bytes each, on the stack). */
#define AC_DW_RUN_ROWS 24

typedef struct {
    int32_t x;
    const int32_t *w;
    int32_t n;
} dw_run;

/* Channels c..c+3 of output rows [oy0, oy1) from the in-image tap list: a group whose sums could leave int32
 * when doubled, or a layer whose windows overhang the image by more than one pixel. */
static void dw_group_any(const ac_conv_geom *p, const int8_t *filter, const int32_t *requant, const int8_t *in_img,
                         int8_t *out_img, int32_t c, int32_t oy0, int32_t oy1, int32_t full)
{
    const int32_t xo = ac_dup16(p->input_offset);
    int32_t in_off[9], w_off[9], oy, ox;
    for (oy = oy0; oy < oy1; ++oy) {
        for (ox = 0; ox < p->out_w; ++ox) {
            int32_t acc[4];
            const int32_t taps = dw_taps(p, oy * p->stride_h - p->pad_top, ox * p->stride_w - p->pad_left, in_off,
                                         w_off);
            dw_channels4(in_img + c, filter + c, in_off, w_off, taps, xo, acc);
            dw_out4_table(p, requant, acc, c, out_img + (oy * p->out_w + ox) * p->out_c, full);
        }
    }
}

/* 3x3, dilation 1, depth multiplier 1: channel groups outermost, so each group's weights are
 * sign-extended once (into the frame, read as pairs with LDRD), then every pixel runs the nine-tap
 * block, run after run (a row's left border column, interior, right border column). Layers whose
 * windows overhang the image by more than one row or column, and groups past the doubled-sum
 * bounds, take the tap list; the channels left over (in_c not a multiple of 4) go one at a time. */
AC_INLINE void dw_image3x3(const ac_conv_geom *p, const int8_t *filter, const int32_t *requant, const int8_t *in_img,
                           int8_t *out_img, int32_t full)
{
    const int32_t xo = ac_dup16(p->input_offset), s = p->in_c, row = p->in_w * s;
    /* Every window lies in the image or overhangs it by one row / column on one side. */
    const int32_t framed = p->in_h >= 3 && p->in_w >= 3 && p->pad_top <= 1 && p->pad_left <= 1 &&
                           (p->out_h - 1) * p->stride_h - p->pad_top + 3 - p->in_h <= 1 &&
                           (p->out_w - 1) * p->stride_w - p->pad_left + 3 - p->in_w <= 1;
    /* Output columns [ox_lo, ox_hi) have their window in the image; at most one column either side. */
    const int32_t ox_lo = (p->pad_left + p->stride_w - 1) / p->stride_w;
    const int32_t ox_hi = p->in_w >= 3 ? dw_min((p->in_w - 3 + p->pad_left) / p->stride_w + 1, p->out_w) : 0;
    /* The assembly leaves x two rows down; xstep takes it to the next pixel. */
    const int32_t xstep = p->stride_w * s - 2 * row;
    dw_group g;
    /* A row's runs of pixels: the left border column (its window moved right, so the frame origin
     * one tap right), the interior, the right border column (origin one tap left); x: input byte
     * offset, w: frame origin in words, n: output bytes. Empty runs are left out. */
    struct {
        int32_t x, w, n;
    } cols[3];
    dw_run runs[3 * AC_DW_RUN_ROWS];
    int32_t ncols = 0, c = 0, oy, ox, oy0, t, k;
    if (ox_lo > 0) {
        cols[ncols].x = 0, cols[ncols].w = 4, cols[ncols++].n = ox_lo * s;
    }
    if (ox_hi > ox_lo) {
        cols[ncols].x = (ox_lo * p->stride_w - p->pad_left) * s, cols[ncols].w = 2;
        cols[ncols++].n = (ox_hi - ox_lo) * s;
    }
    if (p->out_w > ox_hi) {
        cols[ncols].x = (p->in_w - 3) * s, cols[ncols].w = 0, cols[ncols++].n = (p->out_w - ox_hi) * s;
    }
    for (t = 0; t < 50; ++t) {
        g.w[t] = 0;
    }
    /* Rows in blocks, each block's runs listed once for all its channel groups: the pixel loop
     * then takes one run after another (the output pixels of a group follow each other). */
    for (oy0 = 0; oy0 < p->out_h; oy0 += AC_DW_RUN_ROWS) {
        const int32_t oy1 = dw_min(oy0 + AC_DW_RUN_ROWS, p->out_h);
        const dw_run *const r_end = runs + (framed ? ncols * (oy1 - oy0) : 0);
        dw_run *r = runs;
        for (oy = oy0; framed && oy < oy1; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_top;
            const int32_t yc = y0 < 0 ? 0 : dw_min(y0, p->in_h - 3);
            for (k = 0; k < ncols; ++k, ++r) {
                r->x = yc * row + cols[k].x;
                /* One frame row down when the window was moved down. */
                r->w = g.w + 10 * (yc - y0 + 1) + cols[k].w;
                r->n = cols[k].n;
            }
        }
        for (c = 0; c + 4 <= s; c += 4) {
            const int8_t *const xc = in_img + c;
            int8_t *o = out_img + oy0 * p->out_w * s + c;
            if (!dw_group_init(&g, filter + c, requant + 4 * c, s) || !framed) {
                dw_group_any(p, filter, requant, in_img, out_img, c, oy0, oy1, full);
                continue;
            }
            for (r = runs; r != r_end; ++r) {
                const int8_t *x = xc + r->x;
                const int32_t *const wv = r->w;
                int8_t *const o_stop = o + r->n;
                do { /* runs are never empty */
                    /* In r0-r3: gcc then loads the starting sums with two LDRDs. */
                    register int32_t a0 AC_DW_REG("r0") = g.acc0[0];
                    register int32_t a1 AC_DW_REG("r1") = g.acc0[1];
                    register int32_t a2 AC_DW_REG("r2") = g.acc0[2];
                    register int32_t a3 AC_DW_REG("r3") = g.acc0[3];
                    AC_DW_3X3(a0, a1, a2, a3, x, wv, s, row, xo);
                    AC_DW_REQUANT2X4(a0, a1, a2, a3, g.rq);
                    if (full) {
                        o[0] = ac_sat8(a0);
                        o[1] = ac_sat8(a1);
                        o[2] = ac_sat8(a2);
                        o[3] = ac_sat8(a3);
                    } else {
                        o[0] = ac_clamp_s8(a0, p->act_min, p->act_max);
                        o[1] = ac_clamp_s8(a1, p->act_min, p->act_max);
                        o[2] = ac_clamp_s8(a2, p->act_min, p->act_max);
                        o[3] = ac_clamp_s8(a3, p->act_min, p->act_max);
                    }
                    o += s;
                    x += xstep;
                } while (o != o_stop);
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
