"""Memory plans: no two live tensors overlap in the C arena; the TFLM arena estimate runs in the
TFLM Python runtime and is at most 10 % above what it needs (0.9x of it fails)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from deploy_models import model_zoo

from acdeploy.deploy.ir import Graph, Operator, Tensor
from acdeploy.deploy.memory_plan import check_plan, plan_memory, tflm_arena
from acdeploy.deploy.tflite_reader import read_tflite

NAMES = ["mixed", "copies", "floatio", "mnv2", "dense"]

# Each attempt runs in a fresh process: a failed allocation must not poison the next one, and
# some TFLM failures abort the process.
_TRY = """
import re, sys, numpy as np
from tflite_micro.python.tflite_micro import runtime
it = runtime.Interpreter.from_bytes(open(sys.argv[1], 'rb').read(), arena_size=int(sys.argv[2]))
d = it.get_input_details(0)
it.set_input(np.zeros(d['shape'], d['dtype']), 0)
it.invoke()
print('INVOKED', flush=True)
it.print_allocations()
"""


def _tflm(model, arena: int) -> tuple[bool, str]:
    r = subprocess.run([sys.executable, "-c", _TRY, str(model), str(arena)], capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    return r.returncode == 0 and "INVOKED" in out, out


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return model_zoo(tmp_path_factory.getbasetemp() / "deploy_models", NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_tflm_arena_estimate_runs_and_is_tight(zoo, name):
    g = read_tflite(zoo[name])
    est = tflm_arena(g)
    ok, log = _tflm(zoo[name], est.total)
    assert ok, log[-1500:]
    # the head is TFLM's own greedy plan: it must be exactly what the allocator recorded
    assert f"Arena allocation head {est.head} bytes" in log
    ok90, _ = _tflm(zoo[name], int(est.total * 0.9))
    assert not ok90, f"{name}: TFLM runs in 0.9 x {est.total}: the estimate is more than 10 % too big"


@pytest.mark.parametrize("name", NAMES)
def test_c_plan_has_no_overlap(zoo, name):
    g = read_tflite(zoo[name])
    plan = plan_memory(g)
    check_plan(g, plan)
    for i in (*g.inputs, *g.outputs):
        assert i in plan.offsets  # graph inputs and outputs live in the arena
    assert all(off % 16 == 0 for off in plan.offsets.values())
    # no plan can be smaller than the largest set of tensors live at one time
    peak = max(sum(g.tensor(i).nbytes for i, (a, b) in plan.lifetimes.items() if a <= k <= b)
               for k in range(len(g.operators)))
    assert peak <= plan.arena_bytes


def test_reshape_aliases_its_input(zoo):
    g = read_tflite(zoo["copies"])
    plan = plan_memory(g)
    reshapes = [op for op in g.operators if op.opcode == "RESHAPE"]
    assert reshapes
    for op in reshapes:
        assert plan.offsets[op.inputs[0]] == plan.offsets[op.outputs[0]]


def _chain(sizes: list[int]) -> Graph:
    """A synthetic chain a -> b -> c ... of int8 tensors with the given byte sizes."""
    tensors = [Tensor(i, f"t{i}", (s,), "int8") for i, s in enumerate(sizes)]
    ops = [Operator(i, "ADD", [i], [i + 1]) for i in range(len(sizes) - 1)]
    return Graph(tensors, ops, [0], [len(sizes) - 1])


def test_greedy_reuses_dead_buffers():
    g = _chain([1000, 2000, 1000, 2000])
    plan = plan_memory(g)
    check_plan(g, plan)
    # t0 dies after op 0, so t2 reuses its bytes; t1 and t3 never live together either
    assert plan.arena_bytes == 3008
    assert plan.offsets[0] == plan.offsets[2] or plan.offsets[1] == plan.offsets[3]


def test_check_plan_catches_overlap():
    g = _chain([64, 64, 64])
    plan = plan_memory(g)
    plan.buffers[1].offset = plan.buffers[0].offset  # t0 and t1 are both live at op 0
    with pytest.raises(AssertionError):
        check_plan(g, plan)
