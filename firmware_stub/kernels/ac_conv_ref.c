/* CONV_2D int8 reference (TFLM reference_integer_ops::ConvPerChannel): plain loops, exact
 * requantisation. The oracle the optimized variants are tested against
 * (tests/deploy/test_kernels_variants.py); the generator calls it only for reference builds.
 * Out-of-image taps are skipped, which equals padding with the input zero point. */
#include "ac_kernels.h"

#include "ac_fixedpoint.h"

void ac_conv2d_ref(const ac_conv_params *p, const int8_t *input, int8_t *output)
{
    const ac_conv_geom *g = &p->g;
    const int32_t fic = g->filter_in_c;
    const int32_t per_group = g->out_c / (g->in_c / fic);
    int32_t b, oy, ox, oc, ky, kx, c;
    for (b = 0; b < g->batches; ++b) {
        for (oy = 0; oy < g->out_h; ++oy) {
            for (ox = 0; ox < g->out_w; ++ox) {
                for (oc = 0; oc < g->out_c; ++oc) {
                    const int32_t group = oc / per_group;
                    int32_t acc = 0;
                    for (ky = 0; ky < g->k_h; ++ky) {
                        const int32_t iy = oy * g->stride_h - g->pad_top + ky * g->dil_h;
                        for (kx = 0; kx < g->k_w; ++kx) {
                            const int32_t ix = ox * g->stride_w - g->pad_left + kx * g->dil_w;
                            if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w) {
                                continue;
                            }
                            for (c = 0; c < fic; ++c) {
                                const int32_t x = input[((b * g->in_h + iy) * g->in_w + ix) * g->in_c + group * fic + c];
                                const int32_t w = p->filter[((oc * g->k_h + ky) * g->k_w + kx) * fic + c];
                                acc += (x + g->input_offset) * w;
                            }
                        }
                    }
                    acc = ac_requant(acc + p->bias[oc], p->multiplier[oc], p->shift[oc]) + g->output_offset;
                    output[((b * g->out_h + oy) * g->out_w + ox) * g->out_c + oc] =
                        ac_clamp_s8(acc, g->act_min, g->act_max);
                }
            }
        }
    }
}
