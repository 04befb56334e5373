"""The op registry (deploy/ops/) is the one gate: everything the C kernels implement and the
kernel tests check against TFLM passes it, `acdeploy build --run` compiles and runs the less common forms
(dilated and grouped convs, broadcast ADD, MEAN over one axis) bit-exact with TFLM, what TFLM itself refuses is refused with the reason, and the README's operator table is
the registry's."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import require_tools
from kernel_cases import FAMILIES, ModelBuilder, _act_code, _opts, cases
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

from acdeploy.cli import main
from acdeploy.deploy import codegen, macs, memory_plan, ops
from acdeploy.deploy.c_engine import run_c
from acdeploy.deploy.validate import load_graph
from acdeploy.deploy.vectors import make_vectors
from acdeploy.errors import ModelError

ROOT = Path(__file__).resolve().parents[2]
SEED = 2021


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_kernel_family_passes_the_gate(family):
    for k, model in enumerate(cases(family, 25, SEED)):
        graph = load_graph(model, name=f"{family}#{k}")
        ops.check_supported(graph, f"{family}#{k}")
        assert ops.problems(graph) == []


def test_the_kernel_cases_reach_what_the_old_table_refused():
    """The gate test above would prove little if the cases lacked the options at stake."""
    seen = set()
    for fam in ("conv", "depthwise", "add", "mean", "pad"):
        for model in cases(fam, 25, SEED):
            g = load_graph(model)
            for op in g.operators:
                if (op.options.get("dilation_hfactor", 1), op.options.get("dilation_wfactor", 1)) != (1, 1):
                    seen.add("dilation")
                if op.opcode == "ADD" and g.tensor(op.inputs[0]).shape != g.tensor(op.inputs[1]).shape:
                    seen.add("broadcast")
                if op.opcode == "MEAN" and sorted(int(a) % 4 for a in g.tensor(op.inputs[1]).data.ravel()) != [1, 2]:
                    seen.add("mean axes")
                if op.opcode == "PADV2":
                    seen.add("padv2")
    assert seen == {"dilation", "broadcast", "mean axes", "padv2"}


def test_every_consumer_finds_every_opcode():
    names = [o.name for d in ops.registry() for o in d.opcodes]
    assert len(names) == len(set(names))
    for d in ops.registry():
        assert d.constraints and d.validate is not None and d.doc
        for o in d.opcodes:
            assert ops.lookup(o.name) is d
            assert re.fullmatch(r"Add[A-Z]\w+", o.resolver)
        # only the float edges have no emitter: codegen compiles them into <prefix>_invoke_float
        assert (d.emit is None) == (d.names == ("QUANTIZE", "DEQUANTIZE"))
    assert {o for d in ops.registry() if d.param_inputs for o in d.names} == {
        "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}
    assert ops.lookup("TANH") is None


def test_readme_table_is_the_registry():
    readme = (ROOT / "README.md").read_text()
    assert ops.markdown_table() in readme, "README's operator table is stale: run scripts/update_golden.py"
    table = readme[readme.index(ops.README_BEGIN):readme.index(ops.README_END)]
    listed = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    assert listed == set(ops.supported_opcodes())


# ---- dilated and grouped convs, broadcast ADD, MEAN over one axis ------------------------------

def _conv_model(dilation: int = 1, groups: int = 1) -> bytes:
    rng = np.random.default_rng(7)
    ic, oc = 4, 6
    m = ModelBuilder()
    x = m.tensor((1, 7, 7, ic), scale=0.05, zp=3, name="input")
    fic = ic // groups
    ws = np.full(oc, 0.02, np.float32)
    w = m.tensor((oc, 3, 3, fic), scale=ws, zp=np.zeros(oc, int),
                 data=rng.integers(-127, 128, (oc, 3, 3, fic)).astype(np.int8), name="filter")
    b = m.tensor((oc,), "int32", scale=(np.float32(0.05) * ws).astype(np.float32), zp=np.zeros(oc, int),
                 data=rng.integers(-2000, 2000, oc).astype(np.int32), name="bias")
    y = m.tensor((1, 7, 7, oc), scale=0.4, zp=-10, name="output")
    m.op("CONV_2D", [x, w, b], [y], _opts("Conv2DOptionsT", padding=fb.Padding.SAME, strideW=1, strideH=1,
                                         fusedActivationFunction=_act_code("RELU"), dilationWFactor=dilation,
                                         dilationHFactor=dilation))
    return m.build([x], [y])


def _broadcast_add() -> bytes:
    m = ModelBuilder()
    x = m.tensor((1, 4, 5, 3), scale=0.05, zp=-4, name="input")
    c = m.tensor((1, 1, 1, 3), scale=0.03, zp=2, data=np.array([-90, 5, 110], np.int8).reshape(1, 1, 1, 3), name="per_channel")
    y = m.tensor((1, 4, 5, 3), scale=0.09, zp=1, name="output")
    m.op("ADD", [x, c], [y], _opts("AddOptionsT", fusedActivationFunction=_act_code("NONE")))
    return m.build([x], [y])


def _mean_one_axis() -> bytes:
    m = ModelBuilder()
    x = m.tensor((1, 4, 5, 3), scale=0.05, zp=7, name="input")
    a = m.tensor((1,), "int32", data=np.array([2], np.int32), name="axes")
    y = m.tensor((1, 4, 3), scale=0.04, zp=-3, name="output")
    m.op("MEAN", [x, a], [y], _opts("ReducerOptionsT", keepDims=False))
    return m.build([x], [y])


ONCE_REFUSED = {
    "dilated_conv": lambda: _conv_model(dilation=2),
    "grouped_conv": lambda: _conv_model(groups=2),
    "broadcast_add": _broadcast_add,
    "mean_one_axis": _mean_one_axis,
}


@pytest.mark.parametrize("name", sorted(ONCE_REFUSED))
def test_build_runs_what_the_old_table_refused(tmp_path, name):
    require_tools("gcc")
    model = tmp_path / f"{name}.tflite"
    model.write_bytes(ONCE_REFUSED[name]())
    graph = load_graph(model.read_bytes())
    assert ops.problems(graph) == []
    out = tmp_path / "build"
    # --run builds the host firmware (ASan/UBSan) and fails unless its output equals TFLM's
    assert main(["build", "--target", "host", "--model", str(model), "--out", str(out), "--run"]) == 0
    assert (out / "firmware" / "acnet.c").is_file()


def test_grouped_conv_macs_count_each_group_once():
    g = load_graph(_conv_model(groups=2))
    assert macs.vela_macs(g) == macs.nessi_macs(g) == [7 * 7 * 6 * 3 * 3 * 2]


# ---- refusals with the reason -------------------------------------------------------------------

def _concat(act: str) -> bytes:
    m = ModelBuilder()
    x = m.tensor((1, 2, 2, 3), scale=0.1, zp=5, name="input")
    c = m.tensor((1, 2, 2, 2), scale=0.1, zp=5, data=np.full((1, 2, 2, 2), -100, np.int8), name="c")
    y = m.tensor((1, 2, 2, 5), scale=0.1, zp=5, name="out")
    m.op("CONCATENATION", [x, c], [y], _opts("ConcatenationOptionsT", axis=3, fusedActivationFunction=_act_code(act)))
    return m.build([x], [y])


def test_concat_with_fused_activation_is_refused_by_every_consumer(tmp_path):
    """TFLM's concatenation fails to prepare with a fused activation and the C kernel applies
    none: the gate names the layer instead of TFLM's 'failed to allocate tensors'."""
    graph = load_graph(_concat("RELU"), name="cat.tflite")
    with pytest.raises(ModelError, match=r"^cat\.tflite: layer 'out' \(CONCATENATION #0\): fused activation "
                                         r"RELU is not supported: .*without a fused activation"):
        ops.check_supported(graph, "cat.tflite")
    with pytest.raises(ModelError, match="CONCATENATION #0"):
        codegen.generate(graph, memory_plan.plan_memory(graph))
    with pytest.raises(ModelError, match="CONCATENATION #0"):  # the test-vector step
        make_vectors(_concat("RELU"), name="cat.tflite")
    with pytest.raises(ModelError, match="CONCATENATION #0"):  # eval --engine c
        run_c(_concat("RELU"), np.zeros((1, 1, 2, 2, 3), np.float32), name="cat.tflite")
    model = tmp_path / "cat.tflite"
    model.write_bytes(_concat("RELU"))
    assert main(["report", str(model)]) == 1
    assert main(["build", "--target", "host", "--model", str(model), "--out", str(tmp_path / "b")]) == 1
    load_graph(_concat("NONE"))  # and without the activation it passes
    ops.check_supported(load_graph(_concat("NONE")), "cat.tflite")


def test_squeeze_shares_its_input_buffer_in_the_c_arena():
    m = ModelBuilder()
    x = m.tensor((1, 1, 4, 3), scale=0.1, zp=0, name="input")
    y = m.tensor((4, 3), scale=0.1, zp=0, name="squeezed")
    m.op("SQUEEZE", [x], [y], _opts("SqueezeOptionsT", squeezeDims=[0, 1]))
    graph = load_graph(m.build([x], [y]))
    plan = memory_plan.plan_memory(graph)
    assert plan.offsets[x] == plan.offsets[y] and plan.arena_bytes == 16
    assert "no code, output aliases input" in codegen.generate(graph, plan).source
