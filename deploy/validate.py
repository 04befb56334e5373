"""One validation pass between the .tflite reader and everything after it (report, MAC counts,
memory plan, C array, C generator, test vectors, evaluation engines).

`load_graph(source)` reads and validates; it is the loader every command uses. `validate_graph`
raises ModelError with one line naming the file, the layer (index, opcode, name) and the field on
the first problem it finds:

- tensor indices in range (-1 only for an optional input that is absent);
- shapes: every dimension >= 1, rank <= 4 where the C generator reads the tensor, elements per
  tensor and the sum of all activation bytes (an upper bound of any arena) within `Limits`;
- the output shape of every operator the C runtime implements recomputed from its inputs and
  options and compared with the declared one, options (strides, dilations, filter sizes,
  paddings, axes, new shapes) in range;
- quantization: int8 tensors have parameters, zero points fit the type, scales are positive and
  finite, per-channel scale counts match the channel dimension, and the requantization
  multipliers of conv / depthwise / fully connected are representable by TFLite's
  QuantizeMultiplier.

Limits come from the `limits` argument, else from the environment variables
ACDEPLOY_MAX_TENSOR_ELEMENTS and ACDEPLOY_MAX_ARENA_BYTES, else the defaults below.
After this pass the generated C cannot index outside its arena or its constant arrays.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

import numpy as np

from acdeploy.deploy.ir import Graph, Operator, Tensor
from acdeploy.errors import ConfigError, ModelError

DEFAULT_MAX_TENSOR_ELEMENTS = 1 << 24
DEFAULT_MAX_ARENA_BYTES = 256 << 20
ENV_MAX_TENSOR_ELEMENTS = "ACDEPLOY_MAX_TENSOR_ELEMENTS"
ENV_MAX_ARENA_BYTES = "ACDEPLOY_MAX_ARENA_BYTES"
# Strides, dilations and filter extents may exceed the input extent (TFLite pads SAME inputs
# freely, e.g. a 3x3 filter on a 1x1 input) but only up to this small bound.
SMALL_EXTENT = 64
MAX_RANK = 4  # the C generator maps every tensor of an op in deploy/ops/ onto NHWC
INT32_MAX = (1 << 31) - 1
_INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}
_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Limits:
    max_tensor_elements: int = DEFAULT_MAX_TENSOR_ELEMENTS
    max_arena_bytes: int = DEFAULT_MAX_ARENA_BYTES

    @classmethod
    def from_env(cls) -> Limits:
        return cls(_env_int(ENV_MAX_TENSOR_ELEMENTS, DEFAULT_MAX_TENSOR_ELEMENTS),
                   _env_int(ENV_MAX_ARENA_BYTES, DEFAULT_MAX_ARENA_BYTES))


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"environment variable {name}={raw[:40]!r}: expected a positive integer")
    return value


def load_graph(source, name: str | None = None, limits: Limits | None = None) -> Graph:
    """read_tflite + validate_graph: the loader every deploy command uses."""
    from acdeploy.deploy.tflite_reader import read_tflite

    graph = read_tflite(source, name=name)
    where = name or (str(source) if not isinstance(source, (bytes, bytearray, memoryview)) else "<bytes>")
    validate_graph(graph, where, limits)
    return graph


def validate_graph(graph: Graph, where: str, limits: Limits | None = None) -> None:
    """Raise ModelError (one line: file, layer, field) on the first inconsistency in `graph`."""
    _Validator(graph, where, limits or Limits.from_env()).run()


# ---- helpers -------------------------------------------------------------------------------

def _name(text: str, limit: int = 60) -> str:
    text = _NAME_CHARS.sub(" ", text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _label(op: Operator) -> str:
    return f"layer '{_name(op.name)}' ({op.opcode} #{op.index})"


def _shape(shape) -> str:
    dims = [str(int(d)) for d in list(shape)[:8]]
    return "[" + ", ".join(dims) + (", ..." if len(shape) > 8 else "") + "]"


def _numel(shape) -> int:
    return math.prod(int(d) for d in shape)


def _conv_out(size: int, k: int, stride: int, dil: int, same: bool) -> int:
    """TFLite's ComputeOutSize."""
    eff = (k - 1) * dil + 1
    return (size + stride - 1) // stride if same else (size + stride - eff) // stride


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b, strict=True):
        if x != y and 1 not in (x, y):
            return None
        out.append(max(x, y))
    return tuple(out)


def _multiplier_shift(real: float) -> int:
    """The shift TFLite's QuantizeMultiplier derives for `real` (before its clamping)."""
    from acdeploy.deploy.quant import round_half_away

    q, shift = math.frexp(real)
    if round_half_away(q * (1 << 31)) == 1 << 31:
        shift += 1
    return shift


# (min inputs, max inputs or None, positions that may be -1 = absent)


class _Validator:
    def __init__(self, graph: Graph, where: str, limits: Limits):
        self.g, self.where, self.limits = graph, where, limits
        self.n = len(graph.tensors)

    # --- messages ---------------------------------------------------------------------------
    def fail(self, op: Operator | None, what: str) -> ModelError:
        return ModelError(f"{self.where}: {_label(op) + ': ' if op is not None else ''}{what}")

    def tname(self, i: int) -> str:
        return f"tensor {i} '{_name(self.g.tensors[i].name)}'"

    # --- the pass ---------------------------------------------------------------------------
    def run(self) -> None:
        self.indices()
        self.structure()
        self.shapes()
        self.quantization()
        from acdeploy.deploy import ops  # the op modules reference this module's rules

        for op in self.g.operators:
            d = ops.lookup(op.opcode)
            if d is not None and d.validate is not None:
                d.validate(self, op)

    def indices(self) -> None:
        from acdeploy.deploy import ops  # lazily: the op modules reference this module's rules

        for kind, idx in (("input", self.g.inputs), ("output", self.g.outputs)):
            for k, i in enumerate(idx):
                if not 0 <= i < self.n:
                    raise self.fail(None, f"graph {kind} #{k} refers to tensor {i}, the model has {self.n} tensors")
        for op in self.g.operators:
            info = ops.opcode_info(op.opcode)  # the op registry says how many inputs an op takes
            lo, hi, optional = ((info.inputs[0], info.inputs[1], info.optional) if info is not None
                                else (0, None, tuple(range(1, len(op.inputs)))))
            if len(op.inputs) < lo or (hi is not None and len(op.inputs) > hi):
                want = f"{lo}" if lo == hi else f"{lo} to {hi}" if hi is not None else f"at least {lo}"
                raise self.fail(op, f"has {len(op.inputs)} inputs, {op.opcode} takes {want}")
            if len(op.outputs) != 1 and info is not None:
                raise self.fail(op, f"has {len(op.outputs)} outputs, {op.opcode} has 1")
            for k, i in enumerate(op.inputs):
                if i == -1 and k in optional:
                    continue
                if not 0 <= i < self.n:
                    why = " (-1 marks an absent optional input; this one is required)" if i == -1 else ""
                    raise self.fail(op, f"input #{k} refers to tensor {i}, the model has {self.n} tensors{why}")
            for k, i in enumerate(op.outputs):
                if not 0 <= i < self.n:
                    raise self.fail(op, f"output #{k} refers to tensor {i}, the model has {self.n} tensors")

    def structure(self) -> None:
        if not self.g.operators:
            raise self.fail(None, "the model has no layers")
        produced: dict[int, Operator] = {}
        for op in self.g.operators:
            for i in op.outputs:
                if self.g.tensors[i].is_constant:
                    raise self.fail(op, f"output {self.tname(i)} is a constant tensor")
                if i in op.inputs:
                    raise self.fail(op, f"output {self.tname(i)} is also one of its inputs")
                if i in produced:
                    raise self.fail(op, f"output {self.tname(i)} is already written by layer #{produced[i].index}")
                if i in self.g.inputs:
                    raise self.fail(op, f"output {self.tname(i)} is a graph input")
                produced[i] = op
        # Dataflow: the memory plan and the generated C give an activation bytes only from its
        # writer on, so reading one that nothing wrote before would read another tensor's bytes.
        written = set(self.g.inputs)
        for op in self.g.operators:
            for k, i in enumerate(op.inputs):
                if i >= 0 and not self.g.tensors[i].is_constant and i not in written:
                    why = f"written later by layer #{produced[i].index}" if i in produced else "never written"
                    raise self.fail(op, f"input #{k} {self.tname(i)} is neither a graph input nor a constant "
                                    f"and is {why}")
            written.update(op.outputs)
        for k, i in enumerate(self.g.inputs):
            if self.g.tensors[i].is_constant:
                raise self.fail(None, f"graph input #{k} {self.tname(i)} is a constant tensor")
        for k, i in enumerate(self.g.outputs):
            if self.g.tensors[i].is_constant:
                raise self.fail(None, f"graph output #{k} {self.tname(i)} is a constant tensor")
            if i not in written:
                raise self.fail(None, f"graph output #{k} {self.tname(i)} is not written by any layer")

    def _users(self) -> dict[int, Operator]:
        first: dict[int, Operator] = {}
        for op in self.g.operators:
            for i in (*op.inputs, *op.outputs):
                if i >= 0:
                    first.setdefault(i, op)
        return first

    def shapes(self) -> None:
        from acdeploy.deploy import ops

        users = self._users()
        codegen_tensors = {i for op in self.g.operators if ops.lookup(op.opcode) is not None
                           for i in (*op.inputs, *op.outputs) if i >= 0}
        referenced = set(users) | set(self.g.inputs) | set(self.g.outputs)
        arena = 0
        for i in sorted(referenced):
            t = self.g.tensors[i]
            op = users.get(i)
            if any(int(d) < 1 for d in t.shape):
                raise self.fail(op, f"{self.tname(i)} has shape {_shape(t.shape)}: every dimension must be >= 1")
            if i in codegen_tensors and len(t.shape) > MAX_RANK:
                raise self.fail(op, f"{self.tname(i)} has rank {len(t.shape)}: the C runtime handles rank <= {MAX_RANK}")
            n = _numel(t.shape)
            if n > self.limits.max_tensor_elements:
                raise self.fail(op, f"{self.tname(i)} has shape {_shape(t.shape)} = {n:,} elements, above the limit of "
                                f"{self.limits.max_tensor_elements:,} ({ENV_MAX_TENSOR_ELEMENTS})")
            if not t.is_constant:
                if not _known_dtype(t.dtype):
                    raise self.fail(op, f"{self.tname(i)} has tensor type {_name(t.dtype, 20)}, which acdeploy "
                                    "cannot size or plan")
                arena += n * _itemsize(t.dtype)
        if arena > self.limits.max_arena_bytes:
            raise self.fail(None, f"the activations need {arena:,} bytes, above the limit of "
                            f"{self.limits.max_arena_bytes:,} ({ENV_MAX_ARENA_BYTES})")

    def quantization(self) -> None:
        users = self._users()
        for i in sorted(set(users) | set(self.g.inputs) | set(self.g.outputs)):
            t, op = self.g.tensors[i], users.get(i)
            q = t.quant
            if q is None:
                if t.dtype == "int8":
                    raise self.fail(op, f"int8 {self.tname(i)} has no quantization parameters (scale, zero point)")
                continue
            scale = np.asarray(q.scale, np.float64)
            if not np.all(np.isfinite(scale)) or not np.all(scale > 0):
                bad = next(float(s) for s in scale if not (math.isfinite(s) and s > 0))
                raise self.fail(op, f"{self.tname(i)} has quantization scale {bad:g}: scales must be positive and finite")
            zp = np.asarray(q.zero_point, np.int64)
            lo, hi = (0, 0) if t.dtype in ("int32", "int64") else _INT_RANGES.get(t.dtype, (None, None))
            if lo is not None and (zp.min() < lo or zp.max() > hi):
                bad = int(zp[(zp < lo) | (zp > hi)][0])
                where = "int32 zero points must be 0" if lo == hi else f"{t.dtype} zero points lie in [{lo}, {hi}]"
                raise self.fail(op, f"{self.tname(i)} has zero point {bad}: {where}")
            if scale.size > 1:
                rank = len(t.shape)
                if not 0 <= q.axis < rank:
                    raise self.fail(op, f"{self.tname(i)} has quantized_dimension {q.axis}, its rank is {rank}")
                if scale.size != int(t.shape[q.axis]):
                    raise self.fail(op, f"{self.tname(i)} has {scale.size} per-channel scales, its dimension "
                                    f"{q.axis} has {int(t.shape[q.axis])} channels")

    # --- per-operator helpers -----------------------------------------------------------------
    def t(self, op: Operator, pos: int) -> Tensor | None:
        i = op.inputs[pos] if pos < len(op.inputs) else -1
        return self.g.tensors[i] if i >= 0 else None

    def out(self, op: Operator) -> Tensor:
        return self.g.tensors[op.outputs[0]]

    def rank(self, op: Operator, t: Tensor, rank: int, role: str) -> None:
        if len(t.shape) != rank:
            raise self.fail(op, f"{role} '{_name(t.name)}' has shape {_shape(t.shape)}, {op.opcode} needs rank {rank}")

    def expect(self, op: Operator, shape) -> None:
        y = self.out(op)
        if tuple(int(d) for d in y.shape) != tuple(int(d) for d in shape):
            raise self.fail(op, f"output '{_name(y.name)}' is declared {_shape(y.shape)}, its inputs and options "
                            f"give {_shape(shape)}")

    def option(self, op: Operator, key: str, default: int, upper: int) -> int:
        v = op.options.get(key, default)
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= upper:
            raise self.fail(op, f"option {key} = {v!r} is out of range [1, {upper}]")
        return v

    def const_ints(self, op: Operator, pos: int, role: str) -> np.ndarray:
        t = self.t(op, pos)
        if t is None or not t.is_constant or t.dtype not in ("int32", "int64"):
            raise self.fail(op, f"{role} (input #{pos}) must be a constant int32 tensor")
        return np.asarray(t.data, np.int64)

    def multiplier(self, op: Operator, what: str, real: float) -> None:
        if not (math.isfinite(real) and real > 0):
            raise self.fail(op, f"{what} {real:g} is not positive and finite")
        shift = _multiplier_shift(real)
        if not -31 <= shift <= 30:
            raise self.fail(op, f"{what} {real:.3g} is outside what TFLite's QuantizeMultiplier represents "
                            f"(2^{shift}; shift must lie in [-31, 30])")


def _known_dtype(dtype: str) -> bool:
    try:
        np.dtype(dtype)
    except TypeError:
        return False
    return True


def _itemsize(dtype: str) -> int:
    try:
        return np.dtype(dtype).itemsize
    except TypeError:
        return 8


# ---- per-operator rules ------------------------------------------------------------------

def _spatial(v: _Validator, op: Operator, ih: int, iw: int, kh: int, kw: int, dilated: bool) -> tuple[int, int]:
    """Strides (and dilations) in range, the output extent recomputed."""
    o = op.options
    same = o.get("padding", "VALID") == "SAME"
    if o.get("padding", "VALID") not in ("SAME", "VALID"):
        raise v.fail(op, f"option padding = {o.get('padding')!r} is neither SAME nor VALID")
    sh = v.option(op, "stride_h", 1, max(ih, SMALL_EXTENT))
    sw = v.option(op, "stride_w", 1, max(iw, SMALL_EXTENT))
    dh = v.option(op, "dilation_hfactor", 1, max(ih, SMALL_EXTENT)) if dilated else 1
    dw = v.option(op, "dilation_wfactor", 1, max(iw, SMALL_EXTENT)) if dilated else 1
    for axis, k, d, size in (("height", kh, dh, ih), ("width", kw, dw, iw)):
        eff = (k - 1) * d + 1
        if eff > (size if not same else max(size, SMALL_EXTENT)):
            raise v.fail(op, f"filter {axis} {k} (dilation {d}) spans {eff} pixels, the input has {size}"
                         + ("" if same else " (VALID padding)"))
    return _conv_out(ih, kh, sh, dh, same), _conv_out(iw, kw, sw, dw, same)


def _conv(v: _Validator, op: Operator, depthwise: bool = False) -> None:
    x, w, b = v.t(op, 0), v.t(op, 1), v.t(op, 2)
    v.rank(op, x, 4, "input")
    v.rank(op, w, 4, "filter")
    n, ih, iw, ic = x.shape
    if depthwise:
        _, kh, kw, oc = w.shape
        if w.shape[0] != 1:
            raise v.fail(op, f"filter '{_name(w.name)}' has shape {_shape(w.shape)}, depthwise filters are [1, H, W, C]")
        dm = op.options.get("depth_multiplier", 0)
        if not isinstance(dm, int) or dm * ic != oc:  # TFLM loops over depth_multiplier, not oc / ic
            raise v.fail(op, f"filter '{_name(w.name)}' has {oc} channels for {ic} input channels "
                         f"and depth_multiplier {dm}")
    else:
        oc, kh, kw, fic = w.shape
        if ic % fic:
            raise v.fail(op, f"filter '{_name(w.name)}' has {fic} input channels, the input has {ic}")
    oh, ow = _spatial(v, op, ih, iw, kh, kw, dilated=True)
    v.expect(op, (n, oh, ow, oc))
    _bias(v, op, b, oc, kh * kw * (1 if depthwise else fic))
    _requant(v, op, x, w, oc)


def _bias(v: _Validator, op: Operator, b: Tensor | None, channels: int, taps: int) -> None:
    if b is not None and _numel(b.shape) != channels:
        raise v.fail(op, f"bias '{_name(b.name)}' has shape {_shape(b.shape)}, the layer has {channels} output channels")
    # TFLM and the C kernels add `taps` products (x - zp) * w, each within 255 * 128 in magnitude,
    # and the bias in int32: past that range the sum overflows (undefined behaviour in C).
    worst = 0
    if b is not None and b.is_constant and b.dtype == "int32":
        worst = int(np.abs(np.asarray(b.data, np.int64)).max(initial=0))
    if taps * 255 * 128 + worst > INT32_MAX:
        what = f"bias '{_name(b.name)}' holds {worst:,} and " if worst else ""
        raise v.fail(op, f"{what}{taps:,} products per output: the int32 accumulator can overflow")


def _requant(v: _Validator, op: Operator, x: Tensor, w: Tensor, channels: int) -> None:
    y = v.out(op)
    if x.quant is None or w.quant is None or y.quant is None:
        return  # float or hybrid layers: check_supported names those
    ws = np.asarray(w.quant.scale, np.float64).reshape(-1)
    if ws.size not in (1, channels):
        raise v.fail(op, f"filter '{_name(w.name)}' has {ws.size} scales for {channels} output channels")
    xs, ys = float(np.float32(x.quant.scale[0])), float(np.float32(y.quant.scale[0]))
    for c, s in enumerate(ws):
        v.multiplier(op, f"requantization multiplier of channel {c} (input scale x filter scale / output scale)",
                     xs * float(s) / ys)


def _fully_connected(v: _Validator, op: Operator) -> None:
    x, w, b = v.t(op, 0), v.t(op, 1), v.t(op, 2)
    v.rank(op, w, 2, "weights")
    oc, depth = (int(d) for d in w.shape)
    if not x.shape or _numel(x.shape) % depth:
        raise v.fail(op, f"input '{_name(x.name)}' {_shape(x.shape)} does not split into rows of {depth} (weights {_shape(w.shape)})")
    if op.options.get("keep_num_dims", False):
        if x.shape[-1] != depth:
            raise v.fail(op, f"input '{_name(x.name)}' {_shape(x.shape)} has last dimension {x.shape[-1]}, "
                         f"the weights {_shape(w.shape)} take {depth} (keep_num_dims)")
        v.expect(op, (*x.shape[:-1], oc))
    else:
        v.expect(op, (_numel(x.shape) // depth, oc))
    _bias(v, op, b, oc, depth)
    _requant(v, op, x, w, oc)


def _pool(v: _Validator, op: Operator) -> None:
    x = v.t(op, 0)
    v.rank(op, x, 4, "input")
    n, ih, iw, c = x.shape
    kh = v.option(op, "filter_height", 1, max(ih, SMALL_EXTENT))
    kw = v.option(op, "filter_width", 1, max(iw, SMALL_EXTENT))
    oh, ow = _spatial(v, op, ih, iw, kh, kw, dilated=False)
    v.expect(op, (n, oh, ow, c))


def _mean(v: _Validator, op: Operator) -> None:
    x = v.t(op, 0)
    rank = len(x.shape)
    axes = v.const_ints(op, 1, "axes").reshape(-1)
    if axes.size == 0 or rank == 0:
        raise v.fail(op, f"reduces input {_shape(x.shape)} over axes {axes.tolist()[:8]}")
    bad = [int(a) for a in axes if not -rank <= a < rank]
    if bad:
        raise v.fail(op, f"axis {bad[0]} is out of range for the rank-{rank} input '{_name(x.name)}'")
    red = {int(a) % rank for a in axes}
    if op.options.get("keep_dims", False):
        v.expect(op, tuple(1 if d in red else x.shape[d] for d in range(rank)))
    else:
        v.expect(op, tuple(x.shape[d] for d in range(rank) if d not in red))
    y = v.out(op)
    if x.quant is not None and y.quant is not None:
        v.multiplier(op, "rescale (input scale / output scale)",
                     float(np.float32(x.quant.scale[0])) / float(np.float32(y.quant.scale[0])))


def _add(v: _Validator, op: Operator) -> None:
    a, b = v.t(op, 0), v.t(op, 1)
    shape = _broadcast(a.shape, b.shape)
    if shape is None:
        raise v.fail(op, f"inputs {_shape(a.shape)} and {_shape(b.shape)} do not broadcast")
    v.expect(op, shape)
    y = v.out(op)
    if a.quant is not None and b.quant is not None and y.quant is not None:
        twice = 2.0 * max(float(np.float32(a.quant.scale[0])), float(np.float32(b.quant.scale[0])))
        real = twice / ((1 << 20) * float(np.float32(y.quant.scale[0])))
        if not real < 1.0:
            raise v.fail(op, f"output scale {float(y.quant.scale[0]):.3g} is too small for the input scales "
                         "(TFLite's int8 ADD needs 2 x max input scale < 2^20 x output scale)")


def _same_shape(v: _Validator, op: Operator) -> None:
    x = v.t(op, 0)
    if op.opcode == "SOFTMAX" and not x.shape:
        raise v.fail(op, f"input '{_name(x.name)}' is a scalar; SOFTMAX needs rank >= 1")
    v.expect(op, x.shape)


def _pad(v: _Validator, op: Operator) -> None:
    x = v.t(op, 0)
    pads = v.const_ints(op, 1, "paddings")
    rank = len(x.shape)
    if pads.shape != (rank, 2):
        raise v.fail(op, f"paddings have shape {_shape(pads.shape)}, the rank-{rank} input needs [{rank}, 2]")
    if (pads < 0).any() or (pads > v.limits.max_tensor_elements).any():
        raise v.fail(op, f"paddings {pads.reshape(-1).tolist()[:8]} must lie in [0, {v.limits.max_tensor_elements:,}]")
    v.expect(op, tuple(int(d) + int(p.sum()) for d, p in zip(x.shape, pads, strict=True)))
    c = v.t(op, 2)
    if c is not None and (not c.is_constant or _numel(c.shape) != 1 or c.dtype != v.out(op).dtype):
        raise v.fail(op, f"constant_values '{_name(c.name)}' must be one constant {v.out(op).dtype} value")


def _concat(v: _Validator, op: Operator) -> None:
    ins = [v.g.tensors[i] for i in op.inputs]
    first = ins[0]
    rank = len(first.shape)
    axis = op.options.get("axis", 0)
    if not isinstance(axis, int) or isinstance(axis, bool) or not -rank <= axis < rank:
        raise v.fail(op, f"option axis = {axis!r} is out of range for the rank-{rank} inputs")
    ax = axis % rank
    for t in ins[1:]:
        if len(t.shape) != rank or any(t.shape[d] != first.shape[d] for d in range(rank) if d != ax):
            raise v.fail(op, f"input '{_name(t.name)}' {_shape(t.shape)} does not match input "
                         f"'{_name(first.name)}' {_shape(first.shape)} outside axis {ax}")
    shape = list(first.shape)
    shape[ax] = sum(int(t.shape[ax]) for t in ins)
    v.expect(op, shape)


def _reshape(v: _Validator, op: Operator) -> None:
    x, y = v.t(op, 0), v.out(op)
    if _numel(x.shape) != _numel(y.shape):
        raise v.fail(op, f"output '{_name(y.name)}' {_shape(y.shape)} holds {_numel(y.shape):,} elements, "
                     f"the input {_shape(x.shape)} {_numel(x.shape):,}")
    if op.opcode != "RESHAPE":
        return
    wanted = []
    s = v.t(op, 1)
    if s is not None and s.is_constant:
        wanted.append(("shape input", np.asarray(s.data, np.int64).reshape(-1).tolist()))
    if op.options.get("new_shape"):
        wanted.append(("option new_shape", [int(d) for d in op.options["new_shape"]]))
    for what, new in wanted:
        ok = len(new) == len(y.shape) and new.count(-1) <= 1 and all(
            n == d or n == -1 for n, d in zip(new, y.shape, strict=True))
        if not ok:
            raise v.fail(op, f"{what} {new[:8]} does not match the output shape {_shape(y.shape)}")

