"""The per-layer weight format choice (deploy/weight_formats.py) and its command-line surface:
objectives, the never-larger-and-slower rule, a model without zeros, unknown objectives."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_cases import ModelBuilder, _opts, cases, prune
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

from acdeploy.cli import main as cli
from acdeploy.deploy import weight_formats as wf
from acdeploy.deploy.build import BuildOptions, build
from acdeploy.deploy.codegen import generate
from acdeploy.deploy.memory_plan import plan_memory
from acdeploy.deploy.targets import TARGETS, get_target
from acdeploy.deploy.tflite_reader import read_tflite
from acdeploy.errors import ConfigError

D = wf.Candidate("dense", "ac_conv2d_1x1_tables", 3072, 3_000_000)
D16 = wf.Candidate("dense16", "AC_CONV2D_1X1_W16", 9216, 2_700_000)  # 300k for 6144 B: 49 per byte


def test_objectives_pick_the_dense_format():
    assert wf.choose([D, D16], "auto", "speed")[0] is D16
    assert wf.choose([D, D16], "auto", "size")[0] is D
    assert wf.choose([D, D16], "auto", "balanced")[0] is D  # under BYTE_WORTH per byte
    rich = wf.Candidate("dense16", "AC_CONV2D_1X1_W16", 9216, 3_000_000 - 6144 * wf.BYTE_WORTH)
    assert wf.choose([D, rich], "auto", "balanced")[0] is rich


def test_weights_mode():
    s = wf.Candidate("sparse", "ac_conv2d_sparse_1x1", 4000, 3_500_000)  # larger and slower than dense
    for objective in wf.OBJECTIVES:
        assert wf.choose([D, s], "dense", objective)[0].format == "dense"
        assert wf.choose([D, s], "sparse", objective)[0] is s
        assert wf.choose([D, s], "auto", objective)[0] is D


def test_auto_is_never_larger_and_slower_than_dense():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        cands = [wf.Candidate(f, f, int(rng.integers(1, 10_000)), int(rng.integers(1, 10_000)))
                 for f in ("dense", "dense16", "sparse")]
        for objective in wf.OBJECTIVES:
            got, dense = wf.choose(cands, "auto", objective)
            assert dense.format != "sparse"
            assert not (got.weight_bytes > dense.weight_bytes and got.instructions > dense.instructions)
            if objective == "balanced":  # sparse only where it is no larger and no slower
                assert got.weight_bytes <= dense.weight_bytes and got.instructions <= dense.instructions
            if objective == "size":
                assert got.weight_bytes <= dense.weight_bytes
            if objective == "speed":
                assert got.instructions <= dense.instructions


def test_sparse_must_be_clearly_faster_under_speed_and_balanced():
    # Predicted 5 % faster and smaller: within the fits' error, so speed and balanced keep dense; size takes it.
    near = wf.Candidate("sparse", "ac_conv2d_sparse_1x1", 1000, int(D.instructions * 0.95))
    clear = wf.Candidate("sparse", "ac_conv2d_sparse_1x1", 1000, int(D.instructions * (1 - wf.SPARSE_MARGIN)))
    for objective in ("speed", "balanced"):
        assert wf.choose([D, near], "auto", objective)[0] is D
        assert wf.choose([D, clear], "auto", objective)[0] is clear
    assert wf.choose([D, near], "auto", "size")[0] is near


def test_unknown_mode_or_objective_is_one_line():
    with pytest.raises(ConfigError, match="deploy.objective: unknown objective 'fast'; choose from speed, size, balanced"):
        wf.check_mode("auto", "fast")
    with pytest.raises(ConfigError, match="--weights"):
        wf.check_mode("zip", "speed")


def _model(tmp_path, sparsity: float):
    path = tmp_path / f"conv_{sparsity}.tflite"
    # A 1x1 conv on 26 input channels (no int16 copies: not a multiple of 4); on much fewer, the
    # dense kernel's per-output cost is below the sparse one's even at 95 % zeros.
    m = next(m for m in cases("conv_fast", 40, 3)
             if read_tflite(m).tensor(read_tflite(m).operators[0].inputs[1]).shape[1::2] == (1, 26))
    path.write_bytes(prune(m, sparsity))
    return path


def test_auto_keeps_a_model_without_zeros_dense_and_picks_sparse_at_high_sparsity(tmp_path):
    for sparsity, want in ((0.0, "dense"), (0.95, "sparse")):
        g = read_tflite(_model(tmp_path, sparsity).read_bytes())
        net = generate(g, plan_memory(g), weights="auto", objective="speed")
        assert [f.format for f in net.formats] == [want]
    g = read_tflite(_model(tmp_path, 0.95).read_bytes())
    # Too small to pay for the sparse kernels' code under balanced: built dense.
    assert [f.format for f in generate(g, plan_memory(g), weights="auto", objective="balanced").formats] == ["dense"]


def test_cli_weights_sparse_on_a_model_without_zeros_builds_and_warns(tmp_path, capsys):
    model = _model(tmp_path, 0.0)
    assert cli(["build", "--target", "host", "--model", str(model), "--out", str(tmp_path / "b"), "--weights", "sparse"]) == 0
    err = capsys.readouterr().err
    assert "--weights sparse saves nothing" in err
    src = (tmp_path / "b" / "firmware" / "acnet.c").read_text()
    assert "ac_conv2d_sparse" in src


def test_cli_unknown_objective_exits_1_with_one_line(tmp_path, capsys):
    model = _model(tmp_path, 0.0)
    code = cli(["build", "--target", "host", "--model", str(model), "--out", str(tmp_path / "b"),
                "--set", "deploy.objective=fast"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "objective" in err, err


def test_report_shows_the_weight_formats(tmp_path):
    from acdeploy.deploy.report_data import Report

    model = _model(tmp_path, 0.95)
    out = tmp_path / "b"
    assert cli(["build", "--target", "host", "--model", str(model), "--out", str(out),
                "--set", "deploy.objective=speed"]) == 0
    rep = Report.read(out / "report.json")
    (row,) = rep.network.weight_formats
    assert (rep.network.weights, rep.network.objective, row["format"]) == ("auto", "speed", "sparse")
    assert row["stored_bytes"] < row["dense_bytes"] and row["measured_instructions"] is None
    assert row["tflm_prune_bytes"] == (row["weights"] + 7) // 8 + row["nonzero"]
    md = (out / "report.md").read_text()
    assert "## Weight formats" in md and f"{rep.totals.nonzero_param_bytes:,} bytes" in md
    assert (out / "report_weights.png").stat().st_size > 0
    assert Report.from_json(rep.to_json()) == rep


def _expand_1x1(sparsity: float) -> bytes:
    """The default student's first expand conv (1x1, 32 -> 96 channels on 20x26 pixels, ReLU),
    magnitude-pruned: a representative layer of a pruned student or quickstart ticket."""
    rng = np.random.default_rng(0)
    m = ModelBuilder()
    ic, oc, in_s, w_s = 32, 96, 0.05, np.full(96, 0.01, np.float32)
    x = m.tensor((1, 20, 26, ic), scale=in_s, zp=-128, name="input")
    w = m.tensor((oc, 1, 1, ic), scale=w_s, zp=np.zeros(oc, int), axis=0, name="filter",
                 data=rng.integers(-127, 128, (oc, 1, 1, ic)).astype(np.int8))
    b = m.tensor((oc,), "int32", scale=np.float32(in_s) * w_s, zp=np.zeros(oc, int), name="bias",
                 data=rng.integers(-2000, 2000, oc).astype(np.int32))
    y = m.tensor((1, 20, 26, oc), scale=0.25, zp=-128, name="output")
    m.op("CONV_2D", [x, w, b], [y], _opts("Conv2DOptionsT", padding=fb.Padding.VALID, strideW=1, strideH=1,
                                          fusedActivationFunction=fb.ActivationFunctionType.RELU,
                                          dilationWFactor=1, dilationHFactor=1))
    return prune(m.build([x], [y]), sparsity)


def test_each_core_has_its_cost_model():
    assert {t: wf.cost_model(get_target(t)) for t in ("cortex-m4", "cortex-m33", "cortex-m55", "ethos-u55-128",
                                                      "cortex-m0plus", "host")} == {
        "cortex-m4": "cortex-m4", "cortex-m33": "cortex-m4", "cortex-m55": "cortex-m55",
        "ethos-u55-128": "cortex-m55", "cortex-m0plus": "portable", "host": "portable"}
    fams = set(wf.COSTS["cortex-m4"])
    assert all(set(table) == fams for table in wf.COSTS.values())
    assert all(wf.cost_model(t) in wf.COSTS for t in TARGETS.values())
    # Helium reads the int8 filter (the int16 copy is unused: ac_kernels.h), so the copy never pays there.
    assert wf.COSTS["cortex-m55"]["1x1_w16"] == wf.COSTS["cortex-m55"]["1x1"]


def test_m55_keeps_dense_helium_where_the_m4_goes_sparse():
    g = read_tflite(_expand_1x1(0.88))
    for objective in ("balanced", "speed"):
        got = {core: generate(g, plan_memory(g), weights="auto", objective=objective, core=core).formats[0]
               for core in ("cortex-m4", "cortex-m55")}
        assert got["cortex-m4"].format == "sparse", objective
        assert got["cortex-m55"].format == "dense", objective
        assert got["cortex-m55"].predicted_instructions < got["cortex-m4"].predicted_instructions
    # size still takes the smaller sparse layout on the M55.
    assert generate(g, plan_memory(g), weights="auto", objective="size", core="cortex-m55").formats[0].format == "sparse"


def test_build_takes_the_cost_model_from_the_target(tmp_path):
    model = tmp_path / "expand.tflite"
    model.write_bytes(_expand_1x1(0.88))
    got = {}
    for target in ("cortex-m4", "cortex-m55"):
        rep = build(model, target, tmp_path / target, options=BuildOptions(objective="balanced"))
        got[target] = rep.network.weight_formats[0]["format"]
    assert got == {"cortex-m4": "sparse", "cortex-m55": "dense"}
