"""Full-integer int8 TFLite export: PTQ, QAT or prune-preserving QAT, with a zero check.

The representative dataset is drawn from the training split and standardised exactly as in
training (model_info.json). The exported graph is the logits model plus a final Softmax (int8 in,
int8 out, int32 biases). The zero check reads the int8 kernels back from the .tflite and confirms
that every weight that is zero in the Keras model is still zero, per layer; float vs int8
accuracy and log loss on the evaluate split go into `<out>.json`.
"""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from acdeploy import artifacts, fileio
from acdeploy.compress.config import QuantizeConfig
from acdeploy.errors import DataError


def sidecar_paths(out: str | Path) -> tuple[Path, Path]:
    """(`<stem>.json` report, `<stem>.model_info.json`) next to the .tflite."""
    out = Path(out)
    return artifacts.quant_report(out), artifacts.sidecar_info(out)


def representative(x, input_shape: Sequence[int], n: int, seed: int, where: str) -> np.ndarray:
    """`n` standardised training inputs shaped like the model input (checked, not guessed)."""
    want = tuple(int(d) for d in input_shape)
    have = tuple(np.shape(x)[1:])
    if have + (1,) != want and have != want:
        raise DataError(f"{where}: representative features have shape {have}, the model expects {want} (feature settings differ from training?)")
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(x), size=min(n, len(x)), replace=False))
    return np.asarray(x[idx], dtype=np.float32).reshape((len(idx),) + want)


def convert_int8(model, rep: np.ndarray) -> bytes:
    """Full-integer conversion: int8 kernels and activations, int8 input and output, int32 biases."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rep[i:i + 1]] for i in range(len(rep)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    with warnings.catch_warnings():
        # The int8 input's statistics come from the representative dataset; TensorFlow warns anyway.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
        return conv.convert()


def _const_int8_tensors(model_bytes: bytes) -> list[tuple[str, np.ndarray]]:
    """(name, values) of every constant int8 tensor: op inputs that no op produces, not graph inputs."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=model_bytes)
    interp.allocate_tensors()
    ops = interp._get_ops_details()
    produced = {int(t) for op in ops for t in op["outputs"]}
    graph_inputs = {int(d["index"]) for d in interp.get_input_details()}
    consts = {int(t) for op in ops for t in op["inputs"] if t >= 0} - produced - graph_inputs
    out = []
    for d in interp.get_tensor_details():
        if d["index"] in consts and np.dtype(d["dtype"]) == np.int8:
            out.append((d["name"], interp.get_tensor(d["index"])))
    return out


def _tflite_layout(kernel: np.ndarray) -> np.ndarray:
    """Keras kernel -> TFLite filter layout: Conv2D [h,w,in,out] -> [out,h,w,in]; Dense [in,out] -> [out,in]."""
    return np.transpose(kernel, (3, 0, 1, 2)) if kernel.ndim == 4 else kernel.T


def zero_check(keras_kernels: dict[str, np.ndarray], model_bytes: bytes) -> dict:
    """Per prunable layer: zeros in Keras, how many of them are still zero in the int8 model, and
    the zeros rounding added. `ok` is False if any pruned weight became non-zero (or is missing)."""
    tensors = _const_int8_tensors(model_bytes)
    layers, ok = {}, True
    for name, kernel in keras_kernels.items():
        want = _tflite_layout(kernel)
        cands = [(n, v) for n, v in tensors if v.shape == want.shape]
        named = [(n, v) for n, v in cands if re.search(rf"(^|[/_]){re.escape(name)}/", n)]
        pick = named or (cands if len(cands) == 1 else [])
        if not pick:
            layers[name] = {"found": False}
            ok = False
            continue
        tname, q = pick[0]
        kz = want == 0
        kept = int(np.sum(q[kz] == 0))
        layers[name] = {
            "found": True, "tensor": tname, "size": int(q.size), "keras_zeros": int(kz.sum()),
            "int8_zeros": int(np.sum(q == 0)), "kept_zeros": kept, "revived": int(kz.sum()) - kept,
            "rounding_zeros": int(np.sum((q == 0) & ~kz)),
        }
        ok &= kept == int(kz.sum())
    return {"ok": bool(ok), "layers": layers}


def _finetune(qmodel, x_train, y_train, n_classes, teachers, distill_cfg, cfg: QuantizeConfig):
    """A short QAT fine-tune with train/distill.py's Distiller (KD when teachers are given, labels otherwise)."""
    import tf_keras as keras

    from acdeploy.train.distill import Distiller
    from acdeploy.train.trainer import set_determinism

    keras.utils.set_random_seed(cfg.seed)
    set_determinism(cfg.deterministic)
    d = Distiller(qmodel, teachers, alpha=distill_cfg.alpha if teachers else 0.0,
                  temperature=distill_cfg.temperature)
    d.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate))
    y = np.eye(n_classes, dtype=np.float32)[y_train]
    d.fit(x_train, y, batch_size=cfg.batch_size, epochs=cfg.finetune_epochs, shuffle=True, verbose=0)


def quantize_aware(model, mode: str):
    """The tf_keras model wrapped for QAT (`qat`) or prune-preserving QAT (`pqat`)."""
    import tensorflow_model_optimization as tfmot

    q = tfmot.quantization.keras
    if mode == "qat":
        return q.quantize_model(model)
    scheme = tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
    return q.quantize_apply(q.quantize_annotate_model(model), scheme)


def keras_probs(model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    from acdeploy.train.evaluate_keras import softmax

    return softmax(np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64))


def quantize_model_dir(model_dir, train_fs, eval_fs, out, cfg: QuantizeConfig, teachers=(), distill_cfg=None,
                       strategy=None) -> dict:
    """Convert the logits model in `model_dir` to `out` (.tflite) and write its report; returns it.

    Under a multi-worker `strategy` every worker runs this (the QAT fine-tune is distributed) and
    only the chief writes `out` (train/distribute.py)."""
    import tensorflow as tf

    from acdeploy.compress import tfmot_wrap
    from acdeploy.interpreters import litert_probabilities
    from acdeploy.metrics import dcase_metrics
    from acdeploy.train import distribute
    from acdeploy.train.modeldir import INFO, load_logits_model, read_info
    from acdeploy.train.models import inference_model

    model_dir, out = Path(model_dir), Path(out)
    strategy = strategy or tf.distribute.get_strategy()
    info = read_info(model_dir)
    with strategy.scope():
        model = load_logits_model(model_dir)
    mean, std = info.standardisation()
    shape = tuple(model.input_shape[1:])
    if info.classes != list(train_fs.classes):
        raise DataError(f"{train_fs.root}: dataset classes {list(train_fs.classes)} differ from the model's {info.classes}")
    std_x = (np.asarray(train_fs.x, dtype=np.float32) - mean) / std if cfg.mode != "ptq" else None
    rep = (representative(train_fs.x, shape, cfg.representative_samples, cfg.seed, str(model_dir)) - mean) / std
    kernels = tfmot_wrap.kernels(model)

    export = model
    if cfg.mode in ("qat", "pqat"):
        with strategy.scope():
            export = quantize_aware(model, cfg.mode)
            if cfg.finetune_epochs:
                _finetune(export, std_x.reshape((len(std_x),) + shape), np.asarray(train_fs.labels),
                          len(info.classes), teachers, distill_cfg, cfg)
    tflite = convert_int8(inference_model(export), rep)

    x_eval = ((np.asarray(eval_fs.x, dtype=np.float32) - mean) / std).reshape((len(eval_fs.labels),) + shape)
    args = (eval_fs.labels, eval_fs.devices, eval_fs.classes, eval_fs.seen_devices)
    float_m = dcase_metrics(*(args[:1]), keras_probs(model, x_eval), *args[1:])
    int8_m = dcase_metrics(*(args[:1]), litert_probabilities(tflite, x_eval, str(out)), *args[1:])
    zeros = zero_check(kernels, tflite)
    report = {
        "model_dir": str(model_dir), "tflite": str(out), "mode": cfg.mode, "bytes": len(tflite),
        "zero_check": zeros,
        "float": _brief(float_m), "int8": _brief(int8_m),
        "int8_metrics": int8_m,
    }
    dest = distribute.write_path(out, strategy)
    report_path, info_path = sidecar_paths(dest)
    fileio.write_bytes(dest, tflite)
    with fileio.atomic_path(info_path) as tmp:
        shutil.copyfile(model_dir / INFO, tmp)
    fileio.write_json(report_path, report)
    distribute.barrier(strategy)  # no worker leaves while another still needs it
    for p in (out, *sidecar_paths(out)):  # a non-chief worker's scratch copies
        distribute.remove_scratch(p, strategy)
    return report


def _brief(m: dict) -> dict:
    out = {k: m[k] for k in ("accuracy", "macro_accuracy", "log_loss")}
    if "unseen" in m:
        out["unseen_accuracy"] = m["unseen"]["accuracy"]
    return out


def format_report(r: dict) -> str:
    lines = [f"{r['tflite']}: {r['bytes']} bytes, mode {r['mode']}",
             f"{'':8}{'acc %':>8}{'macro %':>9}{'logloss':>9}"]
    for k in ("float", "int8"):
        b = r[k]
        lines.append(f"{k:<8}{100 * b['accuracy']:>8.1f}{100 * b['macro_accuracy']:>9.1f}{b['log_loss']:>9.3f}")
    z = r["zero_check"]
    lines.append("zero check: " + ("every pruned weight is still zero" if z["ok"] else "FAILED"))
    for name, v in z["layers"].items():
        if v.get("found"):
            lines.append(f"  {name:<24} zeros keras {v['keras_zeros']:>7}/{v['size']:<7} int8 {v['int8_zeros']:>7} (+{v['rounding_zeros']} from rounding)")
    return "\n".join(lines)

