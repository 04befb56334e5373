"""RESHAPE, SQUEEZE and EXPAND_DIMS: the output is the input's bytes with another shape, so the
memory plan gives both one buffer and the generated C has no code for them (a copy only when
the input is a constant or the plan could not share the buffer)."""

from __future__ import annotations

from acdeploy.deploy import codegen as cg
from acdeploy.deploy import validate
from acdeploy.deploy.ir import Operator
from acdeploy.deploy.ops.base import INT8, Opcode, OpDef
from acdeploy.textsafe import c_comment


def _alias(e: cg.Emitter, op: Operator) -> None:
    src, dst = op.inputs[0], op.outputs[0]
    n = e.graph.tensor(dst).nbytes
    if e.graph.tensor(src).is_constant or e.offsets.get(src) != e.offsets.get(dst):
        e.call(op, f"memmove({e.ref(dst)}, {e.ref(src)}, {n});")
    else:
        e.calls.append(f"    /* layer {op.index}: {op.opcode} '{c_comment(op.name)}': no code, output aliases input */\n")


OP = OpDef(
    opcodes=(Opcode("RESHAPE", "AddReshape", tflm_op_data=96, inputs=(1, 2), optional=(1,)), Opcode("SQUEEZE", "AddSqueeze", inputs=(1, 1)),
             Opcode("EXPAND_DIMS", "AddExpandDims", inputs=(2, 2))),
    constraints=(INT8,),
    aliases=True, emit=_alias, validate=validate._reshape,
    doc="no code: the output aliases the input",
)
