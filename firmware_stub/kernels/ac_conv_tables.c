/* CONV_2D int8 from the generator's requantisation table (ac_kernels.h), portable, any
 * geometry: the taps are summed as raw bytes (the input offset is in the table's folded bias),
 * and a tap outside the image reads the input zero point, whose (zp + offset) * w is 0: the same
 * sum as skipping it. The DSP core's gathered-taps conv falls back to this without DSP. */
#include "ac_kernels.h"

#include "ac_fixedpoint.h"

void ac_conv2d_tables(const ac_conv_table_params *p, const int8_t *input, int8_t *output)
{
    const ac_conv_geom *g = &p->g;
    const int32_t fic = g->filter_in_c;
    const int32_t per_group = g->out_c / (g->in_c / fic);
    const int32_t pad = -g->input_offset;
    int32_t b, oy, ox, oc, ky, kx, c;
    for (b = 0; b < g->batches; ++b) {
        for (oy = 0; oy < g->out_h; ++oy) {
            for (ox = 0; ox < g->out_w; ++ox) {
                for (oc = 0; oc < g->out_c; ++oc) {
                    const int32_t *q = p->requant + 4 * oc;
                    const int32_t group = oc / per_group;
                    int32_t acc = 0;
                    for (ky = 0; ky < g->k_h; ++ky) {
                        const int32_t iy = oy * g->stride_h - g->pad_top + ky * g->dil_h;
                        for (kx = 0; kx < g->k_w; ++kx) {
                            const int32_t ix = ox * g->stride_w - g->pad_left + kx * g->dil_w;
                            const int32_t inside = iy >= 0 && iy < g->in_h && ix >= 0 && ix < g->in_w;
                            const int8_t *x = inside ? input + ((b * g->in_h + iy) * g->in_w + ix) * g->in_c + group * fic
                                                     : input;
                            const int8_t *w = p->filter + ((oc * g->k_h + ky) * g->k_w + kx) * fic;
                            for (c = 0; c < fic; ++c) {
                                acc += (inside ? (int32_t)x[c] : pad) * w[c];
                            }
                        }
                    }
                    /* The folded bias is int32-wrapped like the accumulator: add without overflow. */
                    acc = (int32_t)((uint32_t)acc + (uint32_t)q[0]);
                    output[((b * g->out_h + oy) * g->out_w + ox) * g->out_c + oc] =
                        ac_clamp_s8(ac_requant_fast(acc, q[1], q[2], q[3]), g->act_min, g->act_max);
                }
            }
        }
    }
}
