/* CONV_2D int8, per-channel requantization (TFLM reference_integer_ops::ConvPerChannel).
 *
 * Out-of-image taps are skipped, which equals padding with the input zero point. The inner
 * loop is an offset dot product (ac_dot.h): for one kernel row, when the convolution is not
 * grouped and not dilated along x, all in-image taps of the row are one contiguous run of
 * input and filter bytes, so the DSP loop sees long runs even for small channel counts.
 * Two output channels are computed together so the input is unpacked once for both.
 */
#include "ac_kernels.h"

#include "ac_dot.h"
#include "ac_fixedpoint.h"

/* Accumulate kernel row ky of output channels oc (and oc + 1 when two) at one output pixel. */
static void conv_row(const ac_conv_params *p, const int8_t *in_img, int32_t iy, int32_t x0,
                     int32_t ky, int32_t oc, int32_t two, int32_t group, int32_t *acc0, int32_t *acc1)
{
    const int32_t fic = p->filter_in_c;
    const int32_t filter_oc_stride = p->k_h * p->k_w * fic;
    const int8_t *w0 = p->filter + (int32_t)oc * filter_oc_stride + ky * p->k_w * fic;
    const int8_t *in_row = in_img + iy * p->in_w * p->in_c + group * fic;
    if (p->dil_w == 1 && fic == p->in_c) {
        /* Contiguous run of in-image taps: kx in [kx0, kx1). */
        const int32_t kx0 = x0 < 0 ? -x0 : 0;
        const int32_t kx1 = ac_min_i32(p->k_w, p->in_w - x0);
        if (kx1 > kx0) {
            const int32_t n = (kx1 - kx0) * fic;
            const int8_t *x = in_row + (x0 + kx0) * p->in_c;
            if (two) {
                ac_dot2(x, w0 + kx0 * fic, w0 + filter_oc_stride + kx0 * fic, n, p->input_offset, 0, acc0, acc1);
            } else {
                *acc0 = ac_dot(x, w0 + kx0 * fic, n, p->input_offset, 0, *acc0);
            }
        }
        return;
    }
    {
        int32_t kx;
        for (kx = 0; kx < p->k_w; ++kx) {
            const int32_t ix = x0 + kx * p->dil_w;
            const int8_t *x;
            if (ix < 0 || ix >= p->in_w) {
                continue;
            }
            x = in_row + ix * p->in_c;
            if (two) {
                ac_dot2(x, w0 + kx * fic, w0 + filter_oc_stride + kx * fic, fic, p->input_offset, 0, acc0, acc1);
            } else {
                *acc0 = ac_dot(x, w0 + kx * fic, fic, p->input_offset, 0, *acc0);
            }
        }
    }
}

static int8_t conv_finish(const ac_conv_params *p, int32_t acc, int32_t oc)
{
    if (p->bias) {
        acc += p->bias[oc];
    }
    acc = ac_requant(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
    return ac_clamp_s8(acc, p->act_min, p->act_max);
}

void ac_conv2d(const ac_conv_params *p, const int8_t *input, int8_t *output)
{
    const int32_t groups = p->in_c / p->filter_in_c;
    const int32_t per_group = p->out_c / groups;
    int32_t b, oy, ox;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_img = input + b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_top;
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t x0 = ox * p->stride_w - p->pad_left;
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                int32_t oc = 0;
                while (oc < p->out_c) {
                    const int32_t group = oc / per_group;
                    /* Pair two channels only inside one group (same input channels). */
                    const int32_t two = (oc + 1 < p->out_c) && ((oc + 1) / per_group == group);
                    int32_t acc0 = 0, acc1 = 0, ky;
                    for (ky = 0; ky < p->k_h; ++ky) {
                        const int32_t iy = y0 + ky * p->dil_h;
                        if (iy < 0 || iy >= p->in_h) {
                            continue;
                        }
                        conv_row(p, in_img, iy, x0, ky, oc, two, group, &acc0, &acc1);
                    }
                    out[oc] = conv_finish(p, acc0, oc);
                    if (two) {
                        out[oc + 1] = conv_finish(p, acc1, oc + 1);
                    }
                    oc += two ? 2 : 1;
                }
            }
        }
    }
}
