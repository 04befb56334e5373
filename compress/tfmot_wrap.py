"""TF-MOT plumbing: wrap a tf_keras model with `prune_low_magnitude`, install and hold our masks.

Why the extra machinery: TF-MOT recomputes a layer's mask from the live weights whenever its
schedule fires, after the optimizer has moved the masked entries, so a weight pruned at an
earlier level can come back. `FixedMaskCallback` ANDs the earlier levels' mask into TF-MOT's
mask variables and the kernels after every batch; a `FixedMask` schedule never fires at all.
Masks are keyed by the inner (unwrapped) layer name, so they apply to wrapped and plain models.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras
from tensorflow_model_optimization.python.core.sparsity.keras import prune_registry
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_schedule import (
    PruningSchedule,
)
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import (
    PruneLowMagnitude,
)

from acdeploy.compress.masks import Mask

_sparsity = tfmot.sparsity.keras


class FixedMask(PruningSchedule):
    """A schedule that never updates the mask: the installed mask stays as it is."""

    def __call__(self, step):
        return tf.constant(False), tf.constant(0.0)

    def get_config(self):
        return {"class_name": self.__class__.__name__, "config": {}}


def make_schedule(kind: str, initial: float, final: float, steps: int, ramp_fraction: float = 0.6):
    """A TF-MOT schedule for one level: `fixed`, or a ramp from `initial` to `final` sparsity."""
    if kind == "fixed" or final <= initial:
        return FixedMask()
    end = max(1, int(steps * ramp_fraction))
    freq = max(1, end // 10)
    if kind == "constant":
        return _sparsity.ConstantSparsity(final, begin_step=0, end_step=end, frequency=freq)
    if kind == "polynomial":
        return _sparsity.PolynomialDecay(initial, final, begin_step=0, end_step=end, frequency=freq)
    raise ValueError(f"unknown schedule {kind!r}")


def _inner(layer):
    return layer.layer if isinstance(layer, PruneLowMagnitude) else layer


def prunable_layers(model) -> list:
    """Inner layers holding a weight TF-MOT prunes (Conv/Dense kernels; not depthwise, BN, bias)."""
    out = []
    for layer in model.layers:
        inner = _inner(layer)
        if prune_registry.PruneRegistry.supports(inner) and prune_registry.PruneRegistry._weight_names(inner):
            out.append(inner)
    return out


def kernels(model) -> dict[str, np.ndarray]:
    """Prunable weights by layer name, in model order (the mask keys)."""
    out = {}
    for inner in prunable_layers(model):
        names = prune_registry.PruneRegistry._weight_names(inner)
        (w,) = [getattr(inner, n) for n in names]  # one prunable tensor per layer in our models
        out[inner.name] = w.numpy()
    return out


def wrap(model, schedules=None, m_by_n: tuple[int, int] | None = None):
    """Wrap every prunable layer with `prune_low_magnitude`; `schedules` is one schedule or a dict
    layer name -> schedule (default FixedMask). Weights are shared with `model`; recompile after."""
    names = {layer.name for layer in prunable_layers(model)}

    def schedule_for(name):
        if isinstance(schedules, Mapping):
            return schedules.get(name) or FixedMask()
        return schedules or FixedMask()

    def clone(layer):
        if layer.name not in names:
            return layer
        kw = {"sparsity_m_by_n": tuple(m_by_n)} if m_by_n else {}
        return _sparsity.prune_low_magnitude(layer, pruning_schedule=schedule_for(layer.name), **kw)

    return keras.models.clone_model(model, clone_function=clone)


def wrappers(pruned) -> dict[str, PruneLowMagnitude]:
    return {layer.layer.name: layer for layer in pruned.layers if isinstance(layer, PruneLowMagnitude)}


def install_mask(pruned, mask: Mapping[str, np.ndarray]) -> None:
    """Set TF-MOT's mask variables to `mask` and zero the masked kernel entries."""
    for name, layer in wrappers(pruned).items():
        if name not in mask:
            continue
        (w, m, _t), = layer.pruning_vars
        m.assign(np.asarray(mask[name], dtype=m.dtype.as_numpy_dtype).reshape(m.shape))
        w.assign(w * m)


def current_mask(pruned) -> Mask:
    """TF-MOT's mask variables as a Mask (what the schedule and our AND left)."""
    out = Mask()
    for name, layer in wrappers(pruned).items():
        (_w, m, _t), = layer.pruning_vars
        out[name] = m.numpy().astype(np.uint8)
    return out


def apply_masks(pruned) -> None:
    """Re-zero masked kernel entries (the optimizer moves them; TF-MOT re-zeroes only in forward)."""
    for layer in wrappers(pruned).values():
        layer.pruning_obj.weight_mask_op()


def strip(pruned):
    """The plain model with masked kernels (always strip before saving or converting)."""
    apply_masks(pruned)
    return _sparsity.strip_pruning(pruned)


class FixedMaskCallback(keras.callbacks.Callback):
    """After every batch, AND `mask` into TF-MOT's masks and the kernels: no pruned weight returns."""

    def __init__(self, pruned, mask: Mapping[str, np.ndarray]):
        super().__init__()
        self._pairs = []
        for name, layer in wrappers(pruned).items():
            if name in mask:
                (w, m, _t), = layer.pruning_vars
                self._pairs.append((w, m, tf.constant(np.asarray(mask[name]).reshape(m.shape), dtype=m.dtype)))

    def _enforce(self):
        for w, m, fixed in self._pairs:
            m.assign(m * fixed)
            w.assign(w * m)

    def on_train_batch_end(self, batch, logs=None):
        self._enforce()

    def on_train_end(self, logs=None):
        self._enforce()


def pruning_callbacks(pruned, fixed: Mapping[str, np.ndarray] | None) -> list:
    """What `fit` needs for a wrapped model: TF-MOT's step counter, then our mask guard."""
    cbs = [_sparsity.UpdatePruningStep()]
    if fixed is not None:
        cbs.append(FixedMaskCallback(pruned, fixed))
    return cbs


# -- weights by layer name: rewind points and checkpoints that fit wrapped and plain models --

_SEP = "::"


def layer_weights(model) -> dict[str, np.ndarray]:
    """All inner-layer weights (kernels, biases, BN statistics), without TF-MOT's masks/steps."""
    out = {}
    for layer in model.layers:
        for i, w in enumerate(_inner(layer).get_weights()):
            out[f"{_inner(layer).name}{_SEP}{i}"] = w
    return out


def set_layer_weights(model, weights: Mapping[str, np.ndarray], only: set[str] | None = None) -> None:
    """Restore `layer_weights` output into `model` (optionally only the named layers)."""
    for layer in model.layers:
        inner = _inner(layer)
        n = len(inner.get_weights())
        if not n or (only is not None and inner.name not in only):
            continue
        inner.set_weights([weights[f"{inner.name}{_SEP}{i}"] for i in range(n)])
