"""Requantization parameters, computed offline exactly as TensorFlow Lite Micro computes them at
Prepare time (tensorflow/lite/kernels/internal/quantization_util.cc, kernel_util.cc and the
TFLM *_common.cc kernels), so the generated C needs only integer arithmetic.

Every function here mirrors one TFLM routine; the comments name it. Float rounding matters:
where TFLM multiplies two float32 scales in float before widening to double, so do we.
"""

from __future__ import annotations

import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127


def round_half_away(x: float) -> int:
    """std::round / TfLiteRound: ties away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier: real = M * 2^(shift - 31) with M in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = round_half_away(q * (1 << 31))  # exact: q has 53 bits, the product only moves the exponent
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return int(q_fixed), int(shift)


def quantize_multiplier_smaller_than_one(real: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp (ADD): like quantize_multiplier, shift must be <= 0."""
    m, s = quantize_multiplier(real)
    if s > 0:
        raise ValueError(f"multiplier {real} is not below one")
    return m, s


def quantize_multiplier_greater_than_one(real: float) -> tuple[int, int]:
    """QuantizeMultiplierGreaterThanOne (SOFTMAX): TFLM checks real > 1 (and aborts otherwise)."""
    if not real > 1.0:
        raise ValueError(f"multiplier {real} is not above one")
    return quantize_multiplier(real)


def activation_range(activation: str | None, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8: f / scale in float32, rounded half away."""
    s = np.float32(scale)

    def q(f: float) -> int:
        return int(zero_point) + round_half_away(float(np.float32(f) / s))

    act = (activation or "NONE").upper()
    if act == "NONE":
        return INT8_MIN, INT8_MAX
    if act == "RELU":
        return max(INT8_MIN, q(0.0)), INT8_MAX
    if act == "RELU6":
        return max(INT8_MIN, q(0.0)), min(INT8_MAX, q(6.0))
    if act == "RELU_N1_TO_1":
        return max(INT8_MIN, q(-1.0)), min(INT8_MAX, q(1.0))
    raise ValueError(f"fused activation {activation} is not supported")


def per_channel_multipliers(in_scale: float, filter_scales: np.ndarray, out_scale: float,
                            channels: int) -> tuple[list[int], list[int]]:
    """PopulateConvolutionQuantizationParams (conv, depthwise, per-channel FC):
    double(in_s) * double(filter_s[c]) / double(out_s), a per-tensor filter scale broadcast."""
    fs = np.asarray(filter_scales, np.float32).reshape(-1)
    mults, shifts = [], []
    for c in range(channels):
        f = float(fs[c if fs.size > 1 else 0])
        m, s = quantize_multiplier(float(np.float32(in_scale)) * f / float(np.float32(out_scale)))
        mults.append(m)
        shifts.append(s)
    return mults, shifts


def fc_per_tensor_multiplier(in_scale: float, filter_scale: float, out_scale: float) -> tuple[int, int]:
    """GetQuantizedConvolutionMultipler (per-tensor FC): the scale product is taken in float32."""
    product = float(np.float32(in_scale) * np.float32(filter_scale))
    return quantize_multiplier(product / float(np.float32(out_scale)))


def mean_multiplier(in_scale: float, out_scale: float, count: int) -> tuple[int, int]:
    """MEAN (reduce_common.cc + QuantizedMeanOrSum): QuantizeMultiplier(in/out), then 1/count
    folded in with the same integer steps TFLM runs at Eval."""
    m, s = quantize_multiplier(float(np.float32(in_scale)) / float(np.float32(out_scale)))
    # 63 - CountLeadingZeros(uint64 count) is the index of the top set bit.
    sh = min(int(count).bit_length() - 1, 32, 31 + s)
    # (int64(M) << sh) / count with C truncating division (both positive here).
    m2 = (m << sh) // count
    return int(m2), int(s - sh)


def add_params(s1: float, s2: float, s_out: float, left_shift: int = 20) -> dict[str, int]:
    """ADD int8 (add_common.cc CalculateOpDataAdd)."""
    s1d, s2d, sod = (float(np.float32(v)) for v in (s1, s2, s_out))
    twice_max = 2.0 * max(s1d, s2d)
    m1, sh1 = quantize_multiplier_smaller_than_one(s1d / twice_max)
    m2, sh2 = quantize_multiplier_smaller_than_one(s2d / twice_max)
    mo, sho = quantize_multiplier_smaller_than_one(twice_max / ((1 << left_shift) * sod))
    return {"left_shift": left_shift, "input1_multiplier": m1, "input1_shift": sh1,
            "input2_multiplier": m2, "input2_shift": sh2, "output_multiplier": mo, "output_shift": sho}


def multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    """TFLM's MultiplyByQuantizedMultiplier for shift <= 0 on Python integers: gemmlowp's
    SaturatingRoundingDoublingHighMul (C truncating division), then RoundingDivideByPOT(-shift)."""
    if x == multiplier == -(1 << 31):
        high = (1 << 31) - 1
    else:
        ab = x * multiplier
        num = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
        high = abs(num) >> 31 if num >= 0 else -(abs(num) >> 31)
    mask = (1 << -shift) - 1
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    return (high >> -shift) + (1 if (high & mask) > threshold else 0)


def add_input_table(offset: int, multiplier: int, shift: int, left_shift: int = 20) -> list[int]:
    """ADD's per-input rescale for every int8 value q (index q + 128), exactly as TFLM computes it
    per element: MultiplyByQuantizedMultiplierSmallerThanOneExp((q + offset) << left_shift, M, s)."""
    def wrap(v: int) -> int:  # the kernel's int32 shift wraps like TFLM's
        return (v + (1 << 31)) % (1 << 32) - (1 << 31)

    return [multiply_by_quantized_multiplier(wrap((q + offset) << left_shift), multiplier, shift)
            for q in range(-128, 128)]


def softmax_params(beta: float, in_scale: float, integer_bits: int = 5) -> dict[str, int]:
    """SOFTMAX int8 (softmax_common.cc): PreprocessSoftmaxScaling + CalculateInputRadius."""
    real = min(float(beta) * float(np.float32(in_scale)) * (1 << (31 - integer_bits)), float((1 << 31) - 1))
    mult, left_shift = quantize_multiplier_greater_than_one(real)
    max_rescaled = 1.0 * ((1 << integer_bits) - 1) * (1 << (31 - integer_bits)) / (1 << left_shift)
    radius = math.floor(max_rescaled)
    return {"input_multiplier": mult, "input_left_shift": left_shift, "diff_min": -radius}


def same_padding(in_size: int, kernel: int, stride: int, dilation: int, out_size: int) -> int:
    """ComputePaddingWithOffset: the leading pad; any odd pixel goes to the end."""
    effective = (kernel - 1) * dilation + 1
    total = max((out_size - 1) * stride + effective - in_size, 0)
    return total // 2
