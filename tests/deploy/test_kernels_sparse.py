"""Zero-skipping kernels (firmware_stub/kernels/ac_conv_sparse.c, ac_fc_sparse.c) against the
TFLM runtime, bit for bit: random CONV_2D (1x1 and KxK, stride, padding, dilation) and
FULLY_CONNECTED layers magnitude-pruned to 0, 50, 75, 90, 95 and 99 %, and whole pruned
networks, built with `weights="sparse"` into one host binary with ASan + UBSan, with the portable
and the DSP loops (intrinsics emulated); `test_sparse_firmware_in_qemu` builds pruned models with
`acdeploy build --weights sparse --run` for the Cortex-M4 (real DSP instructions) and checks the
firmware against TFLM's vectors."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from conftest import require_tools
from kernel_cases import cases, chain_case, prune, wide_fc_case
from kernel_harness import build_and_run, mismatches, prepare
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

from acdeploy.deploy.build import BuildOptions, build
from acdeploy.deploy.ops import sparse_weights
from acdeploy.deploy.tflite_reader import read_tflite

SPARSITIES = (0.0, 0.5, 0.75, 0.9, 0.95, 0.99)
SEED = 14
_CALL = re.compile(r"\n    (ac_\w+)\(&\w+_params")


GOLDEN = Path(__file__).resolve().parent / "golden" / "mixed.tflite"  # a whole network: conv, depthwise, FC


def _models() -> list[bytes]:
    rng = np.random.default_rng(SEED)
    base = [*cases("conv_fast", 8, SEED), *cases("conv", 4, SEED), *cases("fully_connected", 4, SEED),
            *(wide_fc_case(rng) for _ in range(2)), *(chain_case(rng) for _ in range(2)), GOLDEN.read_bytes()]
    return [prune(m, s, seed=i) for s in SPARSITIES for i, m in enumerate(base)]


@pytest.fixture(scope="module")
def nets():
    return prepare(_models(), n_vectors=2, seed=SEED, weights="sparse")


def test_sparse_kernels_are_called(nets):
    used = Counter(fn for n in nets for fn in _CALL.findall(n.code.source))
    for fn in ("ac_conv2d_sparse_1x1", "ac_conv2d_sparse_1x1_sat", "ac_conv2d_sparse_gather",
               "ac_conv2d_sparse_gather_sat", "ac_fully_connected_sparse"):
        assert used[fn] >= 3, used
    # A sparse layer keeps no dense copy of its weights.
    for n in nets:
        for f in n.code.formats:
            if f.format == "sparse":
                assert f"_l{f.index:02d}_filter[" not in n.code.source, n.name


@pytest.mark.parametrize("dsp", [False, True], ids=["portable", "dsp"])
def test_sparse_bit_exact_with_tflm(nets, tmp_path, dsp):
    got, _ = build_and_run(nets, tmp_path, dsp_emulate=dsp)
    assert mismatches(nets, got) == []


def _dead_channel(model: bytes) -> bytes:
    """Output channel 0 of the model's first op pruned away, with the weight scale TFLite's converter
    gives an all-zero channel (about 4e-9: a multiplier far below the fast table's range)."""
    m = fb.ModelT.InitFromPackedBuf(model, 0)
    sg = m.subgraphs[0]
    op = sg.operators[0]
    w = sg.tensors[op.inputs[1]]
    buf = m.buffers[w.buffer]
    data = np.frombuffer(bytes(np.asarray(buf.data, np.uint8)), np.int8).reshape(w.shape).copy()
    data[0] = 0
    buf.data = data.tobytes()
    scale = np.array(w.quantization.scale, np.float32)
    scale[0] = 3.937008e-09
    w.quantization.scale = scale.tolist()
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        in_scale = np.float32(sg.tensors[op.inputs[0]].quantization.scale[0])
        sg.tensors[op.inputs[2]].quantization.scale = (in_scale * scale).astype(np.float32).tolist()
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_a_pruned_away_channel_keeps_the_sparse_kernel(tmp_path):
    # A trained ticket can prune a whole output channel; its degenerate scale must not cost the
    # layer its requantisation table (and with it the sparse kernel): the channel's constant output
    # gets a table row of its own, bit-exact with TFLM.
    picked = []
    for i, m in enumerate(cases("conv_fast", 40, SEED + 2)):
        w = read_tflite(m).tensor(read_tflite(m).operators[0].inputs[1])
        if w.shape[0] >= 2 and len(np.atleast_1d(w.quant.scale)) == w.shape[0]:
            picked.append(prune(m, 0.9, seed=i))
    before = prepare(picked, n_vectors=2, seed=SEED, weights="sparse")
    sparse = [k for k, n in enumerate(before) if n.code.formats[0].format == "sparse"]
    assert len(sparse) >= 4
    dead = [_dead_channel(picked[k]) for k in sparse]
    nets = prepare(dead, n_vectors=2, seed=SEED, weights="sparse")
    assert [n.code.formats[0].format for n in nets] == ["sparse"] * len(sparse)
    # the dense kernels that read the same rows keep them too
    dense = prepare(dead, n_vectors=2, seed=SEED, weights="dense", names=[f"d{k}" for k in sparse])
    assert ([n.code.formats[0].variant for n in dense]
            == [n.code.formats[0].variant for n in prepare([picked[k] for k in sparse], weights="dense")])
    for dsp in (False, True):
        got, _ = build_and_run(nets + dense, tmp_path / str(dsp), dsp_emulate=dsp)
        assert mismatches(nets + dense, got) == []


def test_encodings_round_trip():
    rng = np.random.default_rng(0)
    for s in SPARSITIES:
        w = rng.integers(-127, 128, (7, 3, 3, 5)).astype(np.int8)
        w[rng.random(w.shape) < s] = 0
        enc = sparse_weights.encode_conv(w)
        assert np.array_equal(sparse_weights.decode_conv(enc, 45), w.reshape(7, -1))
        odd = int(np.sum(np.count_nonzero(w.reshape(7, -1), axis=1) % 2))
        assert sparse_weights.conv_bytes(enc) == 2 * np.count_nonzero(w) + 2 * odd
        fc = rng.integers(-127, 128, (3, 900)).astype(np.int8)
        fc[rng.random(fc.shape) < s] = 0
        fc[0, :600] = 0  # a gap of 600: bridged by two weight-0 entries
        e = sparse_weights.encode_fc(fc)
        assert np.array_equal(sparse_weights.decode_fc(e, 900), fc)
    assert sparse_weights.encode_conv(np.ones((2, 3, 3, 29), np.int8)) is None  # 261 taps: no uint8 index


def _qemu_models() -> dict[str, bytes]:
    """One 90 %-pruned model per sparse path: 1x1 stride 1 (four-pixel, two-pixel and odd-pixel
    passes), 1x1 stride 2, gathered KxK, fully connected over 255 deep, and the whole golden network."""
    rng = np.random.default_rng(SEED + 1)
    picked: dict[str, bytes] = {}
    for m in cases("conv_fast", 120, SEED + 1):
        g = read_tflite(m)
        op = g.operators[0]
        x, w = g.tensor(op.inputs[0]), g.tensor(op.inputs[1])
        pixels, k, stride = int(np.prod(x.shape[1:3])), int(w.shape[1]), int(op.options.get("stride_w", 1))
        kind = ("1x1" if k == 1 and stride == 1 and pixels % 4 == 3 else "1x1_s2" if k == 1 and stride == 2
                else "gather" if k > 1 and op.options.get("padding") == "SAME" else None)
        if kind and kind not in picked:
            picked[kind] = prune(m, 0.9, seed=len(picked))
    picked["fc_wide"] = prune(wide_fc_case(rng), 0.9)
    picked["network"] = prune(GOLDEN.read_bytes(), 0.9)
    return picked


@pytest.mark.slow
@pytest.mark.toolchain
def test_sparse_firmware_in_qemu(tmp_path):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm", "make")
    models = _qemu_models()
    assert set(models) == {"1x1", "1x1_s2", "gather", "fc_wide", "network"}
    for kind, model in models.items():
        path = tmp_path / f"{kind}.tflite"
        path.write_bytes(model)
        rep = build(path, "cortex-m4", tmp_path / kind, options=BuildOptions(run=True, weights="sparse", num_vectors=3))
        assert any(f["format"] == "sparse" for f in rep.network.weight_formats), kind
        assert rep.firmware.passed, f"{kind}: firmware outputs differ from TFLM ({rep.firmware.run_log})"
