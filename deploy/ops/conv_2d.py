"""CONV_2D: int8 convolution, per-channel or per-tensor weights, any stride, dilation, SAME or
VALID padding, and grouped filters (input channels a multiple of the filter's)."""

from __future__ import annotations

from acdeploy.deploy import validate
from acdeploy.deploy.ir import Graph, Operator
from acdeploy.deploy.ops.base import WEIGHTED, Constraint, GraphContext, Opcode, OpDef, nhwc4
from acdeploy.deploy.ops.conv_emit import emit_conv


def _groups_split_outputs(g: Graph, op: Operator) -> str | None:
    ic, (oc, _, _, fic) = g.tensor(op.inputs[0]).shape[-1], g.tensor(op.inputs[1]).shape
    groups = ic // fic
    return None if oc % groups == 0 else f"{oc} output channels do not split into {groups} groups"


def macs(g: Graph, op: Operator, ctx: GraphContext) -> int:
    """Vela and NeSsi: OH*OW*Cout*KH*KW*Cin (Cin per group: the filter's depth)."""
    n, oh, ow, oc = nhwc4(g.tensor(op.outputs[0]).shape)
    _, kh, kw, fic = g.tensor(op.inputs[1]).shape  # [Cout, KH, KW, Cin / groups]
    return n * oh * ow * oc * kh * kw * fic


OP = OpDef(
    opcodes=(Opcode("CONV_2D", "AddConv2D", tflm_op_data=104, inputs=(2, 3), optional=(2,)),),
    constraints=(*WEIGHTED, Constraint(
        _groups_split_outputs, "a grouped convolution gives every group the same number of output channels")),
    vela_macs=macs, nessi_macs=macs, param_inputs=(1, 2), per_channel=True,
    emit=lambda e, op: emit_conv(e, op, depthwise=False),
    validate=validate._conv,
    doc="stride, dilation, SAME/VALID, grouped; per-channel or per-tensor int8 weights; fused NONE/RELU/RELU6/RELU_N1_TO_1",
)
