"""Pruning masks as plain numpy: a `Mask` is a dict layer name -> 0/1 array shaped like the kernel.

The pruning rules are small pure functions with open_lth's semantics: a level prunes a fraction
of the weights that SURVIVED the previous mask (old zeros stay zero), either with one magnitude
ranking over all prunable layers (`global`) or the same fraction in every layer (`layer`).
Counts are exact (ties broken by position), so k levels at fraction p leave round((1-p)^k * n).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from acdeploy.errors import ModelError
from acdeploy.fileio import atomic_path


class Mask(dict):
    """layer name -> {0, 1} uint8 array. Missing layers are dense (never pruned)."""

    @classmethod
    def ones_like(cls, weights: Mapping[str, np.ndarray]) -> Mask:
        return cls({k: np.ones(np.shape(v), dtype=np.uint8) for k, v in weights.items()})

    @property
    def total(self) -> int:
        return int(sum(v.size for v in self.values()))

    @property
    def unpruned(self) -> int:
        return int(sum(int(v.sum()) for v in self.values()))

    @property
    def sparsity(self) -> float:
        return 1.0 - self.unpruned / self.total if self.total else 0.0

    def report(self) -> dict:
        """open_lth's sparsity report, plus the per-layer figures."""
        return {
            "total": self.total,
            "unpruned": self.unpruned,
            "sparsity": self.sparsity,
            "layers": {
                k: {"total": int(v.size), "unpruned": int(v.sum()), "sparsity": 1.0 - float(v.mean())}
                for k, v in self.items()
            },
        }

    def save(self, path: str | Path) -> Path:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **{k: v.astype(np.uint8) for k, v in self.items()})
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> Mask:
        try:
            with np.load(path) as z:
                mask = cls({k: z[k].astype(np.uint8) for k in z.files})
        except (OSError, ValueError) as e:
            raise ModelError(f"{path}: not a mask file ({e})") from None
        for k, v in mask.items():
            if not np.isin(v, (0, 1)).all():
                raise ModelError(f"{path}: mask of layer '{k}' has values other than 0 and 1")
        return mask

    def __and__(self, other: Mapping[str, np.ndarray]) -> Mask:
        return Mask({k: (v & other[k]).astype(np.uint8) if k in other else v for k, v in self.items()})


def _prune_smallest(values: np.ndarray, alive: np.ndarray, count: int) -> np.ndarray:
    """Indices (into the flat arrays) of the `count` smallest |values| among the alive ones."""
    idx = np.flatnonzero(alive)
    order = np.argsort(np.abs(values[idx]), kind="stable")
    return idx[order[:count]]


def _count(fraction: float, alive: int) -> int:
    # open_lth rounds the number pruned up, so a level never prunes less than asked.
    return min(alive, math.ceil(fraction * alive))


def prune_layerwise(
    weights: Mapping[str, np.ndarray], mask: Mapping[str, np.ndarray], fraction: float | Mapping[str, float]
) -> Mask:
    """Prune `fraction` of each layer's surviving weights (a dict gives each layer its own rate)."""
    out = Mask()
    for name, w in weights.items():
        rate = fraction[name] if isinstance(fraction, Mapping) else fraction
        m = np.asarray(mask[name], dtype=np.uint8).ravel().copy()
        m[_prune_smallest(np.ravel(w), m.astype(bool), _count(rate, int(m.sum())))] = 0
        out[name] = m.reshape(np.shape(w))
    return out


def prune_global(weights: Mapping[str, np.ndarray], mask: Mapping[str, np.ndarray], fraction: float,
                 min_density: float = 0.0) -> Mask:
    """Prune `fraction` of all surviving weights by one magnitude ranking across the layers.

    One ranking lets a layer whose kernel is small in magnitude (a conv before BatchNorm may be at
    any scale) lose every weight, which disconnects the network; each layer therefore keeps at
    least `min_density` of its weights (its largest survivors), so it may prune a little less."""
    names = list(weights)
    flat_w = np.concatenate([np.ravel(weights[k]) for k in names]) if names else np.zeros(0)
    flat_m = np.concatenate([np.ravel(mask[k]).astype(np.uint8) for k in names]) if names else np.zeros(0, np.uint8)
    flat_m = flat_m.copy()
    flat_m[_prune_smallest(flat_w, flat_m.astype(bool), _count(fraction, int(flat_m.sum())))] = 0
    out, start = Mask(), 0
    for k in names:
        n = int(np.size(weights[k]))
        m = flat_m[start:start + n].copy()
        floor = min(math.ceil(min_density * n), int(np.sum(mask[k])))
        if m.sum() < floor:
            alive = np.flatnonzero(np.ravel(mask[k]))
            m[alive[np.argsort(-np.abs(np.ravel(weights[k])[alive]), kind="stable")[:floor]]] = 1
        out[k] = m.reshape(np.shape(weights[k]))
        start += n
    return out


def prune(
    weights: Mapping[str, np.ndarray],
    mask: Mapping[str, np.ndarray] | None,
    fraction: float,
    scope: str = "global",
    layer_rates: Mapping[str, float] | None = None,
    min_density: float = 0.0,
) -> Mask:
    """One pruning level. `layer_rates` scales `fraction` for named layers (0 = never prune them);
    those layers are pruned on their own, the rest by `scope` (`min_density`: see prune_global)."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"prune fraction must be in [0, 1), got {fraction}")
    mask = Mask(mask) if mask is not None else Mask.ones_like(weights)
    special = {k: fraction * r for k, r in (layer_rates or {}).items() if k in weights and r != 1.0}
    regular = {k: w for k, w in weights.items() if k not in special}
    if scope == "global":
        out = prune_global(regular, mask, fraction, min_density)
    elif scope == "layer":
        out = prune_layerwise(regular, mask, fraction)
    else:
        raise ValueError(f"scope must be 'global' or 'layer', got {scope!r}")
    out.update(prune_layerwise({k: weights[k] for k in special}, mask, special))
    return Mask({k: out[k] for k in weights})


def m_by_n_keep(weights: np.ndarray, m: int, n: int) -> np.ndarray:
    """0/1 mask with at least `m` zeros in every `n` consecutive input channels (TF-MOT's layout:
    the input-channel axis, i.e. the last axis of the TFLite kernel); keeps the largest |w|."""
    w = np.asarray(weights)
    if w.ndim not in (2, 4):
        raise ValueError(f"m-by-n needs a Dense or Conv2D kernel, got shape {w.shape}")
    cin_axis = w.ndim - 2  # Keras kernels: [..., cin, cout]
    a = np.moveaxis(np.abs(w), cin_axis, -1)
    cin = a.shape[-1]
    pad = (-cin) % n
    a = np.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, pad)], constant_values=-1.0)
    blocks = a.reshape(-1, n)
    order = np.argsort(-blocks, axis=1, kind="stable")[:, : n - m]
    keep = np.zeros_like(blocks, dtype=np.uint8)
    np.put_along_axis(keep, order, 1, axis=1)
    keep = keep.reshape(a.shape)[..., :cin]
    return np.moveaxis(keep, -1, cin_axis)
