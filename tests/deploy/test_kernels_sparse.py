"""Zero-skipping kernels (firmware_stub/kernels/ac_conv_sparse.c, ac_fc_sparse.c) against the
TFLM runtime, bit for bit: random CONV_2D (1x1 and KxK, stride, padding, dilation) and
FULLY_CONNECTED layers magnitude-pruned to 0, 50, 75, 90, 95 and 99 %, and whole pruned
networks, built with `weights="sparse"` into one host binary with ASan + UBSan, with the portable
and the DSP loops (intrinsics emulated). The DSP core's build in QEMU is
tests/deploy/test_kernels_qemu.py's job for the dense kernels; here `test_sparse_in_qemu` runs
the same cases on the Cortex-M4."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest
from kernel_cases import cases, chain_case, prune, wide_fc_case
from kernel_harness import build_and_run, mismatches, prepare

from acdeploy.deploy.ops import sparse_weights

SPARSITIES = (0.0, 0.5, 0.75, 0.9, 0.95, 0.99)
SEED = 14
_CALL = re.compile(r"\n    (ac_\w+)\(&\w+_params")


def _models() -> list[bytes]:
    rng = np.random.default_rng(SEED)
    base = [*cases("conv_fast", 8, SEED), *cases("conv", 4, SEED), *cases("fully_connected", 4, SEED),
            *(wide_fc_case(rng) for _ in range(2)), *(chain_case(rng) for _ in range(2))]
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
