"""PAD and PADV2: int8 padding of a rank <= 4 tensor with the output zero point (PAD) or a
constant int8 value (PADV2)."""

from __future__ import annotations

import numpy as np

from acdeploy.deploy import codegen as cg
from acdeploy.deploy import validate
from acdeploy.deploy.ir import Graph, Operator
from acdeploy.deploy.ops.base import (
    INT8,
    Constraint,
    GraphContext,
    Opcode,
    OpDef,
    const_input,
    nhwc4,
    prod,
)


def vela_macs(g: Graph, op: Operator, ctx: GraphContext) -> int:
    """Vela folds a PAD into a following CONV_2D/DEPTHWISE_CONV_2D (0); else a MemoryCopy of the
    input into the middle (unless its producer writes it in place) plus four fills of the border.
    PADV2 is not in Vela's supported-operator list (it runs on the CPU): 0. NeSsi: 0."""
    if op.opcode != "PAD":
        return 0
    users = ctx.consumers.get(op.outputs[0], [])
    if len(users) == 1 and users[0].opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        return 0
    # top/bottom bands span the output width, left/right bands the output height
    _, oh, ow, c = nhwc4(g.tensor(op.outputs[0]).shape)
    pads = g.tensor(op.inputs[1]).data.reshape(-1, 2)[-3:]
    (top, bottom), (left, right) = pads[0], pads[1]
    fills = int(top + bottom) * ow * c + int(left + right) * oh * c
    copy = 0 if ctx.in_place(op.inputs[0]) else prod(g.tensor(op.inputs[0]).shape)
    return copy + fills


def _pad(e: cg.Emitter, op: Operator) -> None:
    g = e.graph
    x, y = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    pads = np.asarray(g.tensor(op.inputs[1]).data).reshape(-1, 2)
    before = [0] * (4 - len(pads)) + [int(p) for p in pads[:, 0]]
    value = cg.zp(y)
    if op.opcode == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        value = int(np.asarray(g.tensor(op.inputs[2]).data).reshape(-1)[0])
    fields = {"in_dims": "{" + ", ".join(map(str, cg.nhwc(x.shape))) + "}",
              "out_dims": "{" + ", ".join(map(str, cg.nhwc(y.shape))) + "}",
              "before": "{" + ", ".join(map(str, before)) + "}", "value": value}
    p = e.struct("ac_pad_params", e.sym(op.index, "params"), fields, f"layer {op.index} {op.opcode} '{op.name}'")
    e.call(op, f"ac_pad(&{p}, {e.ref(op.inputs[0])}, {e.ref(op.outputs[0])});")


OP = OpDef(
    opcodes=(Opcode("PAD", "AddPad", tflm_op_data=48, inputs=(2, 3), optional=(2,)),
             Opcode("PADV2", "AddPadV2", inputs=(2, 3), optional=(2,))),
    constraints=(INT8, Constraint(const_input(1, "int32", "paddings"), "paddings must be a constant int32 tensor")),
    vela_macs=vela_macs, emit=_pad, validate=validate._pad,
    doc="constant int32 paddings on any axis of a rank <= 4 input; PADV2 with a constant int8 value",
)
