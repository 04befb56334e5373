"""Pruning masks as plain numpy: a `Mask` is a dict layer name -> 0/1 array shaped like the kernel.

The pruning rules are small pure functions with open_lth's semantics: a level prunes a fraction
of the weights that SURVIVED the previous mask (old zeros stay zero), either with one magnitude
ranking over all prunable layers (`global`) or the same fraction in every layer (`layer`).
Counts are exact (ties broken by position), so k levels at fraction p leave round((1-p)^k * n).

Granularity (`lth.granularity`) shapes a mask for sparse kernels that read weights in groups along
the input channels (the last-but-one axis of a Keras kernel, the innermost of TFLite's):
`unstructured` ranks single weights; `blockK` (block4) ranks blocks of K consecutive input channels
of one output channel and tap by their root-mean-square (the L2 norm on the scale of a single
|w|, so blocks and single weights of fallback tensors rank together under the global scope) and
prunes a block whole; `N:M` prunes single weights as `unstructured` does, then keeps at most the N
largest in every M consecutive input channels. A tensor whose input depth is not a multiple of the
group (a 1-channel stem) falls back to `unstructured`; depthwise kernels are never pruned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from acdeploy.errors import ModelError
from acdeploy.fileio import atomic_path

UNSTRUCTURED = "unstructured"


def parse_granularity(text: str) -> tuple[str, int, int]:
    """`unstructured` -> ("unstructured", 1, 1); `block4` -> ("block", 4, 4); `2:8` -> ("nm", 2, 8).
    ValueError names the accepted spellings."""
    t = str(text).strip().lower()
    if t == UNSTRUCTURED:
        return UNSTRUCTURED, 1, 1
    if t.startswith("block") and t[5:].isdigit() and int(t[5:]) >= 2:
        return "block", int(t[5:]), int(t[5:])
    n, sep, m = t.partition(":")
    if sep and n.isdigit() and m.isdigit() and 0 < int(n) < int(m):
        return "nm", int(n), int(m)
    raise ValueError(f"granularity: unknown value {text!r}; choose unstructured, block4 (blocks of 4 input channels) "
                     f"or N:M with 0 < N < M (at most N non-zeros in every M input channels, e.g. 2:8)")


def granularity_plan(weights: Mapping[str, np.ndarray], granularity: str) -> tuple[dict[str, str], dict[str, str]]:
    """The granularity each tensor is pruned at, and why a tensor falls back to unstructured."""
    kind, _n, group = parse_granularity(granularity)
    plan, fallback = {}, {}
    for name, w in weights.items():
        shape = np.shape(w)
        if kind == UNSTRUCTURED:
            plan[name] = UNSTRUCTURED
        elif len(shape) not in (2, 4):
            plan[name], fallback[name] = UNSTRUCTURED, f"kernel of rank {len(shape)}, not Dense or Conv2D"
        elif shape[-2] % group:
            plan[name], fallback[name] = UNSTRUCTURED, f"input depth {shape[-2]} is not a multiple of {group}"
        else:
            plan[name] = granularity
    return plan, fallback


def group_ids(shape: tuple[int, ...], size: int) -> np.ndarray:
    """Group number of every element of a Keras kernel [..., cin, cout]: groups are `size`
    consecutive input channels of one output channel and tap (cin must be a multiple of size)."""
    cin_axis = len(shape) - 2
    moved = [d for i, d in enumerate(shape) if i != cin_axis] + [shape[cin_axis]]  # [..., cout, cin]
    ids = np.arange(int(np.prod(moved[:-1])) * (moved[-1] // size)).reshape(*moved[:-1], moved[-1] // size)
    return np.moveaxis(np.repeat(ids, size, axis=-1), -1, cin_axis)


def _units(shape: tuple[int, ...], granularity: str) -> np.ndarray | None:
    """Flat unit ids for ranking (blocks), or None when every weight is its own unit."""
    kind, size, _ = parse_granularity(granularity)
    return group_ids(shape, size).ravel() if kind == "block" else None


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


def _unit_stats(values: np.ndarray, alive: np.ndarray, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Alive weights and root-mean-square of the alive weights of every unit."""
    n_units = int(units.max()) + 1 if units.size else 0
    live = alive.astype(np.float64)
    size = np.bincount(units, weights=live, minlength=n_units)
    rms = np.sqrt(np.bincount(units, weights=live * np.square(values, dtype=np.float64), minlength=n_units)
                  / np.maximum(size, 1))
    return size, rms


def _take_units(values: np.ndarray, alive: np.ndarray, count: int, units: np.ndarray, largest: bool) -> np.ndarray:
    """Indices of the alive weights of whole units, smallest (or largest) RMS first, at least `count` of them."""
    idx = np.flatnonzero(alive)
    if count <= 0:
        return idx[:0]
    size, rms = _unit_stats(values, alive, units)
    cand = np.flatnonzero(size)
    order = cand[np.argsort(-rms[cand] if largest else rms[cand], kind="stable")]
    take = order[: int(np.searchsorted(np.cumsum(size[order]), count)) + 1]
    return idx[np.isin(units[idx], take)]


def _prune_smallest(values: np.ndarray, alive: np.ndarray, count: int, units: np.ndarray | None = None) -> np.ndarray:
    """Indices (into the flat arrays) of the `count` smallest |values| among the alive ones. With
    `units` (a unit id per element) whole units go, smallest root-mean-square first, until at
    least `count` weights are pruned."""
    if units is not None:
        return _take_units(values, alive, count, units, largest=False)
    idx = np.flatnonzero(alive)
    order = np.argsort(np.abs(values[idx]), kind="stable")
    return idx[order[:count]]


def _largest(values: np.ndarray, alive: np.ndarray, count: int, units: np.ndarray | None = None) -> np.ndarray:
    """Indices of the `count` largest alive |values| (with `units`: the largest whole units, at least `count` weights)."""
    if units is not None:
        return _take_units(values, alive, count, units, largest=True)
    idx = np.flatnonzero(alive)
    return idx[np.argsort(-np.abs(values[idx]), kind="stable")[:count]]


def _flat_units(weights: Mapping[str, np.ndarray], names: list[str], plan: Mapping[str, str] | None) -> np.ndarray | None:
    """Unit ids over the concatenated flat tensors (singletons for unstructured ones), or None if all unstructured."""
    per = [(_units(np.shape(weights[k]), plan[k]) if plan else None) for k in names]
    if all(u is None for u in per):
        return None
    out, nxt = [], 0
    for k, u in zip(names, per, strict=True):
        u = np.arange(np.size(weights[k])) if u is None else u
        out.append(u + nxt)
        nxt += int(u.max()) + 1 if u.size else 0
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def cap_n_of_m(weights: np.ndarray, mask: np.ndarray, n: int, m: int) -> np.ndarray:
    """`mask` with at most the `n` largest alive |w| kept in every `m` consecutive input channels
    (Keras kernel [..., cin, cout], cin a multiple of m)."""
    w, mask = np.asarray(weights), np.asarray(mask, dtype=np.uint8)
    cin_axis = w.ndim - 2
    a = np.moveaxis(np.where(mask > 0, np.abs(w), -1.0), cin_axis, -1)
    groups = a.reshape(-1, m)
    keep = np.zeros_like(groups, dtype=np.uint8)
    np.put_along_axis(keep, np.argsort(-groups, axis=1, kind="stable")[:, :n], 1, axis=1)
    return np.moveaxis(keep.reshape(a.shape), -1, cin_axis) & mask


def _count(fraction: float, alive: int) -> int:
    # open_lth rounds the number pruned up, so a level never prunes less than asked.
    return min(alive, math.ceil(fraction * alive))


def prune_layerwise(
    weights: Mapping[str, np.ndarray], mask: Mapping[str, np.ndarray], fraction: float | Mapping[str, float],
    plan: Mapping[str, str] | None = None,
) -> Mask:
    """Prune `fraction` of each layer's surviving weights (a dict gives each layer its own rate);
    `plan` gives each layer's granularity (default unstructured)."""
    out = Mask()
    for name, w in weights.items():
        rate = fraction[name] if isinstance(fraction, Mapping) else fraction
        m = np.asarray(mask[name], dtype=np.uint8).ravel().copy()
        units = _units(np.shape(w), plan[name]) if plan else None
        m[_prune_smallest(np.ravel(w), m.astype(bool), _count(rate, int(m.sum())), units)] = 0
        out[name] = m.reshape(np.shape(w))
    return out


def prune_global(weights: Mapping[str, np.ndarray], mask: Mapping[str, np.ndarray], fraction: float,
                 min_density: float = 0.0, plan: Mapping[str, str] | None = None) -> Mask:
    """Prune `fraction` of all surviving weights by one magnitude ranking across the layers
    (`plan`: each layer's granularity, default unstructured).

    One ranking lets a layer whose kernel is small in magnitude (a conv before BatchNorm may be at
    any scale) lose every weight, which disconnects the network; each layer therefore keeps at
    least `min_density` of its weights (its largest survivors), so it may prune a little less."""
    names = list(weights)
    flat_w = np.concatenate([np.ravel(weights[k]) for k in names]) if names else np.zeros(0)
    flat_m = np.concatenate([np.ravel(mask[k]).astype(np.uint8) for k in names]) if names else np.zeros(0, np.uint8)
    flat_m = flat_m.copy()
    units = _flat_units(weights, names, plan)
    flat_m[_prune_smallest(flat_w, flat_m.astype(bool), _count(fraction, int(flat_m.sum())), units)] = 0
    out, start = Mask(), 0
    for k in names:
        n = int(np.size(weights[k]))
        m = flat_m[start:start + n].copy()
        floor = min(math.ceil(min_density * n), int(np.sum(mask[k])))
        if m.sum() < floor:
            units = _units(np.shape(weights[k]), plan[k]) if plan else None
            m[_largest(np.ravel(weights[k]), np.ravel(mask[k]).astype(bool), floor, units)] = 1
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
    granularity: str | Mapping[str, str] = UNSTRUCTURED,
) -> Mask:
    """One pruning level. `layer_rates` scales `fraction` for named layers (0 = never prune them);
    those layers are pruned on their own, the rest by `scope` (`min_density`: see prune_global).
    `granularity`: one for all tensors (tensors that cannot take it fall back to unstructured, see
    granularity_plan) or a plan, layer name -> granularity."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"prune fraction must be in [0, 1), got {fraction}")
    mask = Mask(mask) if mask is not None else Mask.ones_like(weights)
    plan = dict(granularity) if isinstance(granularity, Mapping) else granularity_plan(weights, granularity)[0]
    special = {k: fraction * r for k, r in (layer_rates or {}).items() if k in weights and r != 1.0}
    regular = {k: w for k, w in weights.items() if k not in special}
    if scope == "global":
        out = prune_global(regular, mask, fraction, min_density, plan)
    elif scope == "layer":
        out = prune_layerwise(regular, mask, fraction, plan)
    else:
        raise ValueError(f"scope must be 'global' or 'layer', got {scope!r}")
    out.update(prune_layerwise({k: weights[k] for k in special}, mask, special, plan))
    for k, g in plan.items():
        kind, n, m = parse_granularity(g)
        if kind == "nm" and k in out:
            out[k] = cap_n_of_m(weights[k], out[k], n, m)
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
