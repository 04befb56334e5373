/* MAX_POOL_2D and AVERAGE_POOL_2D int8 (TFLM reference_integer_ops pooling).
 * Only in-image taps count: the average divides by the number of in-image taps, rounding
 * half away from zero with truncating integer division, exactly as TFLM.
 */
#include "ac_kernels.h"

#include "ac_fixedpoint.h"
#include "ac_mve.h"

typedef struct {
    int32_t y_start, y_end, x_start, x_end, y0, x0;
} pool_window;

static pool_window window_at(const ac_pool_params *p, int32_t oy, int32_t ox)
{
    pool_window w;
    w.y0 = oy * p->stride_h - p->pad_top;
    w.x0 = ox * p->stride_w - p->pad_left;
    w.y_start = ac_max_i32(0, -w.y0);
    w.y_end = ac_min_i32(p->k_h, p->in_h - w.y0);
    w.x_start = ac_max_i32(0, -w.x0);
    w.x_end = ac_min_i32(p->k_w, p->in_w - w.x0);
    return w;
}

#if AC_USE_MVE
/* Helium: 16 channels per VMAX over the window's in-image taps (the window's size does not matter). */
static void max_pool_mve(const ac_pool_params *p, const int8_t *input, int8_t *output)
{
    const int8x16_t lo = vdupq_n_s8((int8_t)p->act_min), hi = vdupq_n_s8((int8_t)p->act_max);
    int32_t b, oy, ox, c, ky, kx;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_img = input + b * p->in_h * p->in_w * p->channels;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox) {
                const pool_window w = window_at(p, oy, ox);
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->channels;
                for (c = 0; c < p->channels; c += 16) {
                    const mve_pred16_t pr = vctp8q((uint32_t)(p->channels - c));
                    int8x16_t m = vdupq_n_s8(-128);
                    for (ky = w.y_start; ky < w.y_end; ++ky) {
                        const int8_t *x = in_img + ((w.y0 + ky) * p->in_w + w.x0) * p->channels + c;
                        for (kx = w.x_start; kx < w.x_end; ++kx) {
                            m = vmaxq_s8(m, vldrbq_z_s8(x + kx * p->channels, pr));
                        }
                    }
                    vstrbq_p_s8(out + c, vminq_s8(vmaxq_s8(m, lo), hi), pr);
                }
            }
        }
    }
}
#endif

void ac_max_pool(const ac_pool_params *p, const int8_t *input, int8_t *output)
{
    int32_t b, oy, ox, c, ky, kx;
#if AC_USE_MVE
    max_pool_mve(p, input, output);
    return;
#endif
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_img = input + b * p->in_h * p->in_w * p->channels;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox) {
                const pool_window w = window_at(p, oy, ox);
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->channels;
                for (c = 0; c < p->channels; ++c) {
                    int32_t m = -128;
                    for (ky = w.y_start; ky < w.y_end; ++ky) {
                        for (kx = w.x_start; kx < w.x_end; ++kx) {
                            const int32_t v = in_img[((w.y0 + ky) * p->in_w + (w.x0 + kx)) * p->channels + c];
                            m = v > m ? v : m;
                        }
                    }
                    out[c] = ac_clamp_s8(m, p->act_min, p->act_max);
                }
            }
        }
    }
}

#if AC_USE_MVE
/* Helium: the window sums of 8 channels per VADD on int16 lanes (at most 255 taps of |q| <= 128
 * fit), then TFLM's rounding division per channel. */
static void avg_pool_mve(const ac_pool_params *p, const int8_t *input, int8_t *output)
{
    int32_t b, oy, ox, c, ky, kx, j;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_img = input + b * p->in_h * p->in_w * p->channels;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox) {
                const pool_window w = window_at(p, oy, ox);
                const int32_t count = (w.y_end - w.y_start) * (w.x_end - w.x_start);
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->channels;
                for (c = 0; c < p->channels; c += 8) {
                    const int32_t n = p->channels - c < 8 ? p->channels - c : 8;
                    const mve_pred16_t pr = vctp16q((uint32_t)n);
                    int16x8_t acc = vdupq_n_s16(0);
                    int16_t sums[8];
                    for (ky = w.y_start; ky < w.y_end; ++ky) {
                        const int8_t *x = in_img + ((w.y0 + ky) * p->in_w + w.x0) * p->channels + c;
                        for (kx = w.x_start; kx < w.x_end; ++kx) {
                            acc = vaddq_s16(acc, vldrbq_z_s16(x + kx * p->channels, pr));
                        }
                    }
                    vst1q_s16(sums, acc);
                    for (j = 0; j < n; ++j) {
                        int32_t a = sums[j];
                        if (count > 0) {
                            a = a > 0 ? (a + count / 2) / count : (a - count / 2) / count;
                        }
                        out[c + j] = ac_clamp_s8(a, p->act_min, p->act_max);
                    }
                }
            }
        }
    }
}
#endif

void ac_avg_pool(const ac_pool_params *p, const int8_t *input, int8_t *output)
{
    int32_t b, oy, ox, c, ky, kx;
#if AC_USE_MVE
    if (p->k_h * p->k_w <= 255) {
        avg_pool_mve(p, input, output);
        return;
    }
#endif
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_img = input + b * p->in_h * p->in_w * p->channels;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox) {
                const pool_window w = window_at(p, oy, ox);
                const int32_t count = (w.y_end - w.y_start) * (w.x_end - w.x_start);
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->channels;
                for (c = 0; c < p->channels; ++c) {
                    int32_t acc = 0;
                    for (ky = w.y_start; ky < w.y_end; ++ky) {
                        for (kx = w.x_start; kx < w.x_end; ++kx) {
                            acc += in_img[((w.y0 + ky) * p->in_w + (w.x0 + kx)) * p->channels + c];
                        }
                    }
                    if (count > 0) {
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    }
                    out[c] = ac_clamp_s8(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}
