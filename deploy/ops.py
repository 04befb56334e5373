"""The one table of operators the C runtime implements, with the option constraints each one has.

Every constraint carries the reason the user sees when a model breaks it, e.g.
"layer 'conv2d_3' (CONV_2D #4): fused activation TANH is not supported: the C runtime implements
only NONE, RELU and RELU6". `check_supported(graph, where)` raises ModelError on the first problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from acdeploy.deploy.ir import Graph, Operator

from acdeploy.errors import ModelError

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")

# A check returns None when the operator is fine, else what is wrong (the first half of the message).
Check = Callable[[Graph, Operator], "str | None"]


@dataclass(frozen=True)
class Constraint:
    check: Check
    reason: str  # why: what the C runtime implements


@dataclass(frozen=True)
class OpSpec:
    opcode: str
    resolver: str  # the MicroMutableOpResolver method that registers it in TFLM
    constraints: tuple[Constraint, ...] = ()


# ---- checks --------------------------------------------------------------------------------

def _activation(g: Graph, op: Operator) -> str | None:
    act = op.options.get("fused_activation_function", "NONE")
    return None if act in ACTIVATIONS else f"fused activation {act} is not supported"


def _io_dtype(inp: str, out: str) -> Check:
    def check(g: Graph, op: Operator) -> str | None:
        for role, idx, want in (("input", op.inputs[0], inp), ("output", op.outputs[0], out)):
            t = g.tensor(idx)
            if t.dtype != want:
                return f"{role} '{t.name}' is {t.dtype}, expected {want}"
        return None
    return check


def _activations_int8(g: Graph, op: Operator) -> str | None:
    for i in (*op.inputs, *op.outputs):
        if i >= 0 and not g.tensor(i).is_constant and g.tensor(i).dtype != "int8":
            return f"tensor '{g.tensor(i).name}' is {g.tensor(i).dtype}, not int8"
    return None


def _const_input(pos: int, dtype: str, what: str, optional: bool = False) -> Check:
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


def _symmetric_weights(g: Graph, op: Operator) -> str | None:
    t = g.tensor(op.inputs[1])
    if t.quant is not None and (t.quant.zero_point != 0).any():
        return f"weights '{t.name}' have a non-zero zero point"
    return None


def _dilation_one(g: Graph, op: Operator) -> str | None:
    d = (op.options.get("dilation_hfactor", 1), op.options.get("dilation_wfactor", 1))
    return None if d == (1, 1) else f"dilation {d[0]}x{d[1]} is not supported"


def _no_groups(g: Graph, op: Operator) -> str | None:
    cin, wcin = g.tensor(op.inputs[0]).shape[-1], g.tensor(op.inputs[1]).shape[-1]
    return None if cin == wcin else f"grouped convolution ({cin} input channels, filters of {wcin}) is not supported"


def _rank(pos: int, rank: int) -> Check:
    def check(g: Graph, op: Operator) -> str | None:
        t = g.tensor(op.inputs[pos])
        return None if len(t.shape) == rank else f"input '{t.name}' has rank {len(t.shape)}, expected {rank}"
    return check


def _same_quant(g: Graph, op: Operator) -> str | None:
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


def _mean_axes(g: Graph, op: Operator) -> str | None:
    axes = g.tensor(op.inputs[1])
    if not axes.is_constant or len(g.tensor(op.inputs[0]).shape) != 4:
        return "MEAN needs a 4-D input and constant axes"
    got = sorted(int(a) % 4 for a in axes.data.ravel())
    return None if got == [1, 2] else f"MEAN over axes {got} is not supported"


def _equal_shapes(g: Graph, op: Operator) -> str | None:
    a, b = g.tensor(op.inputs[0]), g.tensor(op.inputs[1])
    return None if a.shape == b.shape else f"broadcasting {list(a.shape)} + {list(b.shape)} is not supported"


def _softmax_output(g: Graph, op: Operator) -> str | None:
    q = g.tensor(op.outputs[0]).quant
    if q is None or abs(float(q.scale[0]) - 1 / 256) > 1e-9 or int(q.zero_point[0]) != -128:
        return "SOFTMAX output is not quantized with scale 1/256 and zero point -128"
    return None


def _softmax_input(g: Graph, op: Operator) -> str | None:
    # PreprocessSoftmaxScaling: beta * input_scale * 2^(31 - 5) goes through
    # QuantizeMultiplierGreaterThanOne, which TFLM aborts on unless it is above one.
    q = g.tensor(op.inputs[0]).quant
    real = float(op.options.get("beta", 1.0)) * (float(q.scale[0]) if q is not None else 0.0) * 2.0 ** 26
    if real > 1.0:
        return None
    return f"SOFTMAX input scale {float(q.scale[0]) if q is not None else 0:.3g} is below 2^-26 (logits nearly constant)"


def _graph_input(g: Graph, op: Operator) -> str | None:
    return None if op.inputs[0] in g.inputs else "QUANTIZE inside the graph (a requantization) is not supported"


def _graph_output(g: Graph, op: Operator) -> str | None:
    return None if op.outputs[0] in g.outputs else "DEQUANTIZE inside the graph is not supported"


def _option(key: str, allowed: tuple, label: str) -> Check:
    def check(g: Graph, op: Operator) -> str | None:
        v = op.options.get(key, allowed[0])
        return None if v in allowed else f"{label} {v!r} is not supported"
    return check


# ---- the table -----------------------------------------------------------------------------

_ACT = Constraint(_activation, "the C runtime implements only NONE, RELU, RELU6 and RELU_N1_TO_1")
_INT8 = Constraint(_activations_int8, "the C runtime computes int8 activations only")
_W8 = Constraint(_const_input(1, "int8", "weights"), "weights must be constant int8 (per-tensor or per-channel)")
_B32 = Constraint(_const_input(2, "int32", "bias", optional=True), "biases must be constant int32")
_SYM = Constraint(_symmetric_weights, "int8 weights are symmetric (zero point 0) in TFLite's int8 scheme")
_DIL = Constraint(_dilation_one, "the C runtime's convolutions implement dilation 1 only")
_SAMEQ = Constraint(_same_quant, "the C runtime copies int8 values unchanged, so input and output quantization must match")

SUPPORTED: dict[str, OpSpec] = {s.opcode: s for s in (
    OpSpec("CONV_2D", "AddConv2D", (_INT8, _W8, _B32, _SYM, _ACT, _DIL, Constraint(
        _no_groups, "the C runtime implements ungrouped convolutions only"), Constraint(
        _rank(0, 4), "convolutions take NHWC 4-D inputs"))),
    OpSpec("DEPTHWISE_CONV_2D", "AddDepthwiseConv2D", (_INT8, _W8, _B32, _SYM, _ACT, _DIL, Constraint(
        _rank(0, 4), "convolutions take NHWC 4-D inputs"))),
    OpSpec("FULLY_CONNECTED", "AddFullyConnected", (_INT8, _W8, _B32, _SYM, _ACT, Constraint(
        _option("weights_format", (0,), "weights format"), "the C runtime reads dense (DEFAULT) weights"),
        Constraint(_option("asymmetric_quantize_inputs", (False,), "asymmetric_quantize_inputs"),
                   "hybrid (dynamic-range) fully connected layers are not int8 models"))),
    OpSpec("MAX_POOL_2D", "AddMaxPool2D", (_INT8, _ACT)),
    OpSpec("AVERAGE_POOL_2D", "AddAveragePool2D", (_INT8, _ACT, Constraint(
        _same_quant, "TFLM's int8 average pool averages raw values, so input and output quantization must match"))),
    OpSpec("MEAN", "AddMean", (_INT8, Constraint(_mean_axes, "the C runtime averages over the H and W axes of NHWC only"))),
    OpSpec("ADD", "AddAdd", (_INT8, _ACT, Constraint(_equal_shapes, "the C runtime adds tensors of equal shape only"))),
    OpSpec("RESHAPE", "AddReshape", (_INT8,)),
    OpSpec("SOFTMAX", "AddSoftmax", (_INT8, Constraint(
        _softmax_output, "TFLM's int8 softmax writes probabilities with scale 1/256, zero point -128"),
        Constraint(_softmax_input, "TFLM's int8 softmax needs beta * input scale * 2^26 > 1 and aborts otherwise; "
                   "calibrate with representative data that gives the logits a real range"))),
    OpSpec("PAD", "AddPad", (_INT8, Constraint(_const_input(1, "int32", "paddings"), "paddings must be a constant int32 tensor"))),
    OpSpec("CONCATENATION", "AddConcatenation", (_INT8, _ACT, _SAMEQ)),
    OpSpec("QUANTIZE", "AddQuantize", (
        Constraint(_io_dtype("float32", "int8"), "the C runtime quantizes float32 inputs to int8 only"),
        Constraint(_graph_input, "QUANTIZE is supported only on a graph input (float-input models)"))),
    OpSpec("DEQUANTIZE", "AddDequantize", (
        Constraint(_io_dtype("int8", "float32"), "the C runtime dequantizes int8 outputs to float32 only"),
        Constraint(_graph_output, "DEQUANTIZE is supported only on a graph output (float-output models)"))),
)}

_HINTS = {
    "SPACE_TO_BATCH_ND": "; the converter emits it around dilated convolutions: use dilation_rate=1",
    "BATCH_TO_SPACE_ND": "; the converter emits it around dilated convolutions: use dilation_rate=1",
}


def layer_label(op: Operator) -> str:
    return f"layer '{op.name}' ({op.opcode} #{op.index})"


def is_float_model(graph: Graph) -> bool:
    """True when the model computes in float: float weights or float activations into a
    conv/depthwise/FC layer (float and dynamic-range models), or no int8 tensor at all."""
    for op in graph.operators:
        if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") and len(op.inputs) > 1:
            if {graph.tensor(op.inputs[0]).dtype, graph.tensor(op.inputs[1]).dtype} & {"float32", "float16"}:
                return True
    return not any(t.dtype == "int8" for t in graph.tensors)


def problems(graph: Graph) -> list[str]:
    """Every unsupported operator or option, one sentence each."""
    out = []
    for op in graph.operators:
        spec = SUPPORTED.get(op.opcode)
        if spec is None:
            out.append(f"{layer_label(op)}: operator {op.opcode} is not supported by the C runtime "
                       f"(it implements {', '.join(SUPPORTED)}){_HINTS.get(op.opcode, '')}")
            continue
        for c in spec.constraints:
            what = c.check(graph, op)
            if what:
                out.append(f"{layer_label(op)}: {what}: {c.reason}")
                break
    return out


def check_supported(graph: Graph, where: str) -> None:
    """Raise ModelError (one line) if the model is float or uses what the C runtime lacks."""
    if is_float_model(graph):
        raise ModelError(
            f"{where}: the model is float, not full-integer int8; quantize it first "
            "(`acdeploy compress quantize`, or the TFLite converter with a representative dataset "
            "and TFLITE_BUILTINS_INT8)")
    found = problems(graph)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise ModelError(f"{where}: {found[0]}{more}")


def resolver_ops(graph: Graph) -> list[str]:
    """The MicroMutableOpResolver calls the model needs, in first-use order."""
    seen: dict[str, None] = {}
    for op in graph.operators:
        seen[SUPPORTED[op.opcode].resolver] = None
    return list(seen)
