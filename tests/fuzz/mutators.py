"""Mutators for .tflite byte strings, each a function (data, rng, corpus) -> bytes.

Byte-level mutators (flips, int32 tweaks, truncation, splicing) mostly test the reader's offset
and identifier checks. The structured mutators decode the flatbuffer with TFLM's generated
schema object API, change one field a validator must check (a shape dimension, zero point,
scale, stride, padding, tensor index, opcode, option, buffer) and pack it again, so the result
is a well-formed flatbuffer that reaches validation, the memory plan and the C generator.
"""

from __future__ import annotations

import random
import struct

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

INT32_SPECIALS = (0, -1, 1, 2, 1 << 30, -(1 << 31), (1 << 31) - 1, 255, 65536)
DIM_SPECIALS = (0, -1, 1, 2, 3, 7, 64, 1000, 1 << 16, 1 << 24, 1 << 30, (1 << 31) - 1)
ZP_SPECIALS = (-129, -128, -1, 0, 1, 127, 128, 1 << 20, -(1 << 31))
SCALE_SPECIALS = (0.0, -1.0, 1e-45, 1e-30, 1e-10, 1.0 / 256, 0.5, 1.0, 1e10, 3.4e38,
                  float("inf"), float("nan"))
# Operators the C generator compiles, and a few it refuses.
OPCODES = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "AVERAGE_POOL_2D",
           "MEAN", "ADD", "SOFTMAX", "PAD", "PADV2", "CONCATENATION", "QUANTIZE", "DEQUANTIZE",
           "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "MUL", "LOGISTIC", "TRANSPOSE", "SUB")
# Option fields worth tweaking, by their object-API attribute name.
OPTION_FIELDS = ("padding", "strideW", "strideH", "dilationWFactor", "dilationHFactor",
                 "filterWidth", "filterHeight", "fusedActivationFunction", "depthMultiplier",
                 "axis", "keepDims", "keepNumDims", "beta", "newShape", "squeezeDims",
                 "weightsFormat", "potScaleInt16", "quantizedBiasType")
OPTION_SPECIALS = (-1, 0, 1, 2, 3, 4, 5, 6, 64, 65, 1 << 16, (1 << 31) - 1)


def _pick(rng: random.Random, values):
    return values[rng.randrange(len(values))]


# ---- byte level -----------------------------------------------------------------------------

def byte_flip(data: bytes, rng: random.Random, corpus=()) -> bytes:
    if not data:
        return bytes([rng.randrange(256)])
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 4, 8))):
        i = rng.randrange(len(b))
        b[i] = b[i] ^ (1 << rng.randrange(8)) if rng.random() < 0.7 else rng.randrange(256)
    return bytes(b)


def int32_tweak(data: bytes, rng: random.Random, corpus=()) -> bytes:
    if len(data) < 4:
        return byte_flip(data, rng)
    b = bytearray(data)
    off = rng.randrange(0, len(b) - 3)
    if rng.random() < 0.7:
        off &= ~3  # flatbuffer scalars and offsets are 4-byte aligned
    r = rng.random()
    if r < 0.6:
        value = _pick(rng, INT32_SPECIALS)
    elif r < 0.8:
        value = struct.unpack_from("<i", b, off)[0] + rng.choice((-1, 1, -4, 4))
    else:
        value = rng.randrange(-(1 << 31), 1 << 31)
    value = (value + (1 << 31)) % (1 << 32) - (1 << 31)
    struct.pack_into("<i", b, off, value)
    return bytes(b)


def truncate(data: bytes, rng: random.Random, corpus=()) -> bytes:
    if len(data) < 2:
        return b""
    return data[:rng.randrange(len(data))]


def splice(data: bytes, rng: random.Random, corpus=()) -> bytes:
    other = _pick(rng, corpus) if corpus else data
    if not data or not other:
        return data + other
    i, j = rng.randrange(len(data)), rng.randrange(len(other))
    n = rng.randrange(1, max(2, min(256, len(other) - j)))
    if rng.random() < 0.5:  # overwrite in place: offsets before i stay valid
        b = bytearray(data)
        chunk = other[j:j + n][:len(b) - i]
        b[i:i + len(chunk)] = chunk
        return bytes(b)
    return data[:i] + other[j:j + n] + data[i:]


# ---- structured (schema object API) ---------------------------------------------------------

def decode(data: bytes):
    return fb.ModelT.InitFromPackedBuf(bytearray(data), 0)


def encode(model) -> bytes:
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _tensor(sg, rng):
    return sg.tensors[rng.randrange(len(sg.tensors))] if sg.tensors is not None and len(sg.tensors) else None


def _m_shape(m, sg, rng) -> None:
    t = _tensor(sg, rng)
    shape = [int(d) for d in (t.shape if t.shape is not None else [])]
    r = rng.random()
    if shape and r < 0.6:
        k = rng.randrange(len(shape))
        shape[k] = _pick(rng, DIM_SPECIALS) if rng.random() < 0.5 else max(0, shape[k] + rng.choice((-1, 1, 2)))
    elif shape and r < 0.75:
        del shape[rng.randrange(len(shape))]
    elif r < 0.9:
        shape.insert(rng.randrange(len(shape) + 1), rng.choice((1, 1, 2, 3)))
    else:
        rng.shuffle(shape)
    t.shape = np.array(shape, np.int32)
    if rng.random() < 0.3:
        t.shapeSignature = np.array(shape, np.int32)


def _quant(t):
    if t.quantization is None:
        t.quantization = fb.QuantizationParametersT()
    return t.quantization


def _m_zero_point(m, sg, rng) -> None:
    q = _quant(_tensor(sg, rng))
    zp = [int(z) for z in (q.zeroPoint if q.zeroPoint is not None else [0])] or [0]
    r = rng.random()
    if r < 0.7:
        zp[rng.randrange(len(zp))] = _pick(rng, ZP_SPECIALS)
    elif r < 0.85:
        zp.append(_pick(rng, ZP_SPECIALS))
    else:
        zp = zp[:-1]
    q.zeroPoint = np.array(zp, np.int64)


def _m_scale(m, sg, rng) -> None:
    q = _quant(_tensor(sg, rng))
    sc = [float(s) for s in (q.scale if q.scale is not None else [1.0])] or [1.0]
    r = rng.random()
    if r < 0.5:
        sc[rng.randrange(len(sc))] = _pick(rng, SCALE_SPECIALS)
    elif r < 0.7:
        k = rng.randrange(len(sc))
        sc[k] = sc[k] * rng.choice((1e-6, 0.5, 2.0, 1e6))
    elif r < 0.85:
        sc.append(_pick(rng, SCALE_SPECIALS))
    else:
        sc = sc[:-1]
    q.scale = np.array(sc, np.float32)
    if rng.random() < 0.2:
        q.quantizedDimension = rng.choice((-1, 0, 1, 2, 3, 4, 1 << 20))


def _op(sg, rng):
    return sg.operators[rng.randrange(len(sg.operators))] if sg.operators is not None and len(sg.operators) else None


def _m_tensor_index(m, sg, rng) -> None:
    n = len(sg.tensors) if sg.tensors is not None else 0
    specials = (-1, -2, n, n + 1, 1 << 20, -(1 << 31))
    r = rng.random()
    op = _op(sg, rng)
    if op is not None and r < 0.8:
        field = "inputs" if rng.random() < 0.6 else "outputs"
        vals = [int(v) for v in (getattr(op, field) if getattr(op, field) is not None else [])]
        k = rng.randrange(len(vals) + 1)
        value = rng.randrange(max(1, n)) if rng.random() < 0.6 else _pick(rng, specials)
        if k == len(vals) or rng.random() < 0.1:
            vals.append(value)
        else:
            vals[k] = value
        if rng.random() < 0.1 and vals:
            vals.pop()
        setattr(op, field, np.array(vals, np.int32))
    else:
        field = "inputs" if rng.random() < 0.5 else "outputs"
        vals = [int(v) for v in (getattr(sg, field) if getattr(sg, field) is not None else [])]
        value = rng.randrange(max(1, n)) if rng.random() < 0.6 else _pick(rng, specials)
        if vals and rng.random() < 0.7:
            vals[rng.randrange(len(vals))] = value
        else:
            vals.append(value)
        setattr(sg, field, np.array(vals, np.int32))


def _m_opcode(m, sg, rng) -> None:
    if rng.random() < 0.6 and m.operatorCodes:
        oc = _pick(rng, m.operatorCodes)
        code = getattr(fb.BuiltinOperator, _pick(rng, OPCODES)) if rng.random() < 0.9 else rng.randrange(-5, 300)
        oc.builtinCode = code
        oc.deprecatedBuiltinCode = max(-128, min(code, 127))
        if rng.random() < 0.2:
            oc.version = rng.choice((0, 1, 2, 99))
    else:
        op = _op(sg, rng)
        if op is not None:
            op.opcodeIndex = rng.choice((0, 1, len(m.operatorCodes or []), 1 << 16, rng.randrange(8)))


def _m_option(m, sg, rng) -> None:
    op = _op(sg, rng)
    if op is None:
        return
    opts = op.builtinOptions
    if opts is None or rng.random() < 0.1:
        # Options of another type (or none): the reader must not trust the declared union type.
        op.builtinOptionsType = rng.randrange(0, 130)
        return
    fields = [f for f in OPTION_FIELDS if hasattr(opts, f)]
    if not fields:
        op.builtinOptionsType = rng.randrange(0, 130)
        return
    f = _pick(rng, fields)
    old = getattr(opts, f)
    if isinstance(old, float):
        setattr(opts, f, _pick(rng, SCALE_SPECIALS))
    elif isinstance(old, bool):
        setattr(opts, f, not old)
    elif old is None or isinstance(old, (list, np.ndarray)):
        vals = [int(v) for v in (old if old is not None else [])]
        if vals and rng.random() < 0.7:
            vals[rng.randrange(len(vals))] = _pick(rng, OPTION_SPECIALS)
        else:
            vals.append(_pick(rng, OPTION_SPECIALS))
        setattr(opts, f, np.array(vals, np.int32))
    else:
        v = _pick(rng, OPTION_SPECIALS) if rng.random() < 0.7 else int(old) + rng.choice((-1, 1))
        if f in ("padding", "fusedActivationFunction", "weightsFormat", "quantizedBiasType"):
            v = max(-128, min(127, v))  # byte-sized enums
        setattr(opts, f, v)


def _m_buffer(m, sg, rng) -> None:
    r = rng.random()
    if r < 0.5:
        t = _tensor(sg, rng)
        n = len(m.buffers or [])
        t.buffer = rng.choice((0, n, n + 1, rng.randrange(max(1, n)), 1 << 30))
    elif m.buffers:
        b = _pick(rng, m.buffers)
        data = bytes(b.data if b.data is not None else b"")
        if data and r < 0.8:
            data = data[:rng.randrange(len(data))]
        else:
            data = data + bytes(rng.randrange(256) for _ in range(rng.choice((1, 4, 16))))
        b.data = np.frombuffer(data, np.uint8).copy()


def _m_type(m, sg, rng) -> None:
    t = _tensor(sg, rng)
    t.type = rng.choice((fb.TensorType.INT8, fb.TensorType.UINT8, fb.TensorType.INT16, fb.TensorType.INT32,
                         fb.TensorType.FLOAT32, fb.TensorType.INT64, fb.TensorType.BOOL, rng.randrange(-3, 40)))


def _m_name(m, sg, rng) -> None:
    t = _tensor(sg, rng) if rng.random() < 0.7 else None
    text = rng.choice((b"*/ #include <x> /*", b"</td><script>x</script>", b"|a|b|\n\n# h", b"\x00\x01\x7f",
                       b"\xff\xfe", b"\\", b'"', b"", b"a" * 5000, "\u202e\u00e9".encode()))
    if t is not None:
        t.name = text
    elif sg is not None:
        sg.name = text
    else:
        m.description = text


def _m_subgraphs(m, sg, rng) -> None:
    r = rng.random()
    if r < 0.4:
        m.subgraphs = m.subgraphs + [m.subgraphs[0]]
    elif r < 0.6:
        m.subgraphs = []
    elif r < 0.8 and sg.operators is not None and len(sg.operators) > 1:
        ops = list(sg.operators)
        rng.shuffle(ops)
        sg.operators = ops
    elif sg.operators is not None and len(sg.operators):
        ops = list(sg.operators)
        if rng.random() < 0.5:
            del ops[rng.randrange(len(ops))]
        else:
            ops.insert(rng.randrange(len(ops) + 1), _pick(rng, ops))
        sg.operators = ops


STRUCTURED = (
    (_m_shape, 5), (_m_zero_point, 3), (_m_scale, 3), (_m_tensor_index, 3), (_m_opcode, 2),
    (_m_option, 5), (_m_buffer, 2), (_m_type, 1), (_m_name, 1), (_m_subgraphs, 1),
)


def structured(data: bytes, rng: random.Random, corpus=()) -> bytes:
    """Decode, change 1-3 fields, re-encode; on a model the object API cannot decode or encode,
    fall back to a byte-level mutation."""
    try:
        m = decode(data)
        if not m.subgraphs:
            return byte_flip(data, rng)
        funcs = [f for f, _ in STRUCTURED]
        weights = [w for _, w in STRUCTURED]
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            sg = m.subgraphs[0]
            if sg.tensors is None or not len(sg.tensors) or not m.subgraphs:
                break
            rng.choices(funcs, weights)[0](m, sg, rng)
            if not m.subgraphs:
                break
        return encode(m)
    except Exception:  # noqa: BLE001 - an unencodable value (overflow, bad union type): mutate bytes
        return int32_tweak(data, rng)


MUTATORS = ((structured, 10), (byte_flip, 3), (int32_tweak, 4), (truncate, 1), (splice, 1))


def mutate(data: bytes, rng: random.Random, corpus=()) -> bytes:
    funcs = [f for f, _ in MUTATORS]
    weights = [w for _, w in MUTATORS]
    return rng.choices(funcs, weights)[0](data, rng, corpus)
