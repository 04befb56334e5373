"""Keras model -> DCASE metrics on the evaluate fold, and the run's plots (confusion, curves)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from acdeploy import fileio
from acdeploy.metrics import dcase_metrics
from acdeploy.train.batches import iterate_standardised


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def predict_logits(model, x, indices, standardizer, batch_size: int = 512) -> np.ndarray:
    """Logits of `model` on the clean, standardised clips x[indices], in index order."""
    outs = [model(xb, training=False).numpy() for xb in iterate_standardised(x, indices, standardizer, batch_size)]
    return np.concatenate(outs).astype(np.float64) if outs else np.zeros((0, int(model.output.shape[-1])))


def evaluate_probs(prob: np.ndarray, labels, devices, classes, seen_devices) -> dict:
    """metrics.json content from class probabilities: overall, per device, seen/unseen, per class."""
    return dcase_metrics(labels, prob, devices, classes, seen_devices)


def evaluate_model(model, fs, standardizer, batch_size: int = 512) -> tuple[dict, np.ndarray]:
    """(metrics, probabilities) of a logits model on every clip of FeatureSet `fs`."""
    prob = softmax(predict_logits(model, fs.x, np.arange(len(fs.labels)), standardizer, batch_size))
    return evaluate_probs(prob, fs.labels, fs.devices, fs.classes, fs.seen_devices), prob


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(metrics: dict, path: str | Path, title: str = "") -> None:
    plt = _figure()
    m = np.asarray(metrics["confusion"])
    classes = metrics["classes"]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.0 + 0.55 * len(classes)), max(3.6, 0.6 + 0.5 * len(classes))))
    ax.imshow(m, cmap="Blues")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if m[i, j] > m.max() / 2 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or f"accuracy {100 * metrics['accuracy']:.1f} %, log loss {metrics['log_loss']:.3f}")
    fig.tight_layout()
    _save(fig, path)


def plot_curves(history: list[dict], path: str | Path) -> None:
    plt = _figure()
    ep = [r["epoch"] for r in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    a.plot(ep, [r["ce"] for r in history], label="train CE")
    if any(r.get("kl") for r in history):
        a.plot(ep, [r["loss"] for r in history], label="train KD loss")
    a.plot(ep, [r["val_log_loss"] for r in history], label="val log loss")
    a.set_xlabel("epoch")
    a.legend()
    b.plot(ep, [r["acc"] for r in history], label="train acc (mixed labels)")
    b.plot(ep, [r["val_acc"] for r in history], label="val acc")
    b.set_xlabel("epoch")
    b.legend()
    fig.tight_layout()
    _save(fig, path)


def _save(fig, path) -> None:
    import matplotlib.pyplot as plt

    with fileio.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format=Path(path).suffix.lstrip("."))
    plt.close(fig)
