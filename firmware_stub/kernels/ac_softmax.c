/* SOFTMAX int8 -> int8 (TFLM reference_ops::Softmax, quantized): gemmlowp fixed-point
 * exp(x) for x <= 0 on Q5.26 differences, a Q12.19 sum, the Newton-Raphson reciprocal
 * 1/(1+x), and a rounding shift to the output scale 1/256 (zero point -128).
 *
 * Raw int32 fixed-point values throughout; "Fk" below means k integer bits (Q(k).(31-k)).
 */
#include "ac_kernels.h"

#include "ac_fixedpoint.h"

#define FIX_ONE_F0 INT32_MAX /* gemmlowp F0::One(): 1.0 is not representable, saturates */

/* Saturating multiply by 2^e (e > 0), or rounding divide (e < 0): gemmlowp Rescale. */
static int32_t sat_mul_pot(int32_t x, int32_t e)
{
    if (e > 0) {
        const int32_t threshold = (int32_t)(((int64_t)1 << (31 - e)) - 1);
        if (x > threshold) {
            return INT32_MAX;
        }
        if (x < -threshold) {
            return INT32_MIN;
        }
        return (int32_t)((uint32_t)x << e);
    }
    if (e < 0) {
        return ac_rdbp(x, -e);
    }
    return x;
}

/* exp(a) for a in [-1/4, 0), a and result F0 (gemmlowp Taylor series around -1/8). */
static int32_t exp_quarter_interval(int32_t a)
{
    const int32_t constant_term = 1895147668;   /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883; /* 1/3 */
    const int32_t x = a + (1 << 28);             /* a + 1/8 */
    const int32_t x2 = ac_srdhm(x, x);
    const int32_t x3 = ac_srdhm(x2, x);
    const int32_t x4 = ac_srdhm(x2, x2);
    const int32_t x4_over_4 = sat_mul_pot(x4, -2);
    const int32_t poly = sat_mul_pot(ac_srdhm(x4_over_4 + x3, constant_1_over_3) + x2, -1);
    return constant_term + ac_srdhm(constant_term, x + poly);
}

/* exp(a) for a <= 0; a is F5 (26 fractional bits), the result F0. */
static int32_t exp_on_negative_values(int32_t a)
{
    static const int32_t barrel[7] = {
        1672461947, /* exp(-1/4) */
        1302514674, /* exp(-1/2) */
        790015084,  /* exp(-1)   */
        290630308,  /* exp(-2)   */
        39332535,   /* exp(-4)   */
        720401,     /* exp(-8)   */
        242,        /* exp(-16)  */
    };
    const int32_t one_quarter = 1 << 24;
    const int32_t a_mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter;
    int32_t result = exp_quarter_interval(sat_mul_pot(a_mod_quarter_minus_quarter, 5));
    const int32_t remainder = a_mod_quarter_minus_quarter - a;
    int32_t k;
    for (k = 0; k < 7; ++k) {
        if (remainder & (1 << (24 + k))) {
            result = ac_srdhm(result, barrel[k]);
        }
    }
    return a == 0 ? FIX_ONE_F0 : result;
}

/* gemmlowp one_over_one_plus_x_for_x_in_0_1: x F0 in [0, 1), result F0. */
static int32_t one_over_one_plus_x(int32_t a)
{
    const int64_t sum = (int64_t)a + (int64_t)FIX_ONE_F0;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2); /* F0 */
    const int32_t c48_17 = 1515870810;   /* 48/17, F2 */
    const int32_t cm32_17 = -1010580540; /* -32/17, F2 */
    int32_t x = c48_17 + ac_srdhm(half_denominator, cm32_17); /* F2 */
    int32_t i;
    for (i = 0; i < 3; ++i) {
        const int32_t hdx = ac_srdhm(half_denominator, x);      /* F2 */
        const int32_t one_minus = (1 << 29) - hdx;              /* F2 */
        x = x + sat_mul_pot(ac_srdhm(x, one_minus), 2);         /* F4 -> F2 */
    }
    return sat_mul_pot(x, 1); /* x/2 as F1, rescaled to F0 */
}

static int32_t count_leading_zeros(uint32_t x)
{
    int32_t n = 0;
    if (x == 0) {
        return 32;
    }
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
    return n;
}

/* exp of one input's difference to the row maximum (F0), or 0 below diff_min (not counted). */
static int32_t softmax_exp(const ac_softmax_params *p, int32_t diff)
{
    if (diff < p->diff_min) {
        return 0;
    }
    return exp_on_negative_values(ac_srdhm((int32_t)((uint32_t)diff << p->input_left_shift), p->input_multiplier));
}

/* Rows up to this depth keep their exp values on the stack (computed once, not twice). */
#define AC_SOFTMAX_CACHE 32

void ac_softmax(const ac_softmax_params *p, const int8_t *input, int8_t *output)
{
    int32_t r, c;
    for (r = 0; r < p->rows; ++r) {
        const int8_t *in = input + r * p->depth;
        int8_t *out = output + r * p->depth;
        const int32_t cached = p->depth <= AC_SOFTMAX_CACHE;
        int32_t exps[AC_SOFTMAX_CACHE];
        int32_t max_in_row = -128, sum_of_exps = 0, headroom, num_bits_over_unit, shifted_scale;
        for (c = 0; c < p->depth; ++c) {
            max_in_row = in[c] > max_in_row ? in[c] : max_in_row;
        }
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            const int32_t e = softmax_exp(p, diff);
            if (cached) {
                exps[c] = e;
            }
            if (diff >= p->diff_min) {
                sum_of_exps += sat_mul_pot(e, -12); /* F0 -> F12 */
            }
        }
        /* GetReciprocal(sum, 12 integer bits). */
        headroom = count_leading_zeros((uint32_t)sum_of_exps);
        num_bits_over_unit = 12 - headroom;
        shifted_scale = one_over_one_plus_x((int32_t)(((uint32_t)sum_of_exps << headroom) - 0x80000000u));
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t e = cached ? exps[c] : softmax_exp(p, diff);
                const int32_t unsat = ac_rdbp(ac_srdhm(shifted_scale, e), num_bits_over_unit + 31 - 8);
                out[c] = ac_clamp_s8(unsat - 128, -128, 127);
            } else {
                out[c] = -128;
            }
        }
    }
}
