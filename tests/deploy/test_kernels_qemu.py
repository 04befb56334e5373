"""The specialised DSP paths with the REAL Cortex-M4 instructions (SMLAD, SXTB16, SMLAL, ...), not
the host emulation, and the Helium (MVE) paths with the real Cortex-M55 instructions (VMLADAVA,
VQRDMULH, VRSHL, ...): single-op models that reach each path are built as firmware, run in QEMU
(mps2-an386, mps3-an547) and compared with TFLite Micro's outputs on random int8 inputs (the firmware's own
self-test against the vectors TFLM produced).

Paths: 1x1 conv with adjacent pixels, folded bias and the requantisation table (int8 and int16
pre-extended weights); 1x1 stride 2;
the gathered-taps conv for 1-3 input channels and the 3x3 one-channel stem; depthwise 3x3 interior + borders; a layer whose
multipliers need the exact (not the fast) requantisation; odd channel counts; ADD from its tables; max and average pooling; fully connected.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_tools
from kernel_cases import cases

from acdeploy.deploy import firmware
from acdeploy.deploy.c_engine import write_network_project
from acdeploy.deploy.targets import get_target
from acdeploy.deploy.tflite_reader import read_tflite

pytestmark = [pytest.mark.toolchain, pytest.mark.slow]


def _kind(model: bytes) -> str | None:
    g = read_tflite(model)
    op = g.operators[0]
    if op.opcode in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        kind = "max_pool" if op.opcode == "MAX_POOL_2D" else "avg_pool"
        return kind if g.tensor(op.inputs[0]).shape[3] % 8 else None  # Helium tail too
    if op.opcode == "FULLY_CONNECTED":
        return "fully_connected" if int(g.tensor(op.inputs[1]).shape[0]) % 4 else None
    if op.opcode not in ("CONV_2D", "DEPTHWISE_CONV_2D", "ADD"):
        return None
    x, w = g.tensor(op.inputs[0]), g.tensor(op.inputs[1])
    if op.opcode == "ADD":
        return "add" if x.shape == w.shape and int(np.prod(x.shape)) % 4 else None  # Helium tail too
    _, h, wd, c = x.shape
    stride = int(op.options.get("stride_w", 1))
    if op.opcode == "DEPTHWISE_CONV_2D":
        if c >= 16:
            return "dw3x3_wide" if h >= 4 and wd >= 4 and c % 16 else None  # 16-channel steps and the rest
        return "dw3x3" if h >= 4 and wd >= 4 and c % 4 else None
    k = int(w.shape[1])
    if k == 1 and stride == 1 and h * wd >= 3 and c % 4 == 0 and 8 <= c <= 48 and int(w.shape[0]) >= 4:
        return "pointwise_int16"  # pre-extended weights (filter16)
    if k == 1 and stride == 1 and h * wd >= 3 and c >= 9 and c % 4 and int(w.shape[0]) % 2:
        return "pointwise_odd"
    if k == 1 and stride == 1 and h * wd >= 4 and c >= 8:
        return "pointwise"
    if k == 1 and stride == 2 and h * wd >= 4:
        return "pointwise_s2"
    if k == 5 and c >= 2 and h >= 3 and wd >= 3:
        return "rows_5x5"  # exact requantisation, row runs (Helium: partial runs at the borders)
    if k == 3 and c == 1 and h >= 3 and wd >= 3 and int(op.options.get("dilation_wfactor", 1)) == 1:
        return "gather_3x3x1"  # the stem's register-resident taps
    if k == 3 and c <= 3 and h >= 3:
        return "gather"
    return None


def _pick() -> dict[str, bytes]:
    picked: dict[str, bytes] = {}
    for fam, n in (("conv_fast", 300), ("depthwise_fast", 40), ("depthwise_wide", 20), ("add", 40), ("pool", 40),
                   ("fully_connected", 40)):
        for m in cases(fam, n, 7):
            kind = _kind(m)
            if kind and kind not in picked:
                picked[kind] = m
    return picked


MODELS = _pick()


def test_every_path_has_a_model():
    assert set(MODELS) == {"pointwise", "pointwise_int16", "pointwise_odd", "pointwise_s2", "gather", "gather_3x3x1",
                           "dw3x3", "dw3x3_wide", "add", "rows_5x5", "max_pool", "avg_pool", "fully_connected"}


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_real_dsp_instructions_bit_exact_in_qemu(kind, target, tmp_path):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm", "make")
    t = get_target(target)
    write_network_project(MODELS[kind], tmp_path / "firmware", n_vectors=3)
    run = firmware.run_qemu(firmware.build_firmware(tmp_path, t, dsp=True), t.qemu_machine, timeout=120)
    assert run.passed, f"{kind} on {target}: firmware outputs differ from TFLM\n{run.log[-2000:]}"


def _dw3x3_key(model: bytes) -> tuple | None:
    """The DSP depthwise 3x3 path's branches a model reaches: stride, padding, whole channel groups
    only or a remainder, clamp (the SSAT variant only when the activation leaves all of int8)."""
    g = read_tflite(model)
    op = g.operators[0]
    w = g.tensor(op.inputs[1]) if op.opcode == "DEPTHWISE_CONV_2D" else None
    o = op.options
    if w is None or tuple(w.shape[1:3]) != (3, 3) or o["depth_multiplier"] != 1 or o["dilation_wfactor"] != 1 \
            or o["dilation_hfactor"] != 1:
        return None
    return (o["stride_w"], o["padding"], int(w.shape[3]) % 4 == 0, o["fused_activation_function"] == "NONE")


def _pick_dw3x3() -> dict[str, bytes]:
    picked: dict[tuple, bytes] = {}
    for fam in ("depthwise_fast", "depthwise_wide"):
        for m in cases(fam, 60, 11):
            key = _dw3x3_key(m)
            if key and key[:3] not in {k[:3] for k in picked}:
                picked[key] = m
    return {"-".join(str(v) for v in k): m for k, m in sorted(picked.items())}


DW3X3 = _pick_dw3x3()


@pytest.mark.parametrize("name", sorted(DW3X3))
def test_depthwise_3x3_branches_bit_exact_on_m4(name, tmp_path):
    """The M4 depthwise 3x3 kernel's assembly interior, border loops (SAME and VALID, strides 1 and 2)
    and leftover channels against TFLM, one model per combination."""
    require_tools("arm-none-eabi-gcc", "qemu-system-arm", "make")
    t = get_target("cortex-m4")
    write_network_project(DW3X3[name], tmp_path / "firmware", n_vectors=3)
    run = firmware.run_qemu(firmware.build_firmware(tmp_path, t, dsp=True), t.qemu_machine, timeout=120)
    assert run.passed, f"depthwise 3x3 {name}: firmware outputs differ from TFLM\n{run.log[-2000:]}"


def test_depthwise_3x3_branches_covered():
    keys = {tuple(k.split("-")) for k in DW3X3}
    assert {k[0] for k in keys} >= {"1", "2"} and {k[1] for k in keys} == {"SAME", "VALID"}
    assert {k[2] for k in keys} == {"True", "False"}
