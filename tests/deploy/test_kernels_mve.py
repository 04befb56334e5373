"""The Helium requantisation (kernels/ac_mve.h: VQRDMULH, y + (y >> 31), VRSHL by -e) equals TFLM's
MultiplyByQuantizedMultiplier wherever the MVE kernels use it (multiplier in [2^30, 2^31),
shift <= -2, any int32 input). The host cannot run MVE, so this is the host-side check: the three
instructions are written out from the Arm architecture pseudocode on Python integers (no
overflow to hide) and compared with the Python model of TFLM's arithmetic over the INT32
extremes, exact rounding ties of both steps and random values. The QEMU tests
(test_kernels_qemu.py, cortex-m55) run the real instructions against TFLM.
"""

from __future__ import annotations

import numpy as np

from acdeploy.deploy.quant import multiply_by_quantized_multiplier

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1


def _sat32(v: int) -> int:
    return max(I32_MIN, min(I32_MAX, v))


def vqrdmulh(a: int, b: int) -> int:
    """VQRDMULH.S32: SignedSat((2 * a * b + 2^31) >> 32)."""
    return _sat32((2 * a * b + (1 << 31)) >> 32)


def vrshl(a: int, shift: int) -> int:
    """VRSHL.S32 by a negative count: (a + 2^(n-1)) >> n on the unbounded value, truncated to 32 bits."""
    n = -shift
    v = (a + (1 << (n - 1))) >> n
    return (v + (1 << 31)) % (1 << 32) - (1 << 31)


def mve_requant(x: int, m: int, shift: int) -> int:
    y = vqrdmulh(x, m)
    y = _wrap(y + (y >> 31))  # VSHR #31 then VADD.I32 (wrapping)
    return vrshl(y, shift)


def _wrap(v: int) -> int:
    return (v + (1 << 31)) % (1 << 32) - (1 << 31)


def _cases(rng: np.random.Generator) -> list[tuple[int, int, int]]:
    mults = [1 << 30, (1 << 30) + 1, I32_MAX, I32_MAX - 1, 1518500250, 1662649064]
    mults += [int(v) for v in rng.integers(1 << 30, 1 << 31, 40)]
    out = []
    for m in mults:
        for shift in (-2, -3, -5, -8, -12, -20, -31):
            e = -shift
            xs = [0, 1, -1, I32_MIN, I32_MIN + 1, I32_MAX, I32_MAX - 1, 1 << 30, -(1 << 30)]
            # x for which SRDHM's result is an exact tie of RoundingDivideByPOT: y = (k + 1/2) 2^e,
            # and x near SRDHM's own rounding tie (2 x m = (2j + 1) 2^31).
            for k in (-3, -2, -1, 0, 1, 2, 1000, -1000):
                y = (2 * k + 1) << (e - 1)
                x0 = (y << 31) // m
                xs += [x0 - 1, x0, x0 + 1]
            for j in (-5, 0, 5):
                x0 = ((2 * j + 1) << 30) // m
                xs += [x0 - 1, x0, x0 + 1]
            xs += [int(v) for v in rng.integers(I32_MIN, I32_MAX, 30, endpoint=True)]
            xs += [int(v) for v in rng.integers(-(1 << 20), 1 << 20, 30)]
            out += [(x, m, shift) for x in xs if I32_MIN <= x <= I32_MAX]
    return out


def test_mve_requant_equals_tflm_on_ties_and_extremes():
    cases = _cases(np.random.default_rng(16))
    assert len(cases) > 10_000
    bad = [(x, m, s) for x, m, s in cases if mve_requant(x, m, s) != multiply_by_quantized_multiplier(x, m, s)]
    assert not bad, f"{len(bad)} mismatches, first {bad[:5]}"


def test_the_check_can_fail():
    """Without the y + (y >> 31) correction VRSHL rounds negative ties up, unlike TFLM."""
    m, shift = 1 << 30, -2
    x = -(1 << 2)  # SRDHM gives y = -2 (an exact tie of y / 4): TFLM -1, plain VRSHL 0
    assert multiply_by_quantized_multiplier(x, m, shift) == -1
    assert vrshl(vqrdmulh(x, m), shift) == 0
    assert mve_requant(x, m, shift) == -1
