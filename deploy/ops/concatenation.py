"""CONCATENATION: int8 concatenation along any axis of inputs with the output's quantization
(activations or constants)."""

from __future__ import annotations

from acdeploy.deploy import codegen as cg
from acdeploy.deploy import validate
from acdeploy.deploy.ir import Graph, Operator
from acdeploy.deploy.ops.base import (
    CONST_INT8,
    INT8,
    SAME_QUANT,
    Constraint,
    GraphContext,
    Opcode,
    OpDef,
    prod,
)


def _no_activation(g: Graph, op: Operator) -> str | None:
    act = op.options.get("fused_activation_function", "NONE")
    return None if act == "NONE" else f"fused activation {act} is not supported"


def vela_macs(g: Graph, op: Operator, ctx: GraphContext) -> int:
    """Vela: one MemoryCopy (1x1 pooling) per input, of the elements its producer cannot write in
    place. NeSsi: 0."""
    return sum(prod(g.tensor(i).shape) for i in op.inputs if not ctx.in_place(i))


def _concat(e: cg.Emitter, op: Operator) -> None:
    y = e.graph.tensor(op.outputs[0])
    axis = int(op.options.get("axis", 0)) % len(y.shape)
    ins = [e.graph.tensor(i) for i in op.inputs]
    sizes = e.array(e.sym(op.index, "axis_sizes"), "int32_t", [t.shape[axis] for t in ins],
                    f"layer {op.index}: sizes along axis {axis}")
    fields = {"num_inputs": len(ins), "outer": cg.numel(y.shape[:axis]), "inner": cg.numel(y.shape[axis + 1:]),
              "axis_sizes": sizes}
    p = e.struct("ac_concat_params", e.sym(op.index, "params"), fields, f"layer {op.index} CONCATENATION '{op.name}'")
    ptrs = e.sym(op.index, "inputs")
    refs = ", ".join(e.ref(i) for i in op.inputs)
    e.call(op, f"{{ const int8_t *const {ptrs}[{len(ins)}] = {{{refs}}};\n      ac_concat(&{p}, {ptrs}, {e.ref(op.outputs[0])}); }}")


OP = OpDef(
    opcodes=(Opcode("CONCATENATION", "AddConcatenation", tflm_op_data=80, inputs=(1, None)),),
    constraints=(INT8, CONST_INT8, Constraint(
        _no_activation,
        "the C runtime, like TFLM's kernel, concatenates without a fused activation"), SAME_QUANT),
    vela_macs=vela_macs, emit=_concat, validate=validate._concat,
    doc="any axis, any number of inputs; input and output quantization equal; no fused activation",
)
