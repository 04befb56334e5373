"""Ahead-of-time C generator: an int8 Graph (deploy/ir.py) plus its memory plan become one
self-contained C file of kernel calls (acnet.c) and its header (acnet.h).

Everything that TFLite Micro computes at Prepare time (multipliers, shifts, activation bounds,
explicit paddings, broadcast strides) is computed here by deploy/quant.py and emitted as const
data; weights and biases become const arrays (flash), every activation lives in one static
arena at the planned offset. One call per layer, with the layer's name in a comment: each op's
emitter lives with the op in deploy/ops/ (`OpDef.emit`) and writes through the `Emitter` here.

`prefix` renames every exported symbol and macro, so several generated networks can be linked
into one binary (the kernel tests do that).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from acdeploy.deploy import ops, quant
from acdeploy.deploy.ir import Graph, Operator, Tensor
from acdeploy.errors import ModelError
from acdeploy.textsafe import c_comment, c_ident


@dataclass
class GeneratedNetwork:
    source: str  # acnet.c
    header: str  # acnet.h
    input_size: int
    output_size: int
    arena_bytes: int
    float_io: bool
    input_tensor: int  # the int8 core's input / output tensor indices
    output_tensor: int
    formats: list = field(default_factory=list)  # weight_formats.LayerFormat per weighted layer
    # Layers whose parameters are expanded into the arena at run time (Emitter.expanded).
    expanded: list = field(default_factory=list)


# A data comment names a layer and a tensor (each up to 200 characters of their own).
_DATA_COMMENT_MAX = 600


def _check_prefix(prefix: str) -> str:
    # It becomes identifiers, macros and an #include file name, where no escaping exists.
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,30}", prefix):
        raise ValueError(f"prefix {prefix!r} is not a short C identifier")
    return prefix


def nhwc(shape: tuple[int, ...]) -> list[int]:
    if len(shape) > 4:
        raise ValueError(f"rank {len(shape)} > 4")
    return [1] * (4 - len(shape)) + [int(d) for d in shape]


def numel(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def scale(t: Tensor) -> float:
    return float(t.quant.scale[0]) if t.quant is not None else 1.0


def zp(t: Tensor) -> int:
    return int(t.quant.zero_point[0]) if t.quant is not None else 0


def _int_list(values, per_line: int = 16) -> str:
    vals = [str(int(v)) for v in np.asarray(values).reshape(-1)]
    lines = [", ".join(vals[i:i + per_line]) for i in range(0, len(vals), per_line)]
    return "\n    " + ",\n    ".join(lines) + "\n" if vals else "0"


def _align16(n: int) -> int:
    return (n + 15) // 16 * 16


@dataclass
class Emitter:
    graph: Graph
    offsets: dict[int, int]
    prefix: str
    data: list[str] = field(default_factory=list)  # const arrays and param structs
    calls: list[str] = field(default_factory=list)  # the body of <prefix>_invoke
    const_names: dict[int, str] = field(default_factory=dict)
    reference: bool = False  # every layer calls its op's reference kernel (the tests' oracle)
    variants: dict[int, str] = field(default_factory=dict)  # layer index -> the kernel it calls
    offset_names: dict[int, str] = field(default_factory=dict)  # arena tensor -> its offset macro
    weights: str = "auto"  # weight formats: auto | dense | sparse (deploy/weight_formats.py)
    objective: str = "speed"  # what auto and the dense formats optimise: speed | size | balanced
    core: str = "cortex-m4"  # the cost model's core (weight_formats.COSTS)
    formats: dict = field(default_factory=dict)  # layer index -> weight_formats.LayerFormat
    lifetimes: dict = field(default_factory=dict)  # arena tensor -> (first, last) layer position
    arena_top: int = 0  # the arena's end: the plan's, or past the highest expanded-parameter range
    scratch_names: dict = field(default_factory=dict)  # macro -> arena offset of expanded parameters
    expanded: dict = field(default_factory=dict)  # layer index -> ExpandedParams

    # --- names and references -----------------------------------------------------------
    def sym(self, layer: int, what: str) -> str:
        return f"{self.prefix}_l{layer:02d}_{what}"

    def array(self, name: str, ctype: str, values, comment: str) -> str:
        n = max(1, int(np.asarray(values).size))
        self.data.append(f"/* {c_comment(comment, _DATA_COMMENT_MAX)} */\nstatic const {ctype} {name}[{n}] = {{{_int_list(values)}}};\n")
        return name

    def ref(self, index: int, ctype: str = "int8_t") -> str:
        """C expression for a tensor's data: a const array for constants, else the arena."""
        t = self.graph.tensor(index)
        if t.is_constant:
            if index not in self.const_names:
                name = f"{self.prefix}_t{index}_{c_ident(t.name)}"
                self.const_names[index] = self.array(
                    name, "int8_t", t.data.astype(np.int64), f"constant tensor {index} '{t.name}' {list(t.shape)}")
            return self.const_names[index]
        if index not in self.offsets:
            raise ModelError(f"tensor {index} '{t.name}' has no offset in the memory plan")
        off = self.offset_name(index)
        return f"({ctype} *)({self.prefix}_arena + {off})" if ctype != "int8_t" else f"{self.prefix}_arena + {off}"

    def offset_name(self, index: int) -> str:
        """The macro naming a tensor's arena offset: <PREFIX>_T_<tensor name>, unique."""
        if index not in self.offset_names:
            base = f"{self.prefix.upper()}_T_{c_ident(self.graph.tensor(index).name)}"
            name, taken = base, set(self.offset_names.values())
            while name in taken:
                name = f"{name}_{index}"
            self.offset_names[index] = name
        return self.offset_names[index]

    def offset_defines(self) -> str:
        return "".join([*(f"#define {name} {self.offsets[i]} /* tensor {i} */\n" for i, name in
                          sorted(self.offset_names.items(), key=lambda kv: (self.offsets[kv[0]], kv[0]))),
                        *(f"#define {name} {off} /* expanded parameters, live during their layer only */\n"
                          for name, off in self.scratch_names.items())])

    def scratch_offset(self, op: Operator, nbytes: int) -> int:
        """Where scratch(op, nbytes) would place its range: the lowest 16-byte aligned arena offset
        that no tensor live during the layer occupies (past the plan's arena when no gap is large
        enough)."""
        k = op.index
        live = self.lifetimes or {i: (k, k) for i in self.offsets}  # no lifetimes: every tensor is busy
        busy = sorted((self.offsets[i], self.offsets[i] + self.graph.tensor(i).nbytes)
                      for i, (first, last) in live.items() if first <= k <= last and i in self.offsets)
        size = _align16(nbytes)
        offset = 0
        for start, end in busy:
            if start >= offset + size:
                break
            offset = max(offset, _align16(end))
        return offset

    def scratch_grows_arena(self, op: Operator, nbytes: int) -> int:
        """The bytes scratch(op, nbytes) would add to the arena (0 when it fits in a gap)."""
        return max(0, self.scratch_offset(op, nbytes) + _align16(nbytes) - self.arena_top)

    def scratch(self, op: Operator, nbytes: int) -> tuple[str, int]:
        """RAM for parameters the layer expands right before it runs (see scratch_offset); they live
        during the layer only. Returns the C expression of its address (int32_t *) and its offset."""
        offset = self.scratch_offset(op, nbytes)
        size = _align16(nbytes)
        self.arena_top = max(self.arena_top, offset + size)
        name = f"{self.prefix.upper()}_P_L{op.index:02d}"
        self.scratch_names[name] = offset
        return f"(int32_t *)({self.prefix}_arena + {name})", offset

    def struct(self, ctype: str, name: str, fields: dict[str, object], comment: str) -> str:
        body = "".join(f"    .{k} = {v},\n" for k, v in fields.items())
        self.data.append(f"/* {c_comment(comment, _DATA_COMMENT_MAX)} */\nstatic const {ctype} {name} = {{\n{body}}};\n")
        return name

    def call(self, op: Operator, line: str) -> None:
        self.calls.append(f"    /* layer {op.index}: {op.opcode} '{c_comment(op.name)}' */\n    {line}\n")


def act_range(op: Operator, out: Tensor) -> tuple[int, int]:
    return quant.activation_range(op.options.get("fused_activation_function", "NONE"), scale(out), zp(out))


def bias_array(e: Emitter, op: Operator, layer: str, channels: int) -> str:
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        return "NULL"
    b = e.graph.tensor(op.inputs[2])
    if b.data is None:
        raise ModelError(f"bias '{b.name}' is not a constant")
    return e.array(e.sym(op.index, "bias"), "int32_t", b.data.astype(np.int64).reshape(-1)[:channels],
                   f"{layer}: bias '{b.name}' {list(b.shape)}")


def bias_values(g: Graph, op: Operator, channels: int) -> np.ndarray:
    """The layer's int32 bias as int64 values, zeros when it has none."""
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        return g.tensor(op.inputs[2]).data.astype(np.int64).reshape(-1)[:channels]
    return np.zeros(channels, np.int64)


def _unsupported(op: Operator, why: str) -> ModelError:
    return ModelError(f"layer '{op.name}' (op #{op.index} {op.opcode}): {why}")


def _io(graph: Graph) -> tuple[list[Operator], int, int, Operator | None, Operator | None]:
    """The int8 core: the ops between an input QUANTIZE and an output DEQUANTIZE, if any."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ModelError(f"the generated C network takes one input and one output; the model has "
                         f"{len(graph.inputs)} inputs and {len(graph.outputs)} outputs")
    layers = list(graph.operators)
    q = dq = None
    core_in, core_out = graph.inputs[0], graph.outputs[0]
    if graph.tensor(core_in).dtype == "float32":
        first = [op for op in layers if core_in in op.inputs]
        if len(first) != 1 or first[0].opcode != "QUANTIZE":
            raise ModelError("float input must feed exactly one QUANTIZE op")
        q = first[0]
        core_in = q.outputs[0]
        layers.remove(q)
    if graph.tensor(core_out).dtype == "float32":
        last = [op for op in layers if core_out in op.outputs]
        if len(last) != 1 or last[0].opcode != "DEQUANTIZE":
            raise ModelError("float output must come from a DEQUANTIZE op")
        dq = last[0]
        core_out = dq.inputs[0]
        layers.remove(dq)
    return layers, core_in, core_out, q, dq


def core_io(graph: Graph) -> tuple[int, int]:
    """Tensor indices of the int8 core's input and output (inside any QUANTIZE/DEQUANTIZE)."""
    _, core_in, core_out, _, _ = _io(graph)
    return core_in, core_out


def _emit_layers(graph: Graph, plan, prefix: str, layers: list[Operator], reference: bool, weights: str,
                 objective: str, core: str) -> Emitter:
    e = Emitter(graph, dict(plan.offsets), _check_prefix(prefix), reference=reference, weights=weights,
                objective=objective, core=core, lifetimes=dict(plan.lifetimes), arena_top=int(plan.arena_bytes))
    for op in layers:
        try:
            ops.lookup(op.opcode).emit(e, op)
        except ModelError:
            raise
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as err:
            raise _unsupported(op, f"cannot generate code ({type(err).__name__}: {err})") from None
    return e


def generate(graph: Graph, plan, prefix: str = "acnet", macs: int | None = None,
             source_name: str = "", reference: bool = False, weights: str = "auto", objective: str = "speed",
             core: str = "cortex-m4") -> GeneratedNetwork:
    """Emit acnet.c/.h for `graph` with activations at `plan.offsets` in a `plan.arena_bytes` arena.

    reference: every layer calls its op's reference kernel instead of the optimized variant the
    generator would choose (the oracle of tests/deploy/test_kernels_variants.py).
    weights, objective, core: each weighted layer's format (deploy/weight_formats.py; core: a COSTS key)."""
    from acdeploy.deploy.weight_formats import check_mode, sparse_pays

    check_mode(weights, objective)
    ops.check_supported(graph, source_name or "model")
    layers, core_in, core_out, q, dq = _io(graph)
    e = _emit_layers(graph, plan, prefix, layers, reference, weights, objective, core)
    if not sparse_pays(list(e.formats.values()), weights, objective):
        e = _emit_layers(graph, plan, prefix, layers, reference, "dense", objective, core)
    P = prefix.upper()
    xin, xout = graph.tensor(core_in), graph.tensor(core_out)
    arena = max(16, int(plan.arena_bytes), e.arena_top)
    io_in, io_out = e.ref(core_in), e.ref(core_out)
    src = [
        f"/* Generated by acdeploy from {c_comment(source_name or 'a .tflite model')}: do not edit.\n"
        f" * {len(layers)} layers, int8, bit-exact with TensorFlow Lite Micro. */\n",
        "#include <string.h>\n\n", f'#include "{prefix}.h"\n', '#include "kernels/ac_kernels.h"\n\n',
        f"/* All activations, at offsets planned offline (one macro per tensor). */\n"
        f"static AC_ALIGN(16) int8_t {prefix}_arena[{P}_ARENA_SIZE];\n",
        e.offset_defines(), "\n",
        *e.data,
        f"\nint {prefix}_invoke(const int8_t *input, int8_t *output)\n{{\n",
        f"    if (input == NULL || output == NULL) {{\n        return {P}_ERROR_NULL;\n    }}\n",
        f"    memcpy({io_in}, input, {P}_INPUT_SIZE);\n",
        *e.calls,
        f"    memcpy(output, {io_out}, {P}_OUTPUT_SIZE);\n    return {P}_OK;\n}}\n",
    ]
    if q is not None or dq is not None:
        # The model's QUANTIZE / DEQUANTIZE (for a model with only one float end, the other end
        # is converted the same way, so the float entry point is always float in, float out).
        src.append(f"\nint {prefix}_invoke_float(const float *input, float *output)\n{{\n"
                   f"    static int8_t qin[{P}_INPUT_SIZE], qout[{P}_OUTPUT_SIZE];\n"
                   "    int status;\n"
                   f"    if (input == NULL || output == NULL) {{\n        return {P}_ERROR_NULL;\n    }}\n"
                   f"    ac_quantize(input, qin, {P}_INPUT_SIZE, {P}_INPUT_SCALE, {P}_INPUT_ZERO_POINT);\n"
                   f"    status = {prefix}_invoke(qin, qout);\n"
                   f"    if (status != {P}_OK) {{\n        return status;\n    }}\n"
                   f"    ac_dequantize(qout, output, {P}_OUTPUT_SIZE, {P}_OUTPUT_SCALE, {P}_OUTPUT_ZERO_POINT);\n"
                   f"    return {P}_OK;\n}}\n")
    hdr = [
        f"/* Generated by acdeploy: do not edit. */\n#ifndef {P}_H\n#define {P}_H\n\n#include <stdint.h>\n\n",
        f"#define {P}_INPUT_SIZE {numel(xin.shape)}\n",
        f"#define {P}_OUTPUT_SIZE {numel(xout.shape)}\n",
        f"#define {P}_ARENA_SIZE {arena}\n",
        f"#define {P}_MACS {int(macs)}\n" if macs is not None else "",
        f"#define {P}_INPUT_SCALE {float(np.float32(scale(xin))):.9e}f\n",
        f"#define {P}_INPUT_ZERO_POINT {zp(xin)}\n",
        f"#define {P}_OUTPUT_SCALE {float(np.float32(scale(xout))):.9e}f\n",
        f"#define {P}_OUTPUT_ZERO_POINT {zp(xout)}\n",
        f"#define {P}_FLOAT_IO {int(q is not None or dq is not None)}\n\n",
        f"/* What {prefix}_invoke returns: {P}_OK, or {P}_ERROR_NULL for a NULL input or output. */\n"
        f"#define {P}_OK 0\n#define {P}_ERROR_NULL 1\n\n",
        f"/* int8 in, int8 out (the int8 core between any QUANTIZE/DEQUANTIZE). */\n"
        f"int {prefix}_invoke(const int8_t *input, int8_t *output);\n",
    ]
    if q is not None or dq is not None:
        hdr.append(f"/* float in, float out: quantize, {prefix}_invoke, dequantize; the same status. */\n"
                   f"int {prefix}_invoke_float(const float *input, float *output);\n")
    hdr.append(f"\n#endif /* {P}_H */\n")
    return GeneratedNetwork(
        source="".join(src), header="".join(hdr), input_size=numel(xin.shape), output_size=numel(xout.shape),
        arena_bytes=arena, float_io=q is not None or dq is not None, input_tensor=core_in, output_tensor=core_out,
        formats=[e.formats[i] for i in sorted(e.formats)], expanded=[e.expanded[i] for i in sorted(e.expanded)])


def test_vectors_header(inputs: np.ndarray, expected: np.ndarray, prefix: str = "acnet") -> str:
    """test_vectors.h: n int8 inputs and the TFLM runtime's int8 outputs for them."""
    P = _check_prefix(prefix).upper()
    inputs = np.asarray(inputs, np.int8).reshape(len(inputs), -1)
    expected = np.asarray(expected, np.int8).reshape(len(expected), -1)

    def table(a: np.ndarray) -> str:
        return ",\n".join("    {" + _int_list(row).rstrip("\n") + "\n    }" for row in a)

    return (f"/* Generated by acdeploy: inputs and TFLite Micro's outputs for them. */\n"
            f"#ifndef {P}_TEST_VECTORS_H\n#define {P}_TEST_VECTORS_H\n\n#include <stdint.h>\n\n"
            f'#include "{prefix}.h"\n\n#define {P}_NUM_VECTORS {len(inputs)}\n\n'
            f"static const int8_t {prefix}_test_input[{P}_NUM_VECTORS][{P}_INPUT_SIZE] = {{\n{table(inputs)}\n}};\n\n"
            f"static const int8_t {prefix}_test_expected[{P}_NUM_VECTORS][{P}_OUTPUT_SIZE] = {{\n{table(expected)}\n}};\n\n"
            f"#endif /* {P}_TEST_VECTORS_H */\n")
