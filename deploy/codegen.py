"""Ahead-of-time C generator: an int8 Graph (deploy/ir.py) plus its memory plan become one
self-contained C file of kernel calls (acnet.c) and its header (acnet.h).

Everything that TFLite Micro computes at Prepare time (multipliers, shifts, activation bounds,
explicit paddings, broadcast strides) is computed here by deploy/quant.py and emitted as const
data; weights and biases become const arrays (flash), every activation lives in one static
arena at the planned offset. One call per layer, with the layer's name in a comment.

`prefix` renames every exported symbol and macro, so several generated networks can be linked
into one binary (the kernel tests do that).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from acdeploy.deploy import quant
from acdeploy.deploy.ir import Graph, Operator, Tensor

from acdeploy.errors import ModelError
from acdeploy.textsafe import c_comment, c_ident

# Ops that only reinterpret the shape: the memory plan aliases output and input.
ALIAS_OPS = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
SUPPORTED_OPS = (
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN",
    "ADD", "SOFTMAX", "PAD", "PADV2", "CONCATENATION", "QUANTIZE", "DEQUANTIZE", *ALIAS_OPS,
)


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


# A data comment names a layer and a tensor (each up to 200 characters of their own).
_DATA_COMMENT_MAX = 600


def _check_prefix(prefix: str) -> str:
    # It becomes identifiers, macros and an #include file name, where no escaping exists.
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,30}", prefix):
        raise ValueError(f"prefix {prefix!r} is not a short C identifier")
    return prefix


def _nhwc(shape: tuple[int, ...]) -> list[int]:
    if len(shape) > 4:
        raise ValueError(f"rank {len(shape)} > 4")
    return [1] * (4 - len(shape)) + [int(d) for d in shape]


def _numel(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _scale(t: Tensor) -> float:
    return float(t.quant.scale[0]) if t.quant is not None else 1.0


def _zp(t: Tensor) -> int:
    return int(t.quant.zero_point[0]) if t.quant is not None else 0


def _int_list(values, per_line: int = 16) -> str:
    vals = [str(int(v)) for v in np.asarray(values).reshape(-1)]
    lines = [", ".join(vals[i:i + per_line]) for i in range(0, len(vals), per_line)]
    return "\n    " + ",\n    ".join(lines) + "\n" if vals else "0"


@dataclass
class _Emitter:
    graph: Graph
    offsets: dict[int, int]
    prefix: str
    data: list[str] = field(default_factory=list)  # const arrays and param structs
    calls: list[str] = field(default_factory=list)  # the body of <prefix>_invoke
    const_names: dict[int, str] = field(default_factory=dict)
    # per conv/depthwise layer: (has the requantisation table, clamps to all of int8)
    conv_kinds: list[tuple[bool, bool]] = field(default_factory=list)

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
        off = self.offsets[index]
        return f"({ctype} *)({self.prefix}_arena + {off})" if ctype != "int8_t" else f"{self.prefix}_arena + {off}"

    def struct(self, ctype: str, name: str, fields: dict[str, object], comment: str) -> str:
        body = "".join(f"    .{k} = {v},\n" for k, v in fields.items())
        self.data.append(f"/* {c_comment(comment, _DATA_COMMENT_MAX)} */\nstatic const {ctype} {name} = {{\n{body}}};\n")
        return name

    def call(self, op: Operator, line: str) -> None:
        self.calls.append(f"    /* layer {op.index}: {op.opcode} '{c_comment(op.name)}' */\n    {line}\n")


def _act(op: Operator, out: Tensor) -> tuple[int, int]:
    return quant.activation_range(op.options.get("fused_activation_function", "NONE"), _scale(out), _zp(out))


def _bias(e: _Emitter, op: Operator, layer: str, channels: int) -> str:
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        return "NULL"
    b = e.graph.tensor(op.inputs[2])
    if b.data is None:
        raise ModelError(f"bias '{b.name}' is not a constant")
    return e.array(e.sym(op.index, "bias"), "int32_t", b.data.astype(np.int64).reshape(-1)[:channels],
                   f"{layer}: bias '{b.name}' {list(b.shape)}")


def _bias_values(g: Graph, op: Operator, channels: int) -> np.ndarray:
    """The layer's int32 bias as int64 values, zeros when it has none."""
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        return g.tensor(op.inputs[2]).data.astype(np.int64).reshape(-1)[:channels]
    return np.zeros(channels, np.int64)


def _folded_bias(g: Graph, op: Operator, w: Tensor, input_offset: int, channels: int) -> np.ndarray:
    """bias + input_offset * (sum of the channel's weights), as CMSIS-NN's kernel sums:
    sum (x + off) * w = sum x * w + off * sum w exactly; wrapped to int32 like the kernel's int32
    accumulator, so the result is the same even where that sum would overflow."""
    sums = w.data.astype(np.int64).reshape(channels, -1).sum(axis=1)
    return (_bias_values(g, op, channels) + input_offset * sums + (1 << 31)) % (1 << 32) - (1 << 31)


def _requant_table(e: _Emitter, op: Operator, layer: str, mults: list[int], shifts: list[int],
                   depthwise: bool) -> str:
    """Rows {bias', multiplier, r, 2^(r-1)} for ac_requant_fast, or NULL when a channel does not
    meet its preconditions (multiplier >= 2^30, shift <= -2); bias' is the folded bias for conv."""
    if not all(m >= 1 << 30 and s <= -2 for m, s in zip(mults, shifts, strict=True)):
        return "NULL"
    g = e.graph
    oc = len(mults)
    bias = (_bias_values(g, op, oc) if depthwise
            else _folded_bias(g, op, g.tensor(op.inputs[1]), -_zp(g.tensor(op.inputs[0])), oc))
    zp = _zp(g.tensor(op.outputs[0]))
    w = g.tensor(op.inputs[1])
    # The output zero point rides in the rounding term: (u + 2^(r-1) + zp 2^r) >> r is the
    # shifted value plus zp exactly, provided the sum stays in int32. |u| <= |acc + bias| / 2 + 1
    # and |acc| <= taps * 255 * 128 (input plus offset, int8 weight; taps per output channel).
    taps = int(np.prod(w.shape)) // oc
    worst = max(abs(int(b)) for b in bias) + taps * 255 * 128
    rows = []
    for b, m, s in zip(bias, mults, shifts, strict=True):
        r = -s - 1
        if worst // 2 + 1 + (1 << (r - 1)) + abs(zp) * (1 << r) >= 1 << 31:
            return "NULL"
        rows.append([int(b), m, r, (1 << (r - 1)) + zp * (1 << r)])
    return e.array(e.sym(op.index, "requant"), "int32_t", rows,
                   f"{layer}: per channel {{bias', multiplier, r, 2^(r-1) + (output zero point << r)}}")


# 1x1 convs with at most this many input channels get int16 pre-extended weights (flash: 2 extra
# bytes per weight): below it the per-output requantisation weighs enough that the SXTB16s on
# the weights decide whether the layer stays under 2 instructions per MAC on the M4.
FILTER16_MAX_IN_C = 48


def _filter16(e: _Emitter, op: Operator, layer: str, w: Tensor, depthwise: bool) -> str:
    """Weights of each channel pair as int16 lane pairs in SXTB16 order (see ac_kernels.h)."""
    oc, kh, kw, ic = (int(d) for d in w.shape)
    if depthwise or kh != 1 or kw != 1 or ic % 4 or ic > FILTER16_MAX_IN_C or oc < 2:
        return "NULL"
    rows = w.data.astype(np.int64).reshape(oc, ic)[: oc & ~1].reshape(oc // 2, 2, ic // 4, 4)
    lanes = rows[..., [0, 2, 1, 3]].reshape(oc // 2, 2, ic // 4, 2, 2)  # (pair, row, group, word, lane)
    words = lanes.transpose(0, 2, 1, 3, 4)  # (pair, group, row, word, lane)
    packed = (words[..., 0] & 0xFFFF) | ((words[..., 1] & 0xFFFF) << 16)
    packed = np.where(packed >= 1 << 31, packed - (1 << 32), packed)
    return e.array(e.sym(op.index, "filter16"), "int32_t", packed.reshape(-1),
                   f"{layer}: weights pre-extended to int16 pairs for the pointwise DSP core")


def _conv_like(e: _Emitter, op: Operator, depthwise: bool) -> None:
    g = e.graph
    x, w, y = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.tensor(op.outputs[0])
    b, ih, iw, ic = _nhwc(x.shape)
    _, oh, ow, oc = _nhwc(y.shape)
    o = op.options
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    # The reader snake-cases DilationHFactor as dilation_hfactor; accept either spelling.
    dh = int(o.get("dilation_h_factor", o.get("dilation_hfactor", 1)))
    dw = int(o.get("dilation_w_factor", o.get("dilation_wfactor", 1)))
    if depthwise:
        _, kh, kw, _ = w.shape
        fic = 1
    else:
        _, kh, kw, fic = w.shape
    same = o.get("padding", "VALID") == "SAME"
    pt = quant.same_padding(ih, kh, sh, dh, oh) if same else 0
    pl = quant.same_padding(iw, kw, sw, dw, ow) if same else 0
    mults, shifts = quant.per_channel_multipliers(_scale(x), w.quant.scale, _scale(y), oc)
    lo, hi = _act(op, y)
    layer = f"layer {op.index} {op.opcode} '{op.name}'"
    # With the requantisation table the kernels read multiplier, shift and the table's bias from
    # it: the separate arrays would be flash that no path reads (conv keeps the unfolded bias for
    # sums that include the input offset). The folded bias alone serves 1x1 convs without a table.
    requant = _requant_table(e, op, layer, mults, shifts, depthwise)
    table = requant != "NULL"
    e.conv_kinds.append((table, (lo, hi) == (-128, 127)))
    fields = {
        "batches": b, "in_h": ih, "in_w": iw, "in_c": ic, "out_h": oh, "out_w": ow, "out_c": oc,
        "k_h": kh, "k_w": kw, "filter_in_c": fic, "depth_multiplier": oc // ic if depthwise else 1,
        "stride_h": sh, "stride_w": sw, "dil_h": dh, "dil_w": dw, "pad_top": pt, "pad_left": pl,
        "input_offset": -_zp(x), "output_offset": _zp(y), "act_min": lo, "act_max": hi,
        "filter": e.array(e.sym(op.index, "filter"), "int8_t", w.data.astype(np.int64),
                          f"{layer}: filter '{w.name}' {list(w.shape)}"),
        "bias": "NULL" if depthwise and table else _bias(e, op, layer, oc),
        "folded_bias": "NULL" if depthwise or table or (kh, kw) != (1, 1) else e.array(
            e.sym(op.index, "folded_bias"), "int32_t", _folded_bias(g, op, w, -_zp(x), oc),
            f"{layer}: bias + input offset x sum of the channel's weights"),
        "multiplier": "NULL" if table else e.array(
            e.sym(op.index, "mult"), "int32_t", mults, f"{layer}: per-channel multipliers"),
        "shift": "NULL" if table else e.array(
            e.sym(op.index, "shift"), "int32_t", shifts, f"{layer}: per-channel shifts"),
        "requant": requant,
        "filter16": _filter16(e, op, layer, w, depthwise),
    }
    p = e.struct("ac_conv_params", e.sym(op.index, "params"), fields, layer)
    fn = "ac_depthwise_conv2d" if depthwise else "ac_conv2d"
    e.call(op, f"{fn}(&{p}, {e.ref(op.inputs[0])}, {e.ref(op.outputs[0])});")


def _fully_connected(e: _Emitter, op: Operator) -> None:
    g = e.graph
    x, w, y = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.tensor(op.outputs[0])
    out_depth, in_depth = int(w.shape[0]), int(w.shape[1])
    per_channel = w.quant.scale.size > 1
    if per_channel:
        mults, shifts = quant.per_channel_multipliers(_scale(x), w.quant.scale, _scale(y), out_depth)
    else:
        m, s = quant.fc_per_tensor_multiplier(_scale(x), float(w.quant.scale[0]), _scale(y))
        mults, shifts = [m], [s]
    lo, hi = _act(op, y)
    layer = f"layer {op.index} {op.opcode} '{op.name}'"
    fields = {
        "rows": _numel(x.shape) // in_depth, "in_depth": in_depth, "out_depth": out_depth,
        "input_offset": -_zp(x), "filter_offset": 0 if per_channel else -_zp(w), "output_offset": _zp(y),
        "act_min": lo, "act_max": hi, "per_channel": int(per_channel),
        "filter": e.array(e.sym(op.index, "filter"), "int8_t", w.data.astype(np.int64),
                          f"{layer}: weights '{w.name}' {list(w.shape)}"),
        "bias": _bias(e, op, layer, out_depth),
        "multiplier": e.array(e.sym(op.index, "mult"), "int32_t", mults, f"{layer}: multiplier(s)"),
        "shift": e.array(e.sym(op.index, "shift"), "int32_t", shifts, f"{layer}: shift(s)"),
    }
    p = e.struct("ac_fc_params", e.sym(op.index, "params"), fields, layer)
    e.call(op, f"ac_fully_connected(&{p}, {e.ref(op.inputs[0])}, {e.ref(op.outputs[0])});")


def _pool(e: _Emitter, op: Operator) -> None:
    g = e.graph
    x, y = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    b, ih, iw, c = _nhwc(x.shape)
    _, oh, ow, _ = _nhwc(y.shape)
    o = op.options
    kh, kw = int(o["filter_height"]), int(o["filter_width"])
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    same = o.get("padding", "VALID") == "SAME"
    lo, hi = _act(op, y)
    fields = {
        "batches": b, "in_h": ih, "in_w": iw, "channels": c, "out_h": oh, "out_w": ow,
        "k_h": kh, "k_w": kw, "stride_h": sh, "stride_w": sw,
        "pad_top": quant.same_padding(ih, kh, sh, 1, oh) if same else 0,
        "pad_left": quant.same_padding(iw, kw, sw, 1, ow) if same else 0,
        "act_min": lo, "act_max": hi,
    }
    p = e.struct("ac_pool_params", e.sym(op.index, "params"), fields, f"layer {op.index} {op.opcode} '{op.name}'")
    fn = "ac_max_pool" if op.opcode == "MAX_POOL_2D" else "ac_avg_pool"
    e.call(op, f"{fn}(&{p}, {e.ref(op.inputs[0])}, {e.ref(op.outputs[0])});")


def _mean(e: _Emitter, op: Operator) -> None:
    g = e.graph
    x, y = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    dims = _nhwc(x.shape)
    lead = 4 - len(x.shape)
    axes = {(int(a) + len(x.shape)) % len(x.shape) + lead for a in np.asarray(g.tensor(op.inputs[1]).data).reshape(-1)}
    reduce = [int(d in axes) for d in range(4)]
    count = _numel([dims[d] for d in range(4) if reduce[d]])
    # The installed TFLM takes QuantizedMeanOrSum even for equal input/output quantization
    # (checked bit for bit by the kernel tests), so there is one path.
    m, s = quant.mean_multiplier(_scale(x), _scale(y), count)
    fields = {"dims": "{" + ", ".join(map(str, dims)) + "}", "reduce": "{" + ", ".join(map(str, reduce)) + "}",
              "input_zp": _zp(x), "output_zp": _zp(y), "multiplier": m, "shift": s}
    p = e.struct("ac_mean_params", e.sym(op.index, "params"), fields, f"layer {op.index} MEAN '{op.name}'")
    e.call(op, f"ac_mean(&{p}, {e.ref(op.inputs[0])}, {e.ref(op.outputs[0])});")


def _broadcast_strides(shape: tuple[int, ...], out: list[int]) -> list[int]:
    dims = _nhwc(shape)
    strides, acc = [0] * 4, 1
    for d in range(3, -1, -1):
        strides[d] = 0 if dims[d] == 1 and out[d] != 1 else acc
        acc *= dims[d]
    return strides


def _add(e: _Emitter, op: Operator) -> None:
    g = e.graph
    a, b, y = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.tensor(op.outputs[0])
    out = _nhwc(y.shape)
    lo, hi = _act(op, y)
    ap = quant.add_params(_scale(a), _scale(b), _scale(y))
    layer = f"layer {op.index} ADD '{op.name}'"
    tables = {
        f"input{k}_table": e.array(e.sym(op.index, f"in{k}_table"), "int32_t",
                                   quant.add_input_table(-_zp(t), ap[f"input{k}_multiplier"], ap[f"input{k}_shift"],
                                                         ap["left_shift"]),
                                   f"{layer}: input {k} rescaled, for every int8 value (index q + 128)")
        for k, t in ((1, a), (2, b))}
    fields = {"out_dims": "{" + ", ".join(map(str, out)) + "}",
              "in1_strides": "{" + ", ".join(map(str, _broadcast_strides(a.shape, out))) + "}",
              "in2_strides": "{" + ", ".join(map(str, _broadcast_strides(b.shape, out))) + "}",
              "input1_offset": -_zp(a), "input2_offset": -_zp(b), "output_offset": _zp(y),
              **ap, "act_min": lo, "act_max": hi, **tables}
    p = e.struct("ac_add_params", e.sym(op.index, "params"), fields, f"layer {op.index} ADD '{op.name}'")
    e.call(op, f"ac_add(&{p}, {e.ref(op.inputs[0])}, {e.ref(op.inputs[1])}, {e.ref(op.outputs[0])});")


def _softmax(e: _Emitter, op: Operator) -> None:
    x = e.graph.tensor(op.inputs[0])
    depth = int(x.shape[-1])
    sp = quant.softmax_params(float(op.options.get("beta", 1.0)), _scale(x))
    fields = {"rows": _numel(x.shape) // depth, "depth": depth, **sp}
    p = e.struct("ac_softmax_params", e.sym(op.index, "params"), fields, f"layer {op.index} SOFTMAX '{op.name}'")
    e.call(op, f"ac_softmax(&{p}, {e.ref(op.inputs[0])}, {e.ref(op.outputs[0])});")


def _pad(e: _Emitter, op: Operator) -> None:
    g = e.graph
    x, y = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    pads = np.asarray(g.tensor(op.inputs[1]).data).reshape(-1, 2)
    before = [0] * (4 - len(pads)) + [int(p) for p in pads[:, 0]]
    value = _zp(y)
    if op.opcode == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        value = int(np.asarray(g.tensor(op.inputs[2]).data).reshape(-1)[0])
    fields = {"in_dims": "{" + ", ".join(map(str, _nhwc(x.shape))) + "}",
              "out_dims": "{" + ", ".join(map(str, _nhwc(y.shape))) + "}",
              "before": "{" + ", ".join(map(str, before)) + "}", "value": value}
    p = e.struct("ac_pad_params", e.sym(op.index, "params"), fields, f"layer {op.index} {op.opcode} '{op.name}'")
    e.call(op, f"ac_pad(&{p}, {e.ref(op.inputs[0])}, {e.ref(op.outputs[0])});")


def _concat(e: _Emitter, op: Operator) -> None:
    y = e.graph.tensor(op.outputs[0])
    axis = int(op.options.get("axis", 0)) % len(y.shape)
    ins = [e.graph.tensor(i) for i in op.inputs]
    sizes = e.array(e.sym(op.index, "axis_sizes"), "int32_t", [t.shape[axis] for t in ins],
                    f"layer {op.index}: sizes along axis {axis}")
    fields = {"num_inputs": len(ins), "outer": _numel(y.shape[:axis]), "inner": _numel(y.shape[axis + 1:]),
              "axis_sizes": sizes}
    p = e.struct("ac_concat_params", e.sym(op.index, "params"), fields, f"layer {op.index} CONCATENATION '{op.name}'")
    ptrs = e.sym(op.index, "inputs")
    refs = ", ".join(e.ref(i) for i in op.inputs)
    e.call(op, f"{{ const int8_t *const {ptrs}[{len(ins)}] = {{{refs}}};\n      ac_concat(&{p}, {ptrs}, {e.ref(op.outputs[0])}); }}")


def _alias(e: _Emitter, op: Operator) -> None:
    src, dst = op.inputs[0], op.outputs[0]
    n = e.graph.tensor(dst).nbytes
    if e.graph.tensor(src).is_constant or e.offsets.get(src) != e.offsets.get(dst):
        e.call(op, f"memmove({e.ref(dst)}, {e.ref(src)}, {n});")
    else:
        e.calls.append(f"    /* layer {op.index}: {op.opcode} '{c_comment(op.name)}': no code, output aliases input */\n")


_EMIT = {
    "CONV_2D": lambda e, op: _conv_like(e, op, False),
    "DEPTHWISE_CONV_2D": lambda e, op: _conv_like(e, op, True),
    "FULLY_CONNECTED": _fully_connected, "MAX_POOL_2D": _pool, "AVERAGE_POOL_2D": _pool, "MEAN": _mean,
    "ADD": _add, "SOFTMAX": _softmax, "PAD": _pad, "PADV2": _pad, "CONCATENATION": _concat,
    **{name: _alias for name in ALIAS_OPS},
}


def _unsupported(op: Operator, why: str) -> ModelError:
    return ModelError(f"layer '{op.name}' (op #{op.index} {op.opcode}): {why}")


def _io(graph: Graph) -> tuple[list[Operator], int, int, Operator | None, Operator | None]:
    """The int8 core: the ops between an input QUANTIZE and an output DEQUANTIZE, if any."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ModelError(f"the generated C network takes one input and one output; the model has "
                         f"{len(graph.inputs)} inputs and {len(graph.outputs)} outputs")
    ops = list(graph.operators)
    q = dq = None
    core_in, core_out = graph.inputs[0], graph.outputs[0]
    if graph.tensor(core_in).dtype == "float32":
        first = [op for op in ops if core_in in op.inputs]
        if len(first) != 1 or first[0].opcode != "QUANTIZE":
            raise ModelError("float input must feed exactly one QUANTIZE op")
        q = first[0]
        core_in = q.outputs[0]
        ops.remove(q)
    if graph.tensor(core_out).dtype == "float32":
        last = [op for op in ops if core_out in op.outputs]
        if len(last) != 1 or last[0].opcode != "DEQUANTIZE":
            raise ModelError("float output must come from a DEQUANTIZE op")
        dq = last[0]
        core_out = dq.inputs[0]
        ops.remove(dq)
    return ops, core_in, core_out, q, dq


def core_io(graph: Graph) -> tuple[int, int]:
    """Tensor indices of the int8 core's input and output (inside any QUANTIZE/DEQUANTIZE)."""
    _, core_in, core_out, _, _ = _io(graph)
    return core_in, core_out


def check_supported(graph: Graph) -> None:
    """Raise ModelError naming the first layer the generator cannot compile."""
    ops, *_ = _io(graph)
    for op in ops:
        if op.opcode not in _EMIT:
            raise _unsupported(op, "op not supported by the C generator (supported: "
                               + ", ".join(SUPPORTED_OPS) + ")")
        for t in (*graph.op_inputs(op), *graph.op_outputs(op)):
            if t is None or t.is_constant and op.opcode not in ("ADD", "CONCATENATION"):
                continue
            if t.dtype != "int8":
                raise _unsupported(op, f"tensor '{t.name}' is {t.dtype}; only int8 activations are supported")
            if len(t.shape) > 4:
                raise _unsupported(op, f"tensor '{t.name}' has rank {len(t.shape)} > 4")
        if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            w = graph.tensor(op.inputs[1])
            if not w.is_constant or w.dtype != "int8" or w.quant is None:
                raise _unsupported(op, "weights must be constant int8 with quantization")
            if op.opcode != "FULLY_CONNECTED" and np.any(w.quant.zero_point != 0):
                raise _unsupported(op, "filter zero points must be 0 (TFLM int8 convention)")
            if len(op.inputs) > 2 and op.inputs[2] >= 0 and graph.tensor(op.inputs[2]).dtype != "int32":
                raise _unsupported(op, "bias must be int32")
        if op.opcode == "SOFTMAX":
            y = graph.tensor(op.outputs[0])
            if _zp(y) != -128 or abs(_scale(y) - 1.0 / 256) > 1e-9:
                raise _unsupported(op, "int8 softmax output must have scale 1/256 and zero point -128")
            x = graph.tensor(op.inputs[0])
            try:
                quant.softmax_params(float(op.options.get("beta", 1.0)), _scale(x))
            except ValueError:
                raise _unsupported(op, f"input scale {_scale(x):.3g} x beta is below 2^-26: TFLite Micro's "
                                   "int8 softmax rejects it (the logits carry no information)") from None


def generate(graph: Graph, plan, prefix: str = "acnet", macs: int | None = None,
             source_name: str = "") -> GeneratedNetwork:
    """Emit acnet.c/.h for `graph` with activations at `plan.offsets` in a `plan.arena_bytes` arena."""
    check_supported(graph)
    ops, core_in, core_out, q, dq = _io(graph)
    e = _Emitter(graph, dict(plan.offsets), _check_prefix(prefix))
    for op in ops:
        try:
            _EMIT[op.opcode](e, op)
        except ModelError:
            raise
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as err:
            raise _unsupported(op, f"cannot generate code ({type(err).__name__}: {err})") from None
    P = prefix.upper()
    xin, xout = graph.tensor(core_in), graph.tensor(core_out)
    arena = max(16, int(plan.arena_bytes))
    src = [
        f"/* Generated by acdeploy from {c_comment(source_name or 'a .tflite model')}: do not edit.\n"
        f" * {len(ops)} layers, int8, bit-exact with TensorFlow Lite Micro. */\n",
        "#include <string.h>\n\n", f'#include "{prefix}.h"\n', '#include "kernels/ac_kernels.h"\n\n',
        f"/* All activations, at offsets planned offline. */\n"
        f"static int8_t {prefix}_arena[{P}_ARENA_SIZE] __attribute__((aligned(16)));\n\n",
        *e.data,
        f"\nint {prefix}_invoke(const int8_t *input, int8_t *output)\n{{\n",
        f"    memcpy({e.ref(core_in)}, input, {P}_INPUT_SIZE);\n",
        *e.calls,
        f"    memcpy(output, {e.ref(core_out)}, {P}_OUTPUT_SIZE);\n    return 0;\n}}\n",
    ]
    if q is not None or dq is not None:
        # The model's QUANTIZE / DEQUANTIZE (for a model with only one float end, the other end
        # is converted the same way, so the float entry point is always float in, float out).
        src.append(f"\nint {prefix}_invoke_float(const float *input, float *output)\n{{\n"
                   f"    static int8_t qin[{P}_INPUT_SIZE], qout[{P}_OUTPUT_SIZE];\n"
                   f"    ac_quantize(input, qin, {P}_INPUT_SIZE, {P}_INPUT_SCALE, {P}_INPUT_ZERO_POINT);\n"
                   f"    {prefix}_invoke(qin, qout);\n"
                   f"    ac_dequantize(qout, output, {P}_OUTPUT_SIZE, {P}_OUTPUT_SCALE, {P}_OUTPUT_ZERO_POINT);\n"
                   "    return 0;\n}\n")
    hdr = [
        f"/* Generated by acdeploy: do not edit. */\n#ifndef {P}_H\n#define {P}_H\n\n#include <stdint.h>\n\n",
        f"#define {P}_INPUT_SIZE {_numel(xin.shape)}\n",
        f"#define {P}_OUTPUT_SIZE {_numel(xout.shape)}\n",
        f"#define {P}_ARENA_SIZE {arena}\n",
        f"#define {P}_MACS {int(macs)}\n" if macs is not None else "",
        f"#define {P}_INPUT_SCALE {float(np.float32(_scale(xin))):.9e}f\n",
        f"#define {P}_INPUT_ZERO_POINT {_zp(xin)}\n",
        f"#define {P}_OUTPUT_SCALE {float(np.float32(_scale(xout))):.9e}f\n",
        f"#define {P}_OUTPUT_ZERO_POINT {_zp(xout)}\n",
        f"#define {P}_FLOAT_IO {int(q is not None or dq is not None)}\n\n",
        f"/* int8 in, int8 out (the int8 core between any QUANTIZE/DEQUANTIZE). Returns 0. */\n"
        f"int {prefix}_invoke(const int8_t *input, int8_t *output);\n",
    ]
    if q is not None or dq is not None:
        hdr.append(f"/* float in, float out: quantize, {prefix}_invoke, dequantize. Returns 0. */\n"
                   f"int {prefix}_invoke_float(const float *input, float *output);\n")
    hdr.append(_variants_block(e.conv_kinds))
    hdr.append(f"\n#endif /* {P}_H */\n")
    return GeneratedNetwork(
        source="".join(src), header="".join(hdr), input_size=_numel(xin.shape), output_size=_numel(xout.shape),
        arena_bytes=arena, float_io=q is not None or dq is not None, input_tensor=core_in, output_tensor=core_out)


def _variants_block(conv_kinds: list[tuple[bool, bool]]) -> str:
    """The kernel variants the network needs, for the kernels only (the firmware Makefile compiles
    them with -DAC_NET_VARIANTS -include acnet.h; see kernels/ac_fixedpoint.h): loops no layer
    takes stay out of the image, which --gc-sections cannot do (one dispatcher picks them)."""
    tables = all(t for t, _ in conv_kinds)
    full = tables and all(f for _, f in conv_kinds)
    return ("\n#ifdef AC_NET_VARIANTS\n/* Kernel variants this network needs (kernels/ac_fixedpoint.h). */\n"
            f"#define AC_NET_TABLES {int(tables)}\n#define AC_NET_FULL_RANGE {int(full)}\n#endif\n")


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
