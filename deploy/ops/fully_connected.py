"""FULLY_CONNECTED: int8 rows x weights[Cout, Cin], per-tensor or per-channel weights."""

from __future__ import annotations

import numpy as np

from acdeploy.deploy import codegen as cg
from acdeploy.deploy import quant, validate
from acdeploy.deploy import weight_formats as wf
from acdeploy.deploy.ir import Graph, Operator
from acdeploy.deploy.ops import sparse_weights
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
    rows = cg.numel(x.shape) // in_depth
    fmt, sparse = _choose_format(e, op, w.data, rows, per_channel or cg.zp(w) == 0)
    common = {"rows": rows, "in_depth": in_depth, "out_depth": out_depth}

    def requant() -> dict[str, str]:
        return {"multiplier": e.array(e.sym(op.index, "mult"), "int32_t", mults, f"{layer}: multiplier(s)"),
                "shift": e.array(e.sym(op.index, "shift"), "int32_t", shifts, f"{layer}: shift(s)")}

    if sparse is not None and fmt.format == "sparse":
        fields = {
            **common, "output_offset": cg.zp(y), "act_min": lo, "act_max": hi, "per_channel": int(per_channel),
            "bias": e.array(e.sym(op.index, "bias"), "int32_t", _folded_bias(g, op, w.data, -cg.zp(x)),
                            f"{layer}: bias + input offset x sum of the row's weights"),
            **requant(),
            "count": e.array(e.sym(op.index, "count"), "uint16_t", sparse.count, f"{layer}: entries per output row"),
            "delta": e.array(e.sym(op.index, "delta"), "uint8_t", sparse.index,
                             f"{layer}: input steps of the non-zero weights of '{w.name}' {list(w.shape)}"),
            "value": e.array(e.sym(op.index, "value"), "int8_t", sparse.value, f"{layer}: non-zero weights"),
        }
        p = e.struct("ac_fc_sparse_params", e.sym(op.index, "params"), fields, f"{layer}: sparse weights")
        e.call(op, f"ac_fully_connected_sparse(&{p}, {e.ref(op.inputs[0])}, {e.ref(op.outputs[0])});")
        return
    fields = {
        **common,
        "input_offset": -cg.zp(x), "filter_offset": 0 if per_channel else -cg.zp(w), "output_offset": cg.zp(y),
        "act_min": lo, "act_max": hi, "per_channel": int(per_channel),
        "filter": e.array(e.sym(op.index, "filter"), "int8_t", w.data.astype(np.int64),
                          f"{layer}: weights '{w.name}' {list(w.shape)}"),
        "bias": cg.bias_array(e, op, layer, out_depth),
    }
    fields.update(requant())
    p = e.struct("ac_fc_params", e.sym(op.index, "params"), fields, layer)
    e.call(op, f"ac_fully_connected(&{p}, {e.ref(op.inputs[0])}, {e.ref(op.outputs[0])});")


def _folded_bias(g: Graph, op: Operator, w: np.ndarray, input_offset: int) -> np.ndarray:
    """bias + input_offset * (sum of the row's weights), wrapped to int32 like the accumulator."""
    sums = w.astype(np.int64).reshape(w.shape[0], -1).sum(axis=1)
    return (cg.bias_values(g, op, w.shape[0]) + input_offset * sums + (1 << 31)) % (1 << 32) - (1 << 31)


def _choose_format(e: cg.Emitter, op: Operator, w: np.ndarray, rows: int, symmetric: bool):
    """(the layer's weight_formats.Candidate, its sparse layout or None), recorded in e.formats."""
    out_depth, in_depth = (int(d) for d in w.shape)
    weights, nnz = int(w.size), sparse_weights.nonzeros(w)
    outputs = rows * out_depth
    cands = [wf.Candidate("dense", "ac_fully_connected", weights,
                          wf.predict("ac_fully_connected", rows * weights, outputs, core=e.core))]
    sparse = None
    if not e.reference and symmetric:
        sparse = sparse_weights.encode_fc(w)
        # The kernel adds the folded bias after the raw sum: both must stay within int32.
        folded = _folded_bias(e.graph, op, w, -cg.zp(e.graph.tensor(op.inputs[0])))
        if sparse is not None and int(np.abs(folded).max(initial=0)) + in_depth * 128 * 127 >= 1 << 31:
            sparse = None
    if sparse is not None:
        cands.append(wf.Candidate("sparse", "ac_fully_connected_sparse", sparse.nbytes, wf.predict(
            "ac_fully_connected_sparse", rows * int(sparse.value.size), outputs, core=e.core)))
    chosen = wf.choose_layer(e.formats, op, cands, e.weights, e.objective, weights, nnz,
                             sparse_weights.tflm_prune_bytes(weights, nnz))
    return chosen, sparse


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
