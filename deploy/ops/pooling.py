"""MAX_POOL_2D and AVERAGE_POOL_2D: int8 pooling, any filter, stride and padding (SAME windows
average over their in-image taps only, as TFLite does)."""

from __future__ import annotations

from acdeploy.deploy import codegen as cg
from acdeploy.deploy import quant, validate
from acdeploy.deploy.ir import Graph, Operator
from acdeploy.deploy.ops.base import (
    ACT,
    INT8,
    Constraint,
    GraphContext,
    Opcode,
    OpDef,
    prod,
    same_quant,
)


def macs(g: Graph, op: Operator, ctx: GraphContext) -> int:
    """Vela and NeSsi: OH*OW*C*KH*KW (padding taps included)."""
    return prod(g.tensor(op.outputs[0]).shape) * op.options["filter_height"] * op.options["filter_width"]


def _average_same_quant(g: Graph, op: Operator) -> str | None:
    return same_quant(g, op) if op.opcode == "AVERAGE_POOL_2D" else None


def _pool(e: cg.Emitter, op: Operator) -> None:
    g = e.graph
    x, y = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    b, ih, iw, c = cg.nhwc(x.shape)
    _, oh, ow, _ = cg.nhwc(y.shape)
    o = op.options
    kh, kw = int(o["filter_height"]), int(o["filter_width"])
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    same = o.get("padding", "VALID") == "SAME"
    lo, hi = cg.act_range(op, y)
    fields = {
        "batches": b, "in_h": ih, "in_w": iw, "channels": c, "out_h": oh, "out_w": ow,
        "k_h": kh, "k_w": kw, "stride_h": sh, "stride_w": sw,
        "pad_top": quant.same_padding(ih, kh, sh, 1, oh) if same else 0,
        "pad_left": quant.same_padding(iw, kw, sw, 1, ow) if same else 0,
        "act_min": lo, "act_max": hi,
    }
    p = e.struct("ac_pool_params", e.sym(op.index, "params"), fields, f"layer {op.index} {op.opcode} '{op.name}'")
    fn = "ac_max_pool" if op.opcode == "MAX_POOL_2D" else "ac_avg_pool"
    e.call(op, f"{fn}(&{p}, {e.ref(op.inputs[0])}, {e.ref(op.outputs[0])});")


OP = OpDef(
    opcodes=(Opcode("MAX_POOL_2D", "AddMaxPool2D", tflm_op_data=64, inputs=(1, 1)),
             Opcode("AVERAGE_POOL_2D", "AddAveragePool2D", tflm_op_data=64, inputs=(1, 1))),
    constraints=(INT8, ACT, Constraint(
        _average_same_quant, "TFLM's int8 average pool averages raw values, so input and output quantization must match")),
    vela_macs=macs, nessi_macs=macs, emit=_pool, validate=validate._pool,
    doc="any filter, stride, SAME/VALID; fused activations; AVERAGE: input and output quantization equal",
)
