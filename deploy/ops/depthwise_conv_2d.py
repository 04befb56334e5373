"""DEPTHWISE_CONV_2D: int8 depthwise convolution with any depth multiplier, stride, dilation and
padding."""

from __future__ import annotations

from acdeploy.deploy import validate
from acdeploy.deploy.ir import Graph, Operator
from acdeploy.deploy.ops.base import WEIGHTED, GraphContext, Opcode, OpDef, nhwc4
from acdeploy.deploy.ops.conv_emit import emit_conv


def macs(g: Graph, op: Operator, ctx: GraphContext) -> int:
    """Vela and NeSsi: OH*OW*Cout*KH*KW."""
    n, oh, ow, oc = nhwc4(g.tensor(op.outputs[0]).shape)
    _, kh, kw, _ = g.tensor(op.inputs[1]).shape  # [1, KH, KW, Cout]
    return n * oh * ow * oc * kh * kw


OP = OpDef(
    opcodes=(Opcode("DEPTHWISE_CONV_2D", "AddDepthwiseConv2D", tflm_op_data=104, inputs=(2, 3), optional=(2,)),),
    constraints=WEIGHTED,
    vela_macs=macs, nessi_macs=macs, param_inputs=(1, 2), per_channel=True,
    emit=lambda e, op: emit_conv(e, op, depthwise=True),
    validate=lambda v, op: validate._conv(v, op, depthwise=True),
    doc="any depth multiplier, stride, dilation, SAME/VALID; per-channel or per-tensor int8 weights; fused activations",
)
