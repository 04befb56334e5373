"""QUANTIZE and DEQUANTIZE at the graph's edges: a float-input model's QUANTIZE of its input and
a float-output model's DEQUANTIZE of its output. The generated network's int8 core runs between
them; `<prefix>_invoke_float` wraps it in ac_quantize / ac_dequantize (deploy/codegen.py)."""

from __future__ import annotations

from acdeploy.deploy import validate
from acdeploy.deploy.ir import Graph, Operator
from acdeploy.deploy.ops.base import Check, Constraint, GraphContext, Opcode, OpDef, prod


def _io_dtype(opcode: str, inp: str, out: str) -> Check:
    def check(g: Graph, op: Operator) -> str | None:
        if op.opcode != opcode:
            return None
        for role, idx, want in (("input", op.inputs[0], inp), ("output", op.outputs[0], out)):
            t = g.tensor(idx)
            if t.dtype != want:
                return f"{role} '{t.name}' is {t.dtype}, expected {want}"
        return None
    return check


def _graph_input(g: Graph, op: Operator) -> str | None:
    if op.opcode != "QUANTIZE" or op.inputs[0] in g.inputs:
        return None
    return "QUANTIZE inside the graph (a requantization) is not supported"


def _graph_output(g: Graph, op: Operator) -> str | None:
    if op.opcode != "DEQUANTIZE" or op.outputs[0] in g.outputs:
        return None
    return "DEQUANTIZE inside the graph is not supported"


def vela_macs(g: Graph, op: Operator, ctx: GraphContext) -> int:
    """Vela: an int8 -> int8 QUANTIZE (requantize) is a MemoryCopy of the output; float
    QUANTIZE / DEQUANTIZE stay on the CPU (0). NeSsi: 0."""
    if op.opcode == "QUANTIZE" and g.tensor(op.inputs[0]).dtype != "float32":
        return prod(g.tensor(op.outputs[0]).shape)
    return 0


OP = OpDef(
    opcodes=(Opcode("QUANTIZE", "AddQuantize", tflm_op_data=32, inputs=(1, 1)),
             Opcode("DEQUANTIZE", "AddDequantize", tflm_op_data=32, inputs=(1, 1))),
    constraints=(
        Constraint(_io_dtype("QUANTIZE", "float32", "int8"), "the C runtime quantizes float32 inputs to int8 only"),
        Constraint(_io_dtype("DEQUANTIZE", "int8", "float32"), "the C runtime dequantizes int8 outputs to float32 only"),
        Constraint(_graph_input, "QUANTIZE is supported only on a graph input (float-input models)"),
        Constraint(_graph_output, "DEQUANTIZE is supported only on a graph output (float-output models)")),
    vela_macs=vela_macs, validate=validate._same_shape,
    doc="float32 graph input to int8 / int8 graph output to float32 only (float-I/O models)",
)
