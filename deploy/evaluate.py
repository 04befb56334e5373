"""Host evaluation of any .tflite classifier WITHOUT TensorFlow: LiteRT or the TFLM Python runtime.

Features come from the cache (standardised with the model's own info when it has one), are
quantized with the input tensor's scale/zero point, and the outputs are dequantized to class
probabilities, then scored with the same DCASE metrics as training. Engines are plain
functions in `ENGINES` (name -> run(model_bytes, x_float) -> float probabilities).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from acdeploy.errors import DataError, ModelError

TFLITE_MAGIC = b"TFL3"
TFLM_ARENA_BYTES = 4 * 1024 * 1024


def read_model(path: str | Path) -> bytes:
    """The .tflite bytes; a one-line ModelError when the file is missing or not a TFLite flatbuffer."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found") from None
    except OSError as e:
        raise ModelError(f"{path}: cannot read ({e.strerror})") from None
    if len(data) < 8 or data[4:8] != TFLITE_MAGIC:
        raise ModelError(f"{path}: not a TFLite model (no 'TFL3' flatbuffer identifier)")
    from acdeploy.deploy.validate import load_graph

    load_graph(data, name=str(path))  # the runtimes below trust indices, shapes and quantization
    return data


def _runtime(make, name: str, runtime: str):
    """`make()` (a runtime's interpreter), its load errors as one bounded ModelError line."""
    from acdeploy.deploy.vectors import error_line

    try:
        return make()
    except Exception as e:  # noqa: BLE001 - the bindings raise RuntimeError, ValueError, struct.error, TypeError
        raise ModelError(f"{name}: {runtime} cannot load the model ({error_line(e)})") from None


def model_info_for(tflite_path: str | Path) -> dict | None:
    """The model_info.json that travels with a .tflite: `<stem>.model_info.json`, else `model_info.json` beside it."""
    p = Path(tflite_path)
    for cand in (p.with_name(p.stem + ".model_info.json"), p.with_name("model_info.json")):
        if cand.is_file():
            return json.loads(cand.read_text())
    return None


def standardisation(info: dict | None) -> tuple[float, float]:
    """(mean, std) the training pipeline applied to the log-mels; (0, 1) without model info."""
    if not info:
        return 0.0, 1.0
    block = info.get("standardize") or {}
    mean, std = block.get("mean"), block.get("std")
    if mean is None or std is None:
        return 0.0, 1.0
    return float(mean), float(std)


# -- quantization of inputs and outputs --------------------------------------------------------

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


def _batch_shape(detail: dict, x: np.ndarray, name: str) -> np.ndarray:
    want = tuple(int(d) for d in detail["shape"][1:])
    if x.shape[1:] != want:
        if int(np.prod(x.shape[1:])) != int(np.prod(want)):
            raise DataError(f"{name}: features have shape {x.shape[1:]}, the model's input is {want}")
        x = x.reshape((len(x),) + want)
    return x


# -- engines ------------------------------------------------------------------------------------

def _run_litert(model: bytes, x: np.ndarray, reference: bool = False, name: str = "model") -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kw = {"experimental_op_resolver_type": OpResolverType.BUILTIN_REF} if reference else {}
    interp = _runtime(lambda: Interpreter(model_content=model, num_threads=1, **kw), name, "LiteRT")
    din, dout = interp.get_input_details()[0], interp.get_output_details()[0]
    check_io(din, dout, name)
    x = _batch_shape(din, x, name)
    interp.resize_tensor_input(din["index"], [1, *x.shape[1:]])
    _runtime(interp.allocate_tensors, name, "LiteRT")
    out = []
    for row in x:
        interp.set_tensor(din["index"], quantize_input(row[None], din))
        interp.invoke()
        out.append(dequantize_output(interp.get_tensor(dout["index"]), dout)[0])
    return np.asarray(out)


def _run_tflm(model: bytes, x: np.ndarray, name: str = "model") -> np.ndarray:
    from tflite_micro.python.tflite_micro import runtime

    interp = _runtime(lambda: runtime.Interpreter.from_bytes(model, arena_size=TFLM_ARENA_BYTES), name, "TFLite Micro")
    din, dout = interp.get_input_details(0), interp.get_output_details(0)
    check_io(din, dout, name)
    x = _batch_shape(din, x, name)
    out = []
    for row in x:
        interp.set_input(quantize_input(row[None], din), 0)
        interp.invoke()
        out.append(dequantize_output(interp.get_output(0), dout)[0])
        interp.reset()
    return np.asarray(out)


def _run_c(model: bytes, x: np.ndarray, name: str = "model") -> np.ndarray:
    """The generated C network (as `acdeploy build` writes it), compiled for the host with gcc."""
    from acdeploy.deploy.c_engine import run_c

    return run_c(model, x, name)


ENGINES: dict[str, Callable[..., np.ndarray]] = {
    "litert": _run_litert,
    "litert-ref": lambda model, x, name="model": _run_litert(model, x, reference=True, name=name),
    "tflm": _run_tflm,
    "c": lambda model, x, name="model": _run_c(model, x, name),
}


def check_int8(model: bytes, name: str) -> None:
    """Refuse float models: at least one int8 tensor must be in the graph."""
    from ai_edge_litert.interpreter import Interpreter

    interp = _runtime(lambda: Interpreter(model_content=model), name, "LiteRT")
    if not any(np.dtype(t["dtype"]) == np.int8 for t in interp.get_tensor_details()):
        raise ModelError(f"{name}: not an int8 model (no int8 tensors); quantize it with `acdeploy compress quantize`")


def predict(model: bytes, x: np.ndarray, engine: str = "litert", name: str = "model") -> np.ndarray:
    """Class probabilities for standardised float features x [N, ...] (rows renormalised)."""
    if engine not in ENGINES:
        raise ModelError(f"unknown engine '{engine}'; choose one of: {', '.join(ENGINES)}")
    prob = ENGINES[engine](model, np.asarray(x, dtype=np.float32), name=name)
    prob = np.clip(prob, 0.0, None)
    return prob / np.maximum(prob.sum(axis=1, keepdims=True), 1e-12)


def evaluate(tflite_path: str | Path, features, engine: str = "litert", info: dict | None = None) -> dict:
    """DCASE metrics of a .tflite on a FeatureSet (already restricted to the split)."""
    from acdeploy.metrics import dcase_metrics

    model = read_model(tflite_path)
    name = str(tflite_path)
    check_int8(model, name)
    info = info if info is not None else model_info_for(tflite_path)
    mean, std = standardisation(info)
    if info and list(info.get("classes", features.classes)) != list(features.classes):
        raise DataError(f"{name}: model classes {info['classes']} differ from the dataset's {list(features.classes)}")
    if len(features.labels) == 0:
        raise DataError(f"{features.root}: the selected split has no clips")
    x = (np.asarray(features.x, dtype=np.float32) - mean) / std
    prob = predict(model, x, engine, name)
    if prob.shape[1] != len(features.classes):
        raise ModelError(f"{name}: model has {prob.shape[1]} outputs, the dataset {len(features.classes)} classes")
    m = dcase_metrics(features.labels, prob, features.devices, features.classes, features.seen_devices)
    m["engine"] = engine
    m["model"] = name
    # Per-clip classes and probabilities, so runs on different engines can be compared clip by clip.
    m["predictions"] = np.argmax(prob, axis=1).tolist()
    m["probabilities"] = np.round(prob, 5).tolist()
    return m
