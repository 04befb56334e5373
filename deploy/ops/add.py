"""ADD: int8 addition of two tensors with NumPy broadcasting (rank <= 4), each input rescaled as
TFLite does; either input may be a constant."""

from __future__ import annotations

from acdeploy.deploy import codegen as cg
from acdeploy.deploy import quant, validate
from acdeploy.deploy import weight_formats as wf
from acdeploy.deploy.ir import Graph, Operator
from acdeploy.deploy.ops.base import ACT, CONST_INT8, INT8, GraphContext, Opcode, OpDef, prod


def nessi_macs(g: Graph, op: Operator, ctx: GraphContext) -> int:
    """NeSsi: (inputs - 1) x output elements. Vela runs ADD as an elementwise op: 0 MACs."""
    return (len([i for i in op.inputs if i >= 0]) - 1) * prod(g.tensor(op.outputs[0]).shape)


# The two input tables of 256 int32 each (flash, or the arena when expanded at run time).
TABLE_BYTES = 2 * 256 * 4


def _broadcast_strides(shape: tuple[int, ...], out: list[int]) -> list[int]:
    dims = cg.nhwc(shape)
    strides, acc = [0] * 4, 1
    for d in range(3, -1, -1):
        strides[d] = 0 if dims[d] == 1 and out[d] != 1 else acc
        acc *= dims[d]
    return strides


def _add(e: cg.Emitter, op: Operator) -> None:
    g = e.graph
    a, b, y = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.tensor(op.outputs[0])
    out = cg.nhwc(y.shape)
    lo, hi = cg.act_range(op, y)
    ap = quant.add_params(cg.scale(a), cg.scale(b), cg.scale(y))
    layer = f"layer {op.index} ADD '{op.name}'"
    cost = wf.expand_instructions(2 * 256, "add_entry")
    expand = ""
    if not e.reference and wf.expand_pays(e.objective, TABLE_BYTES, cost, e.scratch_grows_arena(op, TABLE_BYTES)):
        # The tables are computed from the params at the layer's start into an arena range free
        # during the layer (ac_add_expand_tables: the same arithmetic, bit for bit).
        addr, offset = e.scratch(op, TABLE_BYTES)
        tables = {"input1_table": addr, "input2_table": f"{addr} + 256"}
        expand = f"ac_add_expand_tables(&{e.sym(op.index, 'params')}, {addr}, {addr} + 256);\n    "
        e.expanded[op.index] = wf.ExpandedParams(
            index=op.index, name=op.name, op=op.opcode, what="ADD input tables", flash_bytes=0,
            table_bytes=TABLE_BYTES, ram_offset=offset, predicted_instructions=cost)
    else:
        tables = {
            f"input{k}_table": e.array(e.sym(op.index, f"in{k}_table"), "int32_t",
                                       quant.add_input_table(-cg.zp(t), ap[f"input{k}_multiplier"],
                                                             ap[f"input{k}_shift"], ap["left_shift"]),
                                       f"{layer}: input {k} rescaled, for every int8 value (index q + 128)")
            for k, t in ((1, a), (2, b))}
    fields = {"out_dims": "{" + ", ".join(map(str, out)) + "}",
              "in1_strides": "{" + ", ".join(map(str, _broadcast_strides(a.shape, out))) + "}",
              "in2_strides": "{" + ", ".join(map(str, _broadcast_strides(b.shape, out))) + "}",
              "input1_offset": -cg.zp(a), "input2_offset": -cg.zp(b), "output_offset": cg.zp(y),
              **ap, "act_min": lo, "act_max": hi, **tables}
    p = e.struct("ac_add_params", e.sym(op.index, "params"), fields, f"layer {op.index} ADD '{op.name}'")
    e.call(op, f"{expand}ac_add(&{p}, {e.ref(op.inputs[0])}, {e.ref(op.inputs[1])}, {e.ref(op.outputs[0])});")


OP = OpDef(
    opcodes=(Opcode("ADD", "AddAdd", tflm_op_data=128, inputs=(2, 2)),),
    constraints=(INT8, CONST_INT8, ACT),
    nessi_macs=nessi_macs, emit=_add, validate=validate._add,
    doc="broadcasting (rank <= 4), constant or activation inputs of different quantization; fused activations",
)
