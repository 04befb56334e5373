"""FULLY_CONNECTED: int8 rows x weights[Cout, Cin], per-tensor or per-channel weights."""

from __future__ import annotations

import numpy as np

from acdeploy.deploy import codegen as cg
from acdeploy.deploy import quant, validate
from acdeploy.deploy.ir import Graph, Operator
from acdeploy.deploy.ops.base import WEIGHTED, Constraint, GraphContext, Opcode, OpDef, option, prod


def vela_macs(g: Graph, op: Operator, ctx: GraphContext) -> int:
    """Vela (VectorProduct): rows*Cout*Cin, rows = input elements / Cin."""
    cout, cin = g.tensor(op.inputs[1]).shape
    return prod(g.tensor(op.inputs[0]).shape) // cin * cout * cin


def nessi_macs(g: Graph, op: Operator, ctx: GraphContext) -> int:
    """NeSsi: output rows x Cout x the input's last dimension."""
    cout = g.tensor(op.inputs[1]).shape[0]
    return prod(g.tensor(op.outputs[0]).shape[:-1] or (1,)) * cout * g.tensor(op.inputs[0]).shape[-1]


def _fully_connected(e: cg.Emitter, op: Operator) -> None:
    g = e.graph
    x, w, y = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.tensor(op.outputs[0])
    out_depth, in_depth = int(w.shape[0]), int(w.shape[1])
    per_channel = w.quant.scale.size > 1
    if per_channel:
        mults, shifts = quant.per_channel_multipliers(cg.scale(x), w.quant.scale, cg.scale(y), out_depth)
    else:
        m, s = quant.fc_per_tensor_multiplier(cg.scale(x), float(w.quant.scale[0]), cg.scale(y))
        mults, shifts = [m], [s]
    lo, hi = cg.act_range(op, y)
    layer = f"layer {op.index} {op.opcode} '{op.name}'"
    fields = {
        "rows": cg.numel(x.shape) // in_depth, "in_depth": in_depth, "out_depth": out_depth,
        "input_offset": -cg.zp(x), "filter_offset": 0 if per_channel else -cg.zp(w), "output_offset": cg.zp(y),
        "act_min": lo, "act_max": hi, "per_channel": int(per_channel),
        "filter": e.array(e.sym(op.index, "filter"), "int8_t", w.data.astype(np.int64),
                          f"{layer}: weights '{w.name}' {list(w.shape)}"),
        "bias": cg.bias_array(e, op, layer, out_depth),
        "multiplier": e.array(e.sym(op.index, "mult"), "int32_t", mults, f"{layer}: multiplier(s)"),
        "shift": e.array(e.sym(op.index, "shift"), "int32_t", shifts, f"{layer}: shift(s)"),
    }
    p = e.struct("ac_fc_params", e.sym(op.index, "params"), fields, layer)
    e.call(op, f"ac_fully_connected(&{p}, {e.ref(op.inputs[0])}, {e.ref(op.outputs[0])});")


OP = OpDef(
    opcodes=(Opcode("FULLY_CONNECTED", "AddFullyConnected", tflm_op_data=80, inputs=(2, 3), optional=(2,)),),
    constraints=(*WEIGHTED,
                 Constraint(option("weights_format", (0,), "weights format"), "the C runtime reads dense (DEFAULT) weights"),
                 Constraint(option("asymmetric_quantize_inputs", (False,), "asymmetric_quantize_inputs"),
                            "hybrid (dynamic-range) fully connected layers are not int8 models")),
    vela_macs=vela_macs, nessi_macs=nessi_macs, param_inputs=(1, 2), per_channel=True,
    emit=_fully_connected, validate=validate._fully_connected,
    doc="any rank (rows of Cin), keep_num_dims; per-tensor or per-channel int8 weights; fused activations",
)
