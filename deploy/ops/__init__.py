"""The one registry of the operators the C runtime implements: one module per op or op family,
each declaring one `OpDef` (deploy/ops/base.py), read by every consumer (report, MACs, memory
plans, TFLM resolver list, validation, the C generator, build, `eval --engine c`, test vectors,
the README's operator table).

`check_supported(graph, where)` is the one gate: ModelError on the first problem, one line, e.g.
"m.tflite: layer 'conv2d_3' (CONV_2D #4): fused activation TANH is not supported: the C runtime
implements only NONE, RELU, RELU6 and RELU_N1_TO_1".
"""

from __future__ import annotations

from acdeploy.deploy.ir import Graph, Operator
from acdeploy.deploy.ops import (
    add,
    concatenation,
    conv_2d,
    depthwise_conv_2d,
    fully_connected,
    mean,
    pad,
    pooling,
    quantize,
    reshape,
    softmax,
)
from acdeploy.deploy.ops.base import Constraint, GraphContext, Opcode, OpDef
from acdeploy.errors import ModelError

__all__ = ["Constraint", "GraphContext", "OpDef", "Opcode", "check_supported", "is_float_model", "layer_label",
           "lookup", "problems", "registry", "resolver_ops"]

_DEFS: tuple[OpDef, ...] = tuple(m.OP for m in (
    conv_2d, depthwise_conv_2d, fully_connected, pooling, mean, add, softmax, pad, concatenation, reshape, quantize))
_BY_OPCODE: dict[str, tuple[OpDef, Opcode]] = {o.name: (d, o) for d in _DEFS for o in d.opcodes}

_HINTS = {
    "SPACE_TO_BATCH_ND": "; the converter emits it around dilated convolutions: use dilation_rate=1",
    "BATCH_TO_SPACE_ND": "; the converter emits it around dilated convolutions: use dilation_rate=1",
}


def registry() -> tuple[OpDef, ...]:
    """Every OpDef, in the README's order."""
    return _DEFS


def lookup(opcode: str) -> OpDef | None:
    """The OpDef of a TFLite builtin operator name, None when the C runtime lacks it."""
    found = _BY_OPCODE.get(opcode)
    return found[0] if found is not None else None


def opcode_info(opcode: str) -> Opcode | None:
    found = _BY_OPCODE.get(opcode)
    return found[1] if found is not None else None


def supported_opcodes() -> tuple[str, ...]:
    return tuple(_BY_OPCODE)


def layer_label(op: Operator) -> str:
    return f"layer '{op.name}' ({op.opcode} #{op.index})"


def is_float_model(graph: Graph) -> bool:
    """True when the model computes in float: float weights or float activations into a
    conv/depthwise/FC layer (float and dynamic-range models), or no int8 tensor at all."""
    for op in graph.operators:
        d = lookup(op.opcode)
        if d is not None and d.param_inputs and len(op.inputs) > 1:
            if {graph.tensor(op.inputs[0]).dtype, graph.tensor(op.inputs[1]).dtype} & {"float32", "float16"}:
                return True
    return not any(t.dtype == "int8" for t in graph.tensors)


def problems(graph: Graph) -> list[str]:
    """Every unsupported operator or option, one sentence each."""
    out = []
    for op in graph.operators:
        d = lookup(op.opcode)
        if d is None:
            out.append(f"{layer_label(op)}: operator {op.opcode} is not supported by the C runtime "
                       f"(it implements {', '.join(supported_opcodes())}){_HINTS.get(op.opcode, '')}")
            continue
        for c in d.constraints:
            what = c.check(graph, op)
            if what:
                out.append(f"{layer_label(op)}: {what}: {c.reason}")
                break
    return out


def check_supported(graph: Graph, where: str) -> None:
    """Raise ModelError (one line) if the model is float or uses what the C runtime lacks."""
    if is_float_model(graph):
        raise ModelError(
            f"{where}: the model is float, not full-integer int8; quantize it first "
            "(`acdeploy compress quantize`, or the TFLite converter with a representative dataset "
            "and TFLITE_BUILTINS_INT8)")
    found = problems(graph)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise ModelError(f"{where}: {found[0]}{more}")


def resolver_ops(graph: Graph) -> list[str]:
    """The MicroMutableOpResolver calls the model needs, in first-use order."""
    seen: dict[str, None] = {}
    for op in graph.operators:
        seen[_BY_OPCODE[op.opcode][1].resolver] = None
    return list(seen)


README_BEGIN = "<!-- supported-ops: generated from deploy/ops/ by scripts/update_golden.py -->"
README_END = "<!-- /supported-ops -->"


def markdown_table() -> str:
    """The README's operator table, one row per OpDef (between README_BEGIN and README_END)."""
    rows = ["| operator | TFLM resolver | the C runtime computes |", "| --- | --- | --- |"]
    for d in _DEFS:
        names = ", ".join(f"`{o.name}`" for o in d.opcodes)
        resolvers = ", ".join(f"`{o.resolver}`" for o in d.opcodes)
        rows.append(f"| {names} | {resolvers} | {d.doc} |")
    return "\n".join([README_BEGIN, *rows, README_END])


def with_readme_table(readme: str) -> str:
    """`readme` with its operator table replaced by `markdown_table()`."""
    start, end = readme.index(README_BEGIN), readme.index(README_END) + len(README_END)
    return readme[:start] + markdown_table() + readme[end:]
