"""Running a .tflite classifier on LiteRT without TensorFlow, shared by compress (scoring the int8
model it just wrote) and deploy (host evaluation): input quantization, output dequantization and
one bounded error line when a runtime refuses a model."""

from __future__ import annotations

import numpy as np

from acdeploy.errors import DataError, ModelError


def error_line(e: BaseException, limit: int = 160) -> str:
    """The exception's type and the start of its first line: runtime bindings put their
    arguments (the whole model as bytes) into TypeError messages."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    text = text if len(text) <= limit else text[:limit - 3] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def load_runtime(make, name: str, runtime: str):
    """`make()` (a runtime's interpreter or allocation), its errors as one bounded ModelError line."""
    try:
        return make()
    except Exception as e:  # noqa: BLE001 - the bindings raise RuntimeError, ValueError, struct.error, TypeError
        raise ModelError(f"{name}: {runtime} cannot load the model ({error_line(e)})") from None


def _qparams(detail: dict) -> tuple[float, int]:
    q = detail.get("quantization_parameters") or {}
    scales, zps = q.get("scales"), q.get("zero_points")
    if scales is not None and len(scales):
        return float(scales[0]), int(zps[0])
    scale, zp = detail.get("quantization", (0.0, 0))
    return float(scale), int(zp)


def quantize_input(x: np.ndarray, detail: dict) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return x.astype(np.float32)
    scale, zp = _qparams(detail)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zp, info.min, info.max).astype(dtype)


def dequantize_output(y: np.ndarray, detail: dict) -> np.ndarray:
    if np.dtype(detail["dtype"]) == np.float32:
        return y.astype(np.float64)
    scale, zp = _qparams(detail)
    return (y.astype(np.float64) - zp) * scale


def check_io(detail_in: dict, detail_out: dict, name: str) -> None:
    for kind, d in (("input", detail_in), ("output", detail_out)):
        if np.dtype(d["dtype"]) not in (np.int8, np.float32):
            raise ModelError(f"{name}: {kind} tensor is {np.dtype(d['dtype']).name}; expected int8 (or float32 with QUANTIZE/DEQUANTIZE)")


def batch_shape(detail: dict, x: np.ndarray, name: str) -> np.ndarray:
    """`x` reshaped to the input tensor's shape per row; a DataError when the sizes differ."""
    want = tuple(int(d) for d in detail["shape"][1:])
    if x.shape[1:] != want:
        if int(np.prod(x.shape[1:])) != int(np.prod(want)):
            raise DataError(f"{name}: features have shape {x.shape[1:]}, the model's input is {want}")
        x = x.reshape((len(x),) + want)
    return x


def run_litert(model: bytes, x: np.ndarray, reference: bool = False, name: str = "model") -> np.ndarray:
    """The model's dequantized outputs for float rows `x`, one invocation per row (batch 1, as on
    the device); `reference` selects LiteRT's reference kernels."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kw = {"experimental_op_resolver_type": OpResolverType.BUILTIN_REF} if reference else {}
    interp = load_runtime(lambda: Interpreter(model_content=model, num_threads=1, **kw), name, "LiteRT")
    din, dout = interp.get_input_details()[0], interp.get_output_details()[0]
    check_io(din, dout, name)
    x = batch_shape(din, x, name)
    interp.resize_tensor_input(din["index"], [1, *x.shape[1:]])
    load_runtime(interp.allocate_tensors, name, "LiteRT")
    out = []
    for row in x:
        interp.set_tensor(din["index"], quantize_input(row[None], din))
        interp.invoke()
        out.append(dequantize_output(interp.get_tensor(dout["index"]), dout)[0])
    return np.asarray(out)


def as_probabilities(prob: np.ndarray) -> np.ndarray:
    """Dequantized softmax outputs as class probabilities: negatives clipped, rows renormalised."""
    prob = np.clip(prob, 0.0, None)
    return prob / np.maximum(prob.sum(axis=1, keepdims=True), 1e-12)


def litert_probabilities(model: bytes, x: np.ndarray, name: str = "model") -> np.ndarray:
    """Class probabilities of a softmax-output .tflite on LiteRT's optimized kernels."""
    return as_probabilities(run_litert(model, np.asarray(x, dtype=np.float32), name=name))
