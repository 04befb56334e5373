"""Read a .tflite flatbuffer into the IR (deploy/ir.py) with the `tflite` schema package.

The `tflite` package is the generated flatbuffer schema of TensorFlow Lite (no TensorFlow
import); everything past this module sees only numpy arrays and plain dataclasses.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import tflite

from acdeploy.deploy.ir import Graph, Operator, Quant, Tensor
from acdeploy.errors import ModelError

FILE_IDENTIFIER = b"TFL3"

_TENSOR_TYPES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
_NUMPY_DTYPES = {
    "FLOAT32": "float32", "FLOAT16": "float16", "FLOAT64": "float64", "INT8": "int8",
    "UINT8": "uint8", "INT16": "int16", "UINT16": "uint16", "INT32": "int32",
    "UINT32": "uint32", "INT64": "int64", "UINT64": "uint64", "BOOL": "bool",
    "COMPLEX64": "complex64", "COMPLEX128": "complex128",
}
_BUILTIN_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
_OPTIONS_NAMES = {v: k for k, v in vars(tflite.BuiltinOptions).items() if not k.startswith("_")}
_ACTIVATIONS = {v: k for k, v in vars(tflite.ActivationFunctionType).items() if not k.startswith("_")}
_PADDINGS = {v: k for k, v in vars(tflite.Padding).items() if not k.startswith("_")}
# Option fields whose integer value is an enum we print by name.
_ENUM_FIELDS = {"padding": _PADDINGS, "fused_activation_function": _ACTIVATIONS}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # kept out of one-line messages
# Generated accessor methods that are not option fields.
_NOT_FIELDS = re.compile(r"(AsNumpy|IsNone|Length|BufferHasIdentifier)$|^(GetRootAs\w*|Init)$")


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def read_tflite(source: str | os.PathLike | bytes | bytearray | memoryview, name: str | None = None) -> Graph:
    """Parse a .tflite file (path or bytes) into a Graph; any malformed input -> ModelError.

    `name` is the file name errors mention when `source` is bytes already read."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        buf, where = bytes(source), name or "<bytes>"
    else:
        where = str(source)
        try:
            buf = Path(source).read_bytes()
        except OSError as e:
            raise ModelError(f"{where}: cannot read model: {e.strerror or e}") from None
    if len(buf) < 8 or not tflite.Model.ModelBufferHasIdentifier(buf, 0):
        raise ModelError(f"{where}: not a TFLite model (no '{FILE_IDENTIFIER.decode()}' flatbuffer identifier)")
    try:
        return _read(buf, where)
    except ModelError:
        raise
    except Exception as e:  # noqa: BLE001 - flatbuffers reports truncation as struct/index errors
        detail = _CONTROL.sub(" ", str(e))[:160]  # bounded: never the buffer it choked on
        raise ModelError(f"{where}: malformed or truncated TFLite flatbuffer ({type(e).__name__}: {detail})") from None


def _read(buf: bytes, where: str) -> Graph:
    model = tflite.Model.GetRootAs(buf, 0)
    if model.SubgraphsLength() != 1:
        raise ModelError(
            f"{where}: the model has {model.SubgraphsLength()} subgraphs; only single-subgraph models "
            "(one signature, no control flow) can be deployed")
    sg = model.Subgraphs(0)
    opcodes = [_opcode_name(model.OperatorCodes(i)) for i in range(model.OperatorCodesLength())]
    versions = [model.OperatorCodes(i).Version() for i in range(model.OperatorCodesLength())]
    tensors = [_tensor(model, sg.Tensors(i), i, buf, where) for i in range(sg.TensorsLength())]
    operators = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        code = op.OpcodeIndex()
        if code >= len(opcodes):
            raise ModelError(f"{where}: operator #{i} refers to opcode {code}, the model has {len(opcodes)}")
        inputs, outputs = _ints(op.InputsAsNumpy()), _ints(op.OutputsAsNumpy())
        # -1 marks an absent optional input; any other negative index (or -1 as an output) is
        # corrupt, and Python would otherwise read it from the end of the tensor list.
        for k, t in enumerate(outputs):
            if not 0 <= t < len(tensors):
                raise ModelError(f"{where}: operator #{i} ({opcodes[code]}) output #{k} refers to tensor {t}, "
                                 f"the model has {len(tensors)} tensors")
        name = tensors[outputs[0]].name if outputs else f"op{i}"
        for k, t in enumerate(inputs):
            if not -1 <= t < len(tensors):
                raise ModelError(f"{where}: layer '{_CONTROL.sub(' ', name)[:60]}' ({opcodes[code]} #{i}): input #{k} "
                                 f"refers to tensor {t}, the model has {len(tensors)} tensors")
        operators.append(Operator(
            index=i, opcode=opcodes[code], inputs=inputs, outputs=outputs,
            options=_options(op, opcodes[code], f"{where}: layer '{_CONTROL.sub(' ', name)[:60]}' "
                             f"({opcodes[code]} #{i})"),
            version=versions[code], name=name,
        ))
    description = model.Description()
    return Graph(
        tensors=tensors, operators=operators,
        inputs=_ints(sg.InputsAsNumpy()), outputs=_ints(sg.OutputsAsNumpy()),
        description=description.decode("utf-8", "replace") if description else "",
        metadata=_metadata(model, buf),
    )


def _ints(arr) -> list[int]:
    # The generated accessors return 0 (not an empty array) for an absent vector.
    return [] if isinstance(arr, int) else [int(x) for x in arr]


def _opcode_name(oc) -> str:
    # Schema v3a: builtin_code (int32) superseded deprecated_builtin_code (int8); old files only
    # set the deprecated one, new files set both, codes >= 127 only in builtin_code.
    # TFLite's own GetBuiltinCode takes the larger of the two, and so do we.
    code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
    name = _BUILTIN_NAMES.get(code, f"BUILTIN_{code}")
    if name == "CUSTOM":
        custom = oc.CustomCode()
        return f"CUSTOM:{custom.decode('utf-8', 'replace') if custom else '?'}"
    return name


# The options table each op's TFLM parser reads. Options of another type are ignored, as TFLM
# ignores them; for the ops in _REQUIRED_OPTIONS TFLM then runs with zeroed parameters (stride 0,
# beta 0), which no generated code can match, so the model is refused.
_EXPECTED_OPTIONS = {
    "CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "MAX_POOL_2D": "Pool2DOptions", "AVERAGE_POOL_2D": "Pool2DOptions", "SOFTMAX": "SoftmaxOptions",
    "CONCATENATION": "ConcatenationOptions", "FULLY_CONNECTED": "FullyConnectedOptions",
    "ADD": "AddOptions", "MEAN": "ReducerOptions", "RESHAPE": "ReshapeOptions",
    "SQUEEZE": "SqueezeOptions", "PAD": "PadOptions", "PADV2": "PadV2Options",
}
_REQUIRED_OPTIONS = ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "SOFTMAX",
                     "CONCATENATION")


def _options(op, opcode: str = "", label: str = "") -> dict:
    kind = _OPTIONS_NAMES.get(op.BuiltinOptionsType(), "NONE")
    table = op.BuiltinOptions()
    expected = _EXPECTED_OPTIONS.get(opcode)
    if expected is not None and (kind != expected or table is None):
        if opcode in _REQUIRED_OPTIONS:
            raise ModelError(f"{label}: builtin options are {kind if table is not None else 'missing'}, "
                             f"{opcode} needs {expected}")
        return {}
    if kind == "NONE" or table is None or not hasattr(tflite, kind):
        return {}
    obj = getattr(tflite, kind)()
    obj.Init(table.Bytes, table.Pos)
    out = {}
    for attr in dir(obj):
        if attr.startswith("_") or _NOT_FIELDS.search(attr):
            continue
        key = _snake(attr)
        if hasattr(obj, attr + "AsNumpy"):  # a vector field
            value = _ints(getattr(obj, attr + "AsNumpy")())
        else:
            value = getattr(obj, attr)()
            if not isinstance(value, (int, float, bool)):
                continue
            if key in _ENUM_FIELDS:
                value = _ENUM_FIELDS[key].get(value, value)
        out[key] = value
    return out


def _quant(q, tensor_name: str, where: str) -> Quant | None:
    # TFLM takes a tensor as quantized only when it has both scales and zero points (otherwise
    # its scale is 0, and int8 kernels abort or compute something else): read it the same way.
    if q is None or q.ScaleLength() == 0 or q.ZeroPointLength() == 0:
        return None
    scale = np.asarray(q.ScaleAsNumpy(), dtype=np.float32)
    zp = np.asarray(q.ZeroPointAsNumpy(), dtype=np.int64)
    if zp.size == 1 and scale.size > 1:
        zp = np.full(scale.shape, zp[0], np.int64)
    if zp.size != scale.size:
        raise ModelError(f"{where}: tensor '{tensor_name}' has {scale.size} scales but {zp.size} zero points")
    return Quant(scale=scale, zero_point=zp, axis=int(q.QuantizedDimension()))


def _tensor(model, t, index: int, buf: bytes, where: str) -> Tensor:
    name = t.Name().decode("utf-8", "replace") if t.Name() else f"tensor{index}"
    ttype = _TENSOR_TYPES.get(t.Type(), f"TYPE_{t.Type()}")
    dtype = _NUMPY_DTYPES.get(ttype, ttype.lower())
    shape = tuple(_ints(t.ShapeAsNumpy()))
    data = None
    b = t.Buffer()
    if b == 0 and model.BuffersLength() and _buffer_bytes(model.Buffers(0), buf, name, where):
        # TFLM would take the tensor as a constant of those bytes and write past them.
        raise ModelError(f"{where}: tensor '{name}' uses buffer 0, the empty sentinel of activations, "
                         "but buffer 0 holds data (corrupt file)")
    if b > 0:  # buffer 0 is the empty sentinel every activation points to
        if b >= model.BuffersLength():
            raise ModelError(f"{where}: tensor '{name}' refers to buffer {b}, the model has {model.BuffersLength()}")
        raw = _buffer_bytes(model.Buffers(b), buf, name, where)
        if raw is not None and len(raw):
            if dtype not in _NUMPY_DTYPES.values():
                raise ModelError(f"{where}: constant tensor '{name}' has type {ttype}, which cannot be deployed")
            expected = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            if len(raw) != expected:
                raise ModelError(
                    f"{where}: constant tensor '{name}' holds {len(raw)} bytes, its shape {list(shape)} "
                    f"of {dtype} needs {expected} (truncated or corrupt file)")
            data = np.frombuffer(raw, dtype=dtype).reshape(shape)
    return Tensor(index=index, name=name, shape=shape, dtype=dtype,
                  quant=_quant(t.Quantization(), name, where), data=data)


def _buffer_bytes(buffer, buf: bytes, name: str, where: str) -> bytes | None:
    # Models above 2 GB keep buffers after the flatbuffer: offset/size relative to the file start.
    if buffer.Offset() > 1:
        start, size = buffer.Offset(), buffer.Size()
        if start + size > len(buf):
            raise ModelError(f"{where}: buffer of tensor '{name}' lies past the end of the file (truncated)")
        return buf[start:start + size]
    if buffer.DataLength() == 0:
        return None
    return buffer.DataAsNumpy().tobytes()


def _metadata(model, buf: bytes) -> dict[str, bytes]:
    out = {}
    for i in range(model.MetadataLength()):
        m = model.Metadata(i)
        name = m.Name().decode("utf-8", "replace") if m.Name() else f"metadata{i}"
        if 0 <= m.Buffer() < model.BuffersLength():
            out[name] = _buffer_bytes(model.Buffers(m.Buffer()), buf, name, "<metadata>") or b""
    return out
