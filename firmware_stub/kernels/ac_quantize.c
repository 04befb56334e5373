/* QUANTIZE float -> int8 and DEQUANTIZE int8 -> float, for float-I/O models.
 * TFLM AffineQuantize divides in double and rounds half away from zero; Dequantize multiplies
 * in double and narrows to float, which equals one float multiply (the exact product of a
 * float and a 9-bit integer fits a double, so both round once, to the same float).
 */
#include "ac_kernels.h"

#include "ac_fixedpoint.h"

static int32_t round_half_away(double v)
{
    double t;
    if (v > 2147483520.0) {
        return INT32_MAX;
    }
    if (v < -2147483520.0) {
        return INT32_MIN;
    }
    t = (double)(int32_t)v; /* truncation toward zero, exact in this range */
    if (v - t >= 0.5) {
        t += 1.0;
    } else if (t - v >= 0.5) {
        t -= 1.0;
    }
    return (int32_t)t;
}

void ac_quantize(const float *input, int8_t *output, int32_t size, float scale, int32_t zero_point)
{
    int32_t i;
    for (i = 0; i < size; ++i) {
        const int32_t q = round_half_away((double)input[i] / (double)scale);
        /* Saturating add: q may be near INT32_MAX for huge inputs. */
        const int32_t v = q > 127 - zero_point ? 127 : (q < -128 - zero_point ? -128 : q + zero_point);
        output[i] = (int8_t)v;
    }
}

void ac_dequantize(const int8_t *input, float *output, int32_t size, float scale, int32_t zero_point)
{
    int32_t i;
    for (i = 0; i < size; ++i) {
        output[i] = (float)((int32_t)input[i] - zero_point) * scale;
    }
}
