"""Kernel variants chosen by the generator (deploy/ops/conv_emit.py `choose_variant`), each its
own function with its own params struct, tested against the reference kernels.

- The choice: one named variant per conv/depthwise layer, known from the layer's shape, its
  requantisation table and its clamp; the kernel library depends on no network (no generated
  header compiled into it) and has no run-time dispatch.
- The oracle: the same random models generated once with the optimized variants and once with
  the reference kernels (`ac_conv2d_ref`, `ac_depthwise_ref`) run in one binary, portable and
  with the DSP loops (intrinsics emulated), and must equal each other and TFLM bit for bit.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest
from kernel_cases import cases
from kernel_harness import build_and_run, kernels_dir, mismatches, prepare

from acdeploy.deploy.ops.conv_emit import ConvLayer, choose_variant

COUNTS = {"conv": 16, "depthwise": 16, "conv_fast": 60, "depthwise_fast": 30, "conv_grouped": 8}
SEED = 6
_CALL = re.compile(r"/\* layer \d+: (?:DEPTHWISE_)?CONV_2D '[^']*' \*/\n    (\w+)\(&(\w+_params)")


@pytest.fixture(scope="module")
def models():
    return [m for fam, n in COUNTS.items() for m in cases(fam, n, SEED)]


@pytest.fixture(scope="module")
def nets(models):
    return prepare(models, n_vectors=2, seed=SEED, names=[f"o{i}" for i in range(len(models))])


@pytest.fixture(scope="module")
def ref_nets(models):
    return prepare(models, n_vectors=2, seed=SEED, names=[f"r{i}" for i in range(len(models))], reference=True)


def _calls(net) -> list[str]:
    return [fn for fn, _ in _CALL.findall(net.code.source)]


def test_every_variant_is_chosen_and_named_in_the_call(nets):
    used = Counter(fn for n in nets for fn in _calls(n))
    assert sum(used.values()) == len(nets)  # one call per single-op case, each a named variant
    assert set(used) == {
        "ac_conv2d_rows", "ac_conv2d_1x1_tables", "ac_conv2d_1x1_tables_sat", "AC_CONV2D_1X1_W16",
        "AC_CONV2D_1X1_W16_SAT", "ac_conv2d_1x1_strided_tables", "ac_conv2d_gather_tables", "ac_conv2d_gather_tables_sat",
        "ac_depthwise_ref", "ac_depthwise_tables", "AC_DEPTHWISE_DSP", "AC_DEPTHWISE_DSP_SAT"}, used
    for n in nets:
        src = n.code.source
        # The struct's type is the one the variant takes; only table variants carry a table.
        for fn, params in _CALL.findall(src):
            ctype = re.search(rf"static const (\w+) {params} = ", src).group(1)
            table = fn.startswith("AC_") or "tables" in fn
            assert ctype == ("ac_conv_w16_params" if "W16" in fn else
                             "ac_conv_table_params" if table else "ac_conv_params"), (n.name, fn)
            assert ("_requant[" in src) == table, (n.name, fn)
            assert ("_filter16[" in src) == ("W16" in fn), (n.name, fn)


def test_reference_build_calls_only_the_reference_kernels(ref_nets):
    assert {fn for n in ref_nets for fn in _calls(n)} == {"ac_conv2d_ref", "ac_depthwise_ref"}


def test_kernel_library_has_no_network_dependency_or_dispatch():
    text = "".join(p.read_text() for p in sorted(kernels_dir().glob("*.[ch]")))
    assert "AC_NET_" not in text and "#include \"acnet" not in text
    makefile = (kernels_dir().parent / "Makefile").read_text()
    assert "AC_NET_VARIANTS" not in makefile
    # Make may pull in an optional fragment (the audio front end's frontend.mk); the compiler never
    # gets a forced `-include` of a network header.
    for line in makefile.splitlines():
        if "-include" in line and not line.lstrip().startswith("#"):
            assert re.fullmatch(r"-include [\w./$()-]+\.mk", line.strip()), line
    assert "-ffunction-sections" in makefile and "--gc-sections" in makefile


def _layer(**kw) -> ConvLayer:
    base = dict(depthwise=False, k_h=1, k_w=1, in_c=16, out_c=32, filter_in_c=16, stride=(1, 1), pads=(0, 0),
                full_range=False, table=True, filter16=False)
    return ConvLayer(**{**base, **kw})


@pytest.mark.parametrize("kw,want", [
    ({}, "ac_conv2d_1x1_tables"),
    ({"full_range": True}, "ac_conv2d_1x1_tables_sat"),
    ({"filter16": True}, "AC_CONV2D_1X1_W16"),
    ({"filter16": True, "full_range": True}, "AC_CONV2D_1X1_W16_SAT"),
    ({"stride": (2, 2)}, "ac_conv2d_1x1_strided_tables"),
    ({"table": False}, "ac_conv2d_rows"),
    ({"k_h": 3, "k_w": 3, "in_c": 1, "filter_in_c": 1}, "ac_conv2d_gather_tables"),
    ({"k_h": 3, "k_w": 3, "in_c": 2, "filter_in_c": 2, "full_range": True}, "ac_conv2d_gather_tables_sat"),
    ({"k_h": 3, "k_w": 3, "in_c": 16, "filter_in_c": 16}, "ac_conv2d_rows"),
    ({"k_h": 3, "k_w": 3, "in_c": 4, "filter_in_c": 2}, "ac_conv2d_rows"),  # grouped
    ({"k_h": 9, "k_w": 9, "in_c": 1, "filter_in_c": 1}, "ac_conv2d_rows"),  # 81 taps: over the gather buffer
    ({"depthwise": True, "k_h": 3, "k_w": 3, "in_c": 8, "out_c": 8, "filter_in_c": 1}, "AC_DEPTHWISE_DSP"),
    ({"depthwise": True, "k_h": 3, "k_w": 3, "in_c": 8, "out_c": 16, "filter_in_c": 1}, "ac_depthwise_tables"),
    ({"depthwise": True, "k_h": 3, "k_w": 3, "in_c": 8, "out_c": 8, "filter_in_c": 1, "table": False},
     "ac_depthwise_ref"),
])
def test_choose_variant(kw, want):
    assert choose_variant(_layer(**kw)) == want
    assert choose_variant(_layer(**kw), reference=True) in ("ac_conv2d_ref", "ac_depthwise_ref")


@pytest.mark.parametrize("dsp", [False, True], ids=["portable", "dsp"])
def test_variants_equal_the_reference_kernels_and_tflm(nets, ref_nets, tmp_path, dsp):
    got, _ = build_and_run([*nets, *ref_nets], tmp_path, dsp_emulate=dsp)
    assert mismatches(nets, got) == []
    assert mismatches(ref_nets, got) == []
    for o, r in zip(nets, ref_nets, strict=True):
        assert np.array_equal(got[o.name], got[r.name]), o.name
