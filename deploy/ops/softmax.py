"""SOFTMAX: TFLM's int8 softmax over the last axis (exp and reciprocal in fixed point)."""

from __future__ import annotations

from acdeploy.deploy import codegen as cg
from acdeploy.deploy import quant, validate
from acdeploy.deploy.ir import Graph, Operator
from acdeploy.deploy.ops.base import INT8, Constraint, GraphContext, Opcode, OpDef, prod


def vela_macs(g: Graph, op: Operator, ctx: GraphContext) -> int:
    """Vela: MaxPool (row max) + ReduceSum + elementwise: 2*C per row. NeSsi: 0."""
    return 2 * prod(g.tensor(op.outputs[0]).shape)


def _output_quant(g: Graph, op: Operator) -> str | None:
    q = g.tensor(op.outputs[0]).quant
    if q is None or abs(float(q.scale[0]) - 1 / 256) > 1e-9 or int(q.zero_point[0]) != -128:
        return "SOFTMAX output is not quantized with scale 1/256 and zero point -128"
    return None


def _input_scale(g: Graph, op: Operator) -> str | None:
    # PreprocessSoftmaxScaling: beta * input_scale * 2^(31 - 5) goes through
    # QuantizeMultiplierGreaterThanOne, which TFLM aborts on unless it is above one.
    x = g.tensor(op.inputs[0])
    try:
        quant.softmax_params(float(op.options.get("beta", 1.0)), cg.scale(x) if x.quant is not None else 0.0)
    except ValueError:
        return f"SOFTMAX input scale {cg.scale(x) if x.quant is not None else 0:.3g} is below 2^-26 (logits nearly constant)"
    return None


def _softmax(e: cg.Emitter, op: Operator) -> None:
    x = e.graph.tensor(op.inputs[0])
    depth = int(x.shape[-1])
    sp = quant.softmax_params(float(op.options.get("beta", 1.0)), cg.scale(x))
    fields = {"rows": cg.numel(x.shape) // depth, "depth": depth, **sp}
    p = e.struct("ac_softmax_params", e.sym(op.index, "params"), fields, f"layer {op.index} SOFTMAX '{op.name}'")
    e.call(op, f"ac_softmax(&{p}, {e.ref(op.inputs[0])}, {e.ref(op.outputs[0])});")


OP = OpDef(
    opcodes=(Opcode("SOFTMAX", "AddSoftmax", tflm_op_data=80, inputs=(1, 1)),),
    constraints=(INT8, Constraint(
        _output_quant, "TFLM's int8 softmax writes probabilities with scale 1/256, zero point -128"),
        Constraint(_input_scale, "TFLM's int8 softmax needs beta * input scale * 2^26 > 1 and aborts otherwise; "
                   "calibrate with representative data that gives the logits a real range")),
    vela_macs=vela_macs, emit=_softmax, validate=validate._same_shape,
    doc="over the last axis, any beta; output scale 1/256, zero point -128 (TFLM's int8 softmax)",
)
