"""The DSP depthwise 3x3 kernel's channel groups that cannot take its doubled sums.

The 3x3 path (firmware_stub/kernels/ac_depthwise_dsp.c) sums 2 (acc + bias) and requantises with
SMMLAR, which stays within int32 only for |bias| below about 2^30 and a rounding-plus-zero-point
word row[3] below 2^29; a group with a channel past either bound takes the in-image tap loop. The
random kernel cases keep biases within +-20,000, so these models put such channels next to
ordinary groups (a bias near +-2^30, and a channel whose tiny scale gives r = 23 and, with the
output zero point, |row[3]| > 2^29), on the host (portable and DSP loops, ASan/UBSan) and on the M4
in QEMU, against TFLM.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_tools
from kernel_cases import ModelBuilder, _act_code, _opts, _pad_code
from kernel_harness import build_and_run, mismatches, prepare

from acdeploy.deploy import firmware
from acdeploy.deploy.c_engine import write_network_project
from acdeploy.deploy.targets import get_target

BIG = (1 << 30) - 100


def _large_sum_model(stride: int, same: bool, act: str = "NONE", h: int = 6, w: int = 7, channels: int = 14) -> bytes:
    """DEPTHWISE_CONV_2D 3x3 whose channel groups 1 and 2 hold a channel past the doubled-sum bounds
    (act NONE: the SSAT variant; RELU_N1_TO_1: the clamped one)."""
    rng = np.random.default_rng(16 + stride + 2 * same)
    in_s, out_s = 0.05, 0.2
    w_s = np.full(channels, 0.01, np.float32)
    w_s[9] = 2.4e-7  # multiplier ~ 2^-24: r = 23, row[3] = 2^22 + 100 * 2^23 > 2^29
    bias = rng.integers(-20000, 20000, size=channels).astype(np.int32)
    bias[5], bias[6] = BIG, -BIG  # 2 (acc + bias) would leave int32
    bias[9] = 25_000_000  # bias * multiplier ~ 1.5: the sum's sign decides the rounding
    oh = (h + stride - 1) // stride if same else (h - 3) // stride + 1
    ow = (w + stride - 1) // stride if same else (w - 3) // stride + 1
    m = ModelBuilder()
    x = m.tensor((1, h, w, channels), scale=in_s, zp=-3, name="input")
    wt = m.tensor((1, 3, 3, channels), scale=w_s, zp=np.zeros(channels, int),
                  data=rng.integers(-127, 128, size=(1, 3, 3, channels)).astype(np.int8), axis=3, name="filter")
    b = m.tensor((channels,), "int32", scale=(np.float32(in_s) * w_s).astype(np.float32),
                 zp=np.zeros(channels, int), data=bias, name="bias")
    y = m.tensor((1, oh, ow, channels), scale=out_s, zp=100, name="output")
    m.op("DEPTHWISE_CONV_2D", [x, wt, b], [y],
         _opts("DepthwiseConv2DOptionsT", padding=_pad_code(same), strideW=stride, strideH=stride, depthMultiplier=1,
               fusedActivationFunction=_act_code(act)))
    return m.build([x], [y])


MODELS = {"s1_same": _large_sum_model(1, True), "s2_same_clamped": _large_sum_model(2, True, "RELU_N1_TO_1"),
          "s1_valid": _large_sum_model(1, False)}


def test_large_sum_groups_bit_exact_on_host(tmp_path):
    nets = prepare(list(MODELS.values()), n_vectors=3, seed=16, names=list(MODELS))
    for n in nets:
        assert "AC_DEPTHWISE_DSP" in n.code.source, n.name  # the table variants the 3x3 path serves
    for dsp in (False, True):
        got, _ = build_and_run(nets, tmp_path / ("dsp" if dsp else "portable"), dsp_emulate=dsp)
        assert mismatches(nets, got) == [], "DSP loops" if dsp else "portable loops"
        # The large channels did not all saturate: their requantisation is really exercised.
        assert len({int(v) for n in nets for v in got[n.name].reshape(-1, 14)[:, 9]}) > 1


@pytest.mark.slow
@pytest.mark.toolchain
def test_large_sum_groups_bit_exact_on_m4(tmp_path):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm", "make")
    t = get_target("cortex-m4")
    write_network_project(MODELS["s1_same"], tmp_path / "firmware", n_vectors=3)
    run = firmware.run_qemu(firmware.build_firmware(tmp_path, t, dsp=True), t.qemu_machine, timeout=120)
    assert run.passed, f"firmware outputs differ from TFLM\n{run.log[-2000:]}"
