"""The DSP pointwise kernel's four-pixel path (kernels/ac_conv_1x1.c quad_*), bit for bit with TFLM.

Chains of 1x1 convs whose input widths reach each branch: an even and an odd number of 4-channel
steps (the assembly loop's two entry points), the widest input it takes (256) and the first it
leaves to the two-pixel path (260, and a width that is not a multiple of 4), an odd channel count
(the int16-weight variant reads that channel's int8 row), the SSAT and the clamp output, and pixel
counts that leave 0-3 pixels after the groups of four. Each chain is generated with
int16 weight copies (objective speed) and without (size). Host: the C form of the loop (intrinsics
emulated, ASan/UBSan); QEMU (slow): the assembly on a Cortex-M4.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_tools
from kernel_cases import ModelBuilder, _act_code, _opts, _pad_code, _weights, _zp
from kernel_harness import build_and_run, mismatches, prepare

from acdeploy import artifacts, fileio
from acdeploy.deploy import codegen, firmware
from acdeploy.deploy.c_engine import write_network_project
from acdeploy.deploy.memory_plan import plan_memory
from acdeploy.deploy.targets import get_target
from acdeploy.deploy.tflite_reader import read_tflite

# (output channels, activation) per layer; the input has 8 channels.
LAYERS = ((12, "RELU"), (33, "NONE"), (36, "RELU"), (44, "NONE"), (256, "RELU"), (260, "NONE"), (9, "RELU"))
# batches, height, width: 3 pixels left over per batch (one more group of four, overlapping), 2 (a
# pair), none, 1 (a single pixel), 3 pixels in all (a pair and a single one).
SHAPES = ((2, 1, 7), (2, 2, 3), (1, 4, 4), (1, 1, 5), (1, 1, 3))
OBJECTIVES = ("speed", "size")


def chain(shape: tuple[int, int, int], seed: int) -> bytes:
    """Each layer's output scale is set from a float run of the chain on random inputs so that its
    outputs spread over the int8 range (std ~40 LSB): an error in any layer reaches the output."""
    rng = np.random.default_rng(seed)
    b, h, w = shape
    m = ModelBuilder()
    in_s, in_zp, ic = 0.05, _zp(rng), 8
    x0 = x = m.tensor((b, h, w, ic), scale=in_s, zp=in_zp, name="input")
    xq = rng.integers(-128, 128, size=(64, ic))
    for i, (oc, act) in enumerate(LAYERS):
        w_s = rng.uniform(0.01, 0.02, oc).astype(np.float32)
        wq = _weights(rng, (oc, 1, 1, ic))
        bq = rng.integers(-2000, 2000, size=oc).astype(np.int32)
        acc = (xq - in_zp) @ wq.reshape(oc, ic).T.astype(np.int64) + bq
        real = acc * (in_s * w_s)
        out_s = float(np.float32(real.std() / 40))
        zp = int(rng.integers(-110, -90)) if act == "RELU" else int(rng.integers(-20, 21))
        yq = np.clip(np.round(real / out_s) + zp, zp if act == "RELU" else -128, 127)
        wt = m.tensor((oc, 1, 1, ic), scale=w_s, zp=np.zeros(oc, int), data=wq, name=f"filter{i}")
        bias = m.tensor((oc,), "int32", scale=(np.float32(in_s) * w_s).astype(np.float32), zp=np.zeros(oc, int),
                        data=bq, name=f"bias{i}")
        y = m.tensor((b, h, w, oc), scale=out_s, zp=zp, name=f"act{i}")
        m.op("CONV_2D", [x, wt, bias], [y], _opts("Conv2DOptionsT", padding=_pad_code(False), strideW=1, strideH=1,
                                                   fusedActivationFunction=_act_code(act), dilationWFactor=1,
                                                   dilationHFactor=1))
        x, xq, in_s, in_zp, ic = y, yq, out_s, zp, oc
    return m.build([x0], [x])


MODELS = [chain(s, 100 + i) for i, s in enumerate(SHAPES)]


def _nets():
    return [n for obj in OBJECTIVES for n in prepare(MODELS, n_vectors=2, seed=16, objective=obj,
                                                     names=[f"{obj}{i}" for i in range(len(MODELS))])]


def test_chains_reach_both_weight_layouts_and_both_clamps():
    """The cases test what they claim: int16 copies only under speed, SSAT and clamp variants."""
    nets = _nets()
    speed = "".join(n.code.source for n in nets if n.name.startswith("speed"))
    size = "".join(n.code.source for n in nets if n.name.startswith("size"))
    assert "AC_CONV2D_1X1_W16(" in speed and "AC_CONV2D_1X1_W16_SAT(" in speed
    assert "AC_CONV2D_1X1_W16" not in size
    assert "ac_conv2d_1x1_tables(" in size and "ac_conv2d_1x1_tables_sat(" in size


def test_quad_path_bit_exact_with_tflm_host(tmp_path):
    nets = _nets()
    got, _ = build_and_run(nets, tmp_path, dsp_emulate=True)
    assert mismatches(nets, got) == []


@pytest.mark.slow
@pytest.mark.toolchain
@pytest.mark.parametrize("objective", OBJECTIVES)
def test_quad_path_bit_exact_with_tflm_in_qemu_m4(objective, tmp_path):
    """The assembly loop on the real instruction set: two batches of 7 pixels (int16 copies: two
    overlapping groups of four each) or of 6 (int8: a group of four and a pair each)."""
    require_tools("arm-none-eabi-gcc", "qemu-system-arm", "make")
    model = MODELS[0 if objective == "speed" else 1]
    fw = tmp_path / "firmware"
    write_network_project(model, fw, n_vectors=2)
    g = read_tflite(model)
    net = codegen.generate(g, plan_memory(g), source_name="model", objective=objective)
    fileio.write_text(fw / artifacts.ACNET_C, net.source)
    fileio.write_text(fw / artifacts.ACNET_H, net.header)
    t = get_target("cortex-m4")
    run = firmware.run_qemu(firmware.build_firmware(tmp_path, t, dsp=True), t.qemu_machine, timeout=120)
    assert run.passed, f"{objective}: firmware outputs differ from TFLM\n{run.log[-2000:]}"
