"""Host evaluation of any .tflite classifier WITHOUT TensorFlow: LiteRT or the TFLM Python runtime.

Features come from the cache (standardised with the model's own info when it has one), are
quantized with the input tensor's scale/zero point, and the outputs are dequantized to class
probabilities, then scored with the same DCASE metrics as training. Engines are plain
functions in `ENGINES` (name -> run(model_bytes, x_float) -> float probabilities).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from acdeploy import artifacts
from acdeploy.errors import DataError, ModelError
from acdeploy.interpreters import (
    as_probabilities,
    batch_shape,
    check_io,
    dequantize_output,
    load_runtime,
    quantize_input,
    run_litert,
)
from acdeploy.model_info import ModelInfo

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


def model_info_for(tflite_path: str | Path) -> ModelInfo | None:
    """The model_info.json that travels with a .tflite: `<stem>.model_info.json`, else `model_info.json`
    beside it; None when there is neither (any int8 model deploys without one)."""
    p = Path(tflite_path)
    for cand in (artifacts.sidecar_info(p), p.with_name(artifacts.MODEL_INFO)):
        if cand.is_file():
            return ModelInfo.read(cand)
    return None


def standardisation(info: ModelInfo | None) -> tuple[float, float]:
    """(mean, std) the training pipeline applied to the log-mels; (0, 1) without model info."""
    return (0.0, 1.0) if info is None else info.standardisation()


# -- engines ------------------------------------------------------------------------------------

def _run_tflm(model: bytes, x: np.ndarray, name: str = "model") -> np.ndarray:
    from tflite_micro.python.tflite_micro import runtime

    interp = load_runtime(lambda: runtime.Interpreter.from_bytes(model, arena_size=TFLM_ARENA_BYTES), name, "TFLite Micro")
    din, dout = interp.get_input_details(0), interp.get_output_details(0)
    check_io(din, dout, name)
    x = batch_shape(din, x, name)
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
    "litert": run_litert,
    "litert-ref": lambda model, x, name="model": run_litert(model, x, reference=True, name=name),
    "tflm": _run_tflm,
    "c": lambda model, x, name="model": _run_c(model, x, name),
}


def check_int8(model: bytes, name: str) -> None:
    """Refuse float models: at least one int8 tensor must be in the graph."""
    from ai_edge_litert.interpreter import Interpreter

    interp = load_runtime(lambda: Interpreter(model_content=model), name, "LiteRT")
    if not any(np.dtype(t["dtype"]) == np.int8 for t in interp.get_tensor_details()):
        raise ModelError(f"{name}: not an int8 model (no int8 tensors); quantize it with `acdeploy compress quantize`")


def predict(model: bytes, x: np.ndarray, engine: str = "litert", name: str = "model") -> np.ndarray:
    """Class probabilities for standardised float features x [N, ...] (rows renormalised)."""
    if engine not in ENGINES:
        raise ModelError(f"unknown engine '{engine}'; choose one of: {', '.join(ENGINES)}")
    return as_probabilities(ENGINES[engine](model, np.asarray(x, dtype=np.float32), name=name))


def evaluate(tflite_path: str | Path, features, engine: str = "litert", info: ModelInfo | None = None) -> dict:
    """DCASE metrics of a .tflite on a FeatureSet (already restricted to the split)."""
    from acdeploy.metrics import dcase_metrics

    model = read_model(tflite_path)
    name = str(tflite_path)
    check_int8(model, name)
    info = info if info is not None else model_info_for(tflite_path)
    mean, std = standardisation(info)
    if info is not None and info.classes is not None and info.classes != list(features.classes):
        raise DataError(f"{name}: model classes {info.classes} differ from the dataset's {list(features.classes)}")
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
