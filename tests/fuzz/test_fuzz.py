"""The fuzzer as a test: every input it ever crashed on stays clean, and a bounded, seeded run of
the mutation loop over the whole chain (reader, validation, report, C array, C generator, and
sanitized host builds of the generated networks checked against TFLite Micro) finds nothing.

The long coverage-guided run is scripts/fuzz.py (figures in docs/BENCHMARKS.md, "Fuzzing").
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import engine
import harness
import mutators
import numpy as np
import pytest

from acdeploy.deploy.validate import load_graph
from acdeploy.errors import ModelError

REGRESSIONS = sorted((Path(__file__).parent / "regressions").glob("*.tflite"))
CLEAN = ("refused", "passed", "ok")


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_regression_inputs_are_handled_cleanly(path, tmp_path):
    assert harness.check_one(path.read_bytes(), tmp_path) in CLEAN


# The bugs the fuzzer found, each refused with one line naming the tensor or layer at fault.
FOUND = {
    "internal-error-report-e84894961905": "m.tflite: the model has no layers",  # and its output is unwritten
    "mismatch-c-run-46370a735277": "input #0 tensor 12 'model/add/add' is neither a graph input nor a constant "
                                   "and is never written",
    "internal-error-report-93eaae32616c": "m.tflite: the model has no layers",  # and a tensor of type 64
    "signal-c-part-633b44764991": "int8 tensor 3 'dw_out",
    "mismatch-c-run-cb32da7edc19": "(DEPTHWISE_CONV_2D #0): builtin options are BitwiseXorOptions, DEPTHWISE_CONV_2D "
                                   "needs DepthwiseConv2DOptions",
    "internal-error-report-abd34535cb2a": "graph output #0 tensor 1 'paddings' is a constant tensor",
    "internal-error-vectors-55a4425cc85b": "m.tflite: the model has no layers",
    "c-failure-c-build-run-24f152f42ea3": "bias 'conv_b' holds 2,147,483,647 and 27 products per output: the int32 "
                                          "accumulator can overflow",
    "c-failure-c-build-run-6953272a8aef": "graph input #0 tensor 0 'input' is a constant tensor",
    "c-failure-c-build-run-dab97451d451": "the int32 accumulator can overflow",
    "mismatch-c-run-ec9ca73e87ba": "filter 'filter' has 6 channels for 6 input channels and depth_multiplier 0",
    "signal-c-part-f0e4cc8cfe6d": "tensor 'input' uses buffer 0, the empty sentinel of activations, but buffer 0 holds data",
}


@pytest.mark.parametrize("stem", sorted(FOUND))
def test_found_bugs_are_refused_with_one_line(stem):
    data = (Path(__file__).parent / "regressions" / f"{stem}.tflite").read_bytes()
    with pytest.raises(ModelError) as e:
        load_graph(data, name="m.tflite")
    msg = str(e.value)
    assert msg.startswith("m.tflite: ") and "\n" not in msg
    assert FOUND[stem] in msg


def test_seeds_pass_the_python_part():
    seeds = engine.load_seeds()
    assert len(seeds) >= 10
    outs = [harness.check_python(s) for s in seeds]
    assert sum(o.status == "passed" for o in outs) >= 8, [o.message for o in outs if o.status != "passed"]


@pytest.mark.parametrize("corrupt,kind", [("expected", "mismatch"), ("arena", "c-failure")])
def test_the_c_part_sees_a_wrong_answer_and_an_overflow(tmp_path, monkeypatch, corrupt, kind):
    """A fuzz run that cannot see a failure proves nothing: the child flips a bit of TFLM's outputs,
    or halves the generated arena (ASan: global-buffer-overflow), and run_c must raise with the
    input attached."""
    seeds = engine.load_seeds()[:2]
    monkeypatch.setenv(harness.CORRUPT_ENV, corrupt)
    with pytest.raises(harness.FuzzFailure) as e:
        harness.run_c(seeds, tmp_path)
    assert e.value.kind == kind, str(e.value)
    assert e.value.data == seeds[0]  # the batch of two was split to name one input
    if corrupt == "arena":
        assert "AddressSanitizer" in e.value.detail, e.value.detail[:500]


@pytest.mark.slow
def test_bounded_fuzz_run_finds_nothing(tmp_path):
    fuzzer = engine.Fuzzer(tmp_path, regressions=tmp_path / "crashes", batch=8, c_sample=0.2, seed=7,
                           max_c_builds=6)
    stats = engine.run_plain(fuzzer, executions=EXECUTIONS, seed=7)
    summary = stats.to_dict()
    assert not summary["crashes"], "\n\n".join(f"{c['path']}:\n{c['message'][-1500:]}" for c in summary["crashes"])
    assert stats.executions == EXECUTIONS
    assert stats.refused > 0 and stats.passed > 0
    assert stats.c_builds >= 3 and stats.c_models >= 20, summary


EXECUTIONS = 15_000


def _softmax_seed(fn) -> bytes:
    m = mutators.decode((engine.SEEDS / "softmax_0.tflite").read_bytes())
    fn(m.subgraphs[0])
    return mutators.encode(m)


def _unwritten_output(sg) -> None:
    extra = copy.deepcopy(sg.tensors[1])
    extra.name = b"orphan"
    sg.tensors = [*sg.tensors, extra]
    sg.outputs = np.array([len(sg.tensors) - 1], np.int32)


def _type_64(sg) -> None:
    sg.tensors[0].type = 64


@pytest.mark.parametrize("fn,part", [(_unwritten_output, "graph output #0 tensor 2 'orphan' is not written by any layer"),
                                     (_type_64, "tensor 0 'input' has tensor type type_64")])
def test_dataflow_and_type_refusals_on_a_model_with_layers(fn, part):
    with pytest.raises(ModelError, match=re.escape(part)):
        load_graph(_softmax_seed(fn), name="m.tflite")
