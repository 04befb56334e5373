"""DCASE metrics on class probabilities, numpy only (used by training, compression and eval).

- accuracy: correct / total;
- macro_accuracy: mean over classes of class-wise accuracy (what the DCASE baselines report,
  sed_eval's class_wise_average accuracy);
- log_loss: sklearn.metrics.log_loss on the class probabilities (rows renormalised, clipped).
Each is also given per device and for seen vs unseen devices.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_EPS = 1e-15  # sklearn's historical clip; float64 probabilities


def accuracy(y: np.ndarray, prob: np.ndarray) -> float:
    return float(np.mean(np.argmax(prob, axis=1) == y)) if len(y) else float("nan")


def macro_accuracy(y: np.ndarray, prob: np.ndarray, n_classes: int) -> float:
    pred = np.argmax(prob, axis=1)
    per = [np.mean(pred[y == c] == c) for c in range(n_classes) if np.any(y == c)]
    return float(np.mean(per)) if per else float("nan")


def log_loss(y: np.ndarray, prob: np.ndarray) -> float:
    if not len(y):
        return float("nan")
    p = np.asarray(prob, dtype=np.float64)
    p = p / p.sum(axis=1, keepdims=True)
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


def confusion(y: np.ndarray, prob: np.ndarray, n_classes: int) -> np.ndarray:
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (y, np.argmax(prob, axis=1)), 1)
    return m


def _block(y, prob, n_classes) -> dict:
    return {
        "n": int(len(y)),
        "accuracy": accuracy(y, prob),
        "macro_accuracy": macro_accuracy(y, prob, n_classes),
        "log_loss": log_loss(y, prob),
    }


def dcase_metrics(
    y: Sequence[int],
    prob: np.ndarray,
    devices: Sequence[str],
    classes: Sequence[str],
    seen_devices: Sequence[str] | None = None,
) -> dict:
    """The full metrics block written to metrics.json: overall, per device, seen/unseen, per class."""
    y = np.asarray(y, dtype=np.int64)
    prob = np.asarray(prob, dtype=np.float64)
    devices = np.asarray(devices)
    n = len(classes)
    if prob.shape != (len(y), n):
        raise ValueError(f"probabilities have shape {prob.shape}, expected ({len(y)}, {n})")
    out = _block(y, prob, n)
    out["per_device"] = {str(d): _block(y[devices == d], prob[devices == d], n) for d in sorted(set(devices.tolist()))}
    if seen_devices is not None:
        seen = np.isin(devices, list(seen_devices))
        out["seen"] = _block(y[seen], prob[seen], n)
        out["unseen"] = _block(y[~seen], prob[~seen], n)
    pred = np.argmax(prob, axis=1)
    out["per_class"] = {
        c: {"n": int(np.sum(y == i)), "accuracy": float(np.mean(pred[y == i] == i)) if np.any(y == i) else float("nan")}
        for i, c in enumerate(classes)
    }
    out["confusion"] = confusion(y, prob, n).tolist()
    out["classes"] = list(classes)
    return out


def format_table(m: dict) -> str:
    """A per-device table for the terminal."""
    rows = [("all", m)] + [(f"  {d}", v) for d, v in m.get("per_device", {}).items()]
    for k in ("seen", "unseen"):
        if k in m:
            rows.append((k, m[k]))
    lines = [f"{'devices':<10}{'n':>7}{'acc %':>9}{'macro %':>9}{'logloss':>9}"]
    for name, b in rows:
        lines.append(f"{name:<10}{b['n']:>7}{100 * b['accuracy']:>9.1f}{100 * b['macro_accuracy']:>9.1f}{b['log_loss']:>9.3f}")
    return "\n".join(lines)
