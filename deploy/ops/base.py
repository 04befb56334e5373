"""What one operator (or op family) declares: `OpDef`, and the checks several ops share.

An `OpDef` is everything acdeploy knows about an op, read by every consumer:

| field | read by |
| opcodes (name, TFLM resolver method, TFLM op-data bytes) | model_settings.h (c_array), the TFLM arena estimate |
| constraints (check + the reason the user sees) | `check_supported`: report, build, eval --engine c, vectors, codegen |
| vela_macs / nessi_macs | deploy/macs.py |
| param_inputs | deploy/report.py (parameters, non-zero parameters) |
| per_channel | deploy/report.py (requantization tables), deploy/memory_plan.py (TFLM tail) |
| tflm_scratch | deploy/memory_plan.py (TFLM head) |
| aliases | deploy/memory_plan.py (the C arena), the C emitter (no code) |
| emit | deploy/codegen.py (one call per layer into acnet.c) |
| validate | deploy/validate.py (output shape recomputed from inputs and options) |
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from acdeploy.deploy.ir import Graph, Operator

# A check returns None when the operator is fine, else what is wrong (the first half of the message).
Check = Callable[[Graph, Operator], "str | None"]
# TFLM kernel op data + parsed builtin options per operator when not calibrated for the op.
TFLM_OTHER_OP_DATA = 128


@dataclass(frozen=True)
class Constraint:
    check: Check
    reason: str  # why: what the C runtime implements


@dataclass(frozen=True)
class Opcode:
    name: str  # the TFLite builtin operator, e.g. "CONV_2D"
    resolver: str  # the MicroMutableOpResolver method that registers it in TFLM
    # Bytes of kernel op data + parsed builtin options TFLM keeps per operator in its tail
    # (reference kernels, 64-bit; calibrated in benchmarks/bench_tflm_arena.py).
    tflm_op_data: int = TFLM_OTHER_OP_DATA
    inputs: tuple[int, int | None] = (1, 1)  # fewest and most inputs (None: any number)
    optional: tuple[int, ...] = ()  # input positions that may be -1 (absent), e.g. a conv's bias


class GraphContext:
    """Graph facts that MAC rules share: who reads a tensor, who writes it."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.consumers: dict[int, list[Operator]] = {}
        for op in graph.operators:
            for i in op.inputs:
                if i >= 0:
                    self.consumers.setdefault(i, []).append(op)
        self.producers: dict[int, Operator] = {o: op for op in graph.operators for o in op.outputs}

    def in_place(self, i: int) -> bool:
        """An operator whose only consumer is a copy writes straight into the copy's output."""
        return i in self.producers and len(self.consumers.get(i, [])) == 1


def prod(shape) -> int:
    return int(math.prod(shape))


def nhwc4(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Lower-rank tensors read as N=1, H=1, W=1 padded on the left, as Vela's Shape4D does."""
    s = (1,) * (4 - len(shape)) + tuple(shape[-4:])
    return s[0], s[1], s[2], s[3]


MacRule = Callable[[Graph, Operator, GraphContext], int]


def no_macs(graph: Graph, op: Operator, ctx: GraphContext) -> int:
    return 0


@dataclass(frozen=True)
class OpDef:
    opcodes: tuple[Opcode, ...]
    constraints: tuple[Constraint, ...]
    vela_macs: MacRule = no_macs  # as Arm Vela 5.2 counts (deploy/macs.py)
    nessi_macs: MacRule = no_macs  # as the DCASE NeSsi calculator counts
    param_inputs: tuple[int, ...] = ()  # input positions that are parameters (weights, bias)
    per_channel: bool = False  # requantizes per output channel (multiplier + shift arrays)
    tflm_scratch: Callable[[Graph, Operator], list[int]] | None = None  # TFLM scratch buffers, bytes
    aliases: bool = False  # output is its input's bytes reinterpreted: no code, one arena buffer
    # Writes the layer's C call into the emitter (deploy/codegen.py _Emitter); None: the op is
    # compiled at the graph's edge (QUANTIZE / DEQUANTIZE around the int8 core).
    emit: Callable | None = None
    validate: Callable | None = None  # deploy/validate.py rule: (validator, op) -> None or raise
    doc: str = ""  # what the C runtime computes, one line for the README's operator table

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.opcodes)


# ---- checks several ops share -----------------------------------------------------------------

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def _activation(g: Graph, op: Operator) -> str | None:
    act = op.options.get("fused_activation_function", "NONE")
    return None if act in ACTIVATIONS else f"fused activation {act} is not supported"


def _activations_int8(g: Graph, op: Operator) -> str | None:
    for i in (*op.inputs, *op.outputs):
        if i >= 0 and not g.tensor(i).is_constant and g.tensor(i).dtype != "int8":
            return f"tensor '{g.tensor(i).name}' is {g.tensor(i).dtype}, not int8"
    return None


def _constants_int8(g: Graph, op: Operator) -> str | None:
    for i in op.inputs:
        if i >= 0 and g.tensor(i).is_constant and g.tensor(i).dtype != "int8":
            return f"constant input '{g.tensor(i).name}' is {g.tensor(i).dtype}, not int8"
    return None


def const_input(pos: int, dtype: str, what: str, optional: bool = False) -> Check:
    def check(g: Graph, op: Operator) -> str | None:
        idx = op.inputs[pos] if pos < len(op.inputs) else -1
        if idx < 0:
            return None if optional else f"{what} is missing"
        t = g.tensor(idx)
        if not t.is_constant:
            return f"{what} '{t.name}' is not a constant"
        if t.dtype != dtype:
            return f"{what} '{t.name}' is {t.dtype}, expected {dtype}"
        return None
    return check


def _quantized_weights(g: Graph, op: Operator) -> str | None:
    t = g.tensor(op.inputs[1])
    return None if t.quant is not None else f"weights '{t.name}' have no quantization parameters"


def _symmetric_weights(g: Graph, op: Operator) -> str | None:
    t = g.tensor(op.inputs[1])
    if t.quant is not None and (t.quant.zero_point != 0).any():
        return f"weights '{t.name}' have a non-zero zero point"
    return None


def same_quant(g: Graph, op: Operator) -> str | None:
    out = g.tensor(op.outputs[0])
    for i in op.inputs:
        t = g.tensor(i)
        if t.is_constant:
            continue
        if t.quant is None or out.quant is None or (
                float(t.quant.scale[0]), int(t.quant.zero_point[0])) != (
                float(out.quant.scale[0]), int(out.quant.zero_point[0])):
            return f"input '{t.name}' and output '{out.name}' have different quantization"
    return None


def option(key: str, allowed: tuple, label: str) -> Check:
    def check(g: Graph, op: Operator) -> str | None:
        v = op.options.get(key, allowed[0])
        return None if v in allowed else f"{label} {v!r} is not supported"
    return check


ACT = Constraint(_activation, "the C runtime implements only NONE, RELU, RELU6 and RELU_N1_TO_1")
INT8 = Constraint(_activations_int8, "the C runtime computes int8 activations only")
CONST_INT8 = Constraint(_constants_int8, "the C runtime reads constant operands as int8")
WEIGHTS_INT8 = Constraint(const_input(1, "int8", "weights"), "weights must be constant int8 (per-tensor or per-channel)")
WEIGHTS_QUANTIZED = Constraint(_quantized_weights, "int8 weights need their scales to requantize")
BIAS_INT32 = Constraint(const_input(2, "int32", "bias", optional=True), "biases must be constant int32")
SYMMETRIC = Constraint(_symmetric_weights, "int8 weights are symmetric (zero point 0) in TFLite's int8 scheme")
SAME_QUANT = Constraint(same_quant, "the C runtime copies int8 values unchanged, so input and output quantization must match")
# The layers with weights: int8 in and out, constant int8 symmetric weights, optional int32 bias.
WEIGHTED = (INT8, WEIGHTS_INT8, WEIGHTS_QUANTIZED, BIAS_INT32, SYMMETRIC, ACT)
