/* Pointwise CONV_2D int8 with Helium (MVE, Cortex-M55): the 1x1 table variants (any stride),
 * compiled instead of ac_conv_1x1.c when AC_USE_MVE is set (same names, same params: the
 * generator's choice stands, the core decides the code at compile time).
 *
 * Each output pixel's taps are its input pixel, K = in_c contiguous bytes (the input offset is in
 * the table's folded bias). Four output channels at a time are four weight rows against that run,
 * 16 bytes per VMLADAVA (a predicated last step for K % 16), then one vector requantisation
 * (ac_mve.h) and one narrowing store of the four outputs.
 */
#include "ac_kernels.h"

#include "ac_fixedpoint.h"
#include "ac_mve.h"

#if AC_USE_MVE
/* Rows w0..w3 (K bytes each) against the K bytes at x: the four sums as one vector. The 16-byte
 * steps are written in assembly: gcc neither uses the post-incremented loads nor keeps the four
 * pointers in registers (9 instead of 15-20 instructions per 64 MACs). VMLADAVA's accumulator
 * must be an even register, which no constraint expresses, hence the fixed registers. */
AC_INLINE int32x4_t dot4(const int8_t *x, const int8_t *w0, const int8_t *w1, const int8_t *w2,
                         const int8_t *w3, int32_t k)
{
    register int32_t a0 __asm__("r4") = 0, a1 __asm__("r6") = 0, a2 __asm__("r8") = 0, a3 __asm__("r10") = 0;
    int32_t n = k >> 4;
    /* A partial channel group repeats a row: opaque copies keep gcc from giving two of the
     * post-incremented operands one register. */
    __asm__("" : "+r"(w1), "+r"(w2), "+r"(w3));
    if (n > 0) {
        __asm__ volatile("1:\n\t"
                         "vldrb.8 q0, [%[x]], #16\n\t"
                         "vldrb.8 q1, [%[w0]], #16\n\t"
                         "vmladava.s8 %[a0], q0, q1\n\t"
                         "vldrb.8 q1, [%[w1]], #16\n\t"
                         "vmladava.s8 %[a1], q0, q1\n\t"
                         "vldrb.8 q1, [%[w2]], #16\n\t"
                         "vmladava.s8 %[a2], q0, q1\n\t"
                         "vldrb.8 q1, [%[w3]], #16\n\t"
                         "vmladava.s8 %[a3], q0, q1\n\t"
                         "subs %[n], %[n], #1\n\t"
                         "bne 1b"
                         : [x] "+r"(x), [w0] "+r"(w0), [w1] "+r"(w1), [w2] "+r"(w2), [w3] "+r"(w3), [n] "+r"(n),
                           [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3)
                         :
                         : "q0", "q1", "cc", "memory");
    }
    k &= 15;
    if (k > 0) {
        /* Zeroed lanes past the run: nothing is read beyond the input or the last weight row. */
        const mve_pred16_t pr = vctp8q((uint32_t)k);
        const int8x16_t xv = vldrbq_z_s8(x, pr);
        a0 = vmladavaq_s8(a0, xv, vldrbq_z_s8(w0, pr));
        a1 = vmladavaq_s8(a1, xv, vldrbq_z_s8(w1, pr));
        a2 = vmladavaq_s8(a2, xv, vldrbq_z_s8(w2, pr));
        a3 = vmladavaq_s8(a3, xv, vldrbq_z_s8(w3, pr));
    }
    return ac_mve_vec4(a0, a1, a2, a3);
}

/* 1x1, no padding, any stride: each output pixel's taps are its input pixel. Channel groups
 * outside, pixels inside: a group's requantisation stays in registers. */
static void conv_1x1(const ac_conv_table_params *params, const int8_t *input, int8_t *output)
{
    const ac_conv_table_params local = *params;
    const ac_conv_geom *g = &local.g;
    const int32_t k = g->in_c, out_c = g->out_c, zp = g->output_offset, lo = g->act_min, hi = g->act_max;
    const int32_t step = g->stride_w * k, row = g->stride_h * g->in_w * k;
    int32_t c, b, oy, ox;
    for (c = 0; c < out_c; c += 4) {
        /* 1-3 channels left: the missing rows repeat the last one, the store is predicated. */
        const int32_t n = out_c - c < 4 ? out_c - c : 4;
        const mve_pred16_t keep = vctp32q((uint32_t)n);
        const ac_mve_rq q = ac_mve_rq_load(local.requant + 4 * c, n);
        const int8_t *w0 = local.filter + c * k;
        const int8_t *w1 = n > 1 ? w0 + k : w0, *w2 = n > 2 ? w0 + 2 * k : w0, *w3 = n > 3 ? w0 + 3 * k : w0;
        for (b = 0; b < g->batches; ++b) {
            for (oy = 0; oy < g->out_h; ++oy) {
                const int8_t *x = input + b * g->in_h * g->in_w * k + oy * row;
                int8_t *out = output + ((b * g->out_h + oy) * g->out_w) * out_c + c;
                for (ox = 0; ox < g->out_w; ++ox, x += step, out += out_c) {
                    vstrbq_p_s32(out, ac_mve_requant4(dot4(x, w0, w1, w2, w3, k), &q, zp, lo, hi), keep);
                }
            }
        }
    }
}

void ac_conv2d_1x1_tables(const ac_conv_table_params *p, const int8_t *input, int8_t *output)
{
    conv_1x1(p, input, output);
}

void ac_conv2d_1x1_tables_sat(const ac_conv_table_params *p, const int8_t *input, int8_t *output)
{
    conv_1x1(p, input, output);
}

void ac_conv2d_1x1_strided_tables(const ac_conv_table_params *p, const int8_t *input, int8_t *output)
{
    conv_1x1(p, input, output);
}

#else
/* ISO C forbids an empty translation unit. */
typedef int ac_conv_mve_unused;
#endif
