"""Keras-side complexity: parameters as deployed (BatchNorm folded) and MACs from layer shapes.

The deploy stage counts MACs on the int8 TFLite graph the way Vela does; this is the figure a
trainer sees before conversion. Counting (per inference, batch 1):
- Conv2D: out_h * out_w * out_c * k_h * k_w * in_c / groups;
- DepthwiseConv2D: out_h * out_w * out_c * k_h * k_w;
- Dense: in * out;
- MaxPool/AveragePool: output elements * pool area; GlobalAveragePooling: input elements.
Add, ReLU, BatchNorm (folded) and reshapes count nothing.
"""

from __future__ import annotations

import math


def leaf_layers(model):
    """Layers in order, looking through nested models and TF-MOT pruning wrappers."""
    for layer in model.layers:
        inner = getattr(layer, "layer", None)  # PruneLowMagnitude / QuantizeWrapper keep the real layer here
        if hasattr(layer, "layers") and not hasattr(layer, "kernel"):
            yield from leaf_layers(layer)
        elif inner is not None:
            yield layer, inner
        else:
            yield layer, layer


def _shape(t) -> tuple[int, ...]:
    return tuple(int(d) for d in t.shape[1:])


def layer_macs(wrapper, layer) -> int:
    kind = type(layer).__name__
    if kind in ("Conv2D", "DepthwiseConv2D", "Dense", "MaxPooling2D", "AveragePooling2D",
                "GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        out = _shape(wrapper.output)
        inp = _shape(wrapper.input)
    else:
        return 0
    if kind == "Conv2D":
        kh, kw = layer.kernel_size
        return math.prod(out) * kh * kw * inp[-1] // layer.groups
    if kind == "DepthwiseConv2D":
        kh, kw = layer.kernel_size
        return math.prod(out) * kh * kw
    if kind == "Dense":
        return math.prod(inp) // inp[-1] * inp[-1] * out[-1]
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return math.prod(out) * math.prod(layer.pool_size)
    return math.prod(inp)  # global pooling reads every input element once


def count_macs(model) -> int:
    return sum(layer_macs(w, lay) for w, lay in leaf_layers(model))


def deployed_params(model) -> int:
    """Weights + one bias per output channel of each Conv/Dense (BatchNorm folds into that bias)."""
    total = 0
    for _, layer in leaf_layers(model):
        kind = type(layer).__name__
        if kind in ("Conv2D", "DepthwiseConv2D", "Dense"):
            kernel = layer.depthwise_kernel if kind == "DepthwiseConv2D" else layer.kernel
            shape = [int(d) for d in kernel.shape]
            n_out = shape[2] * shape[3] if kind == "DepthwiseConv2D" else shape[-1]
            total += math.prod(shape) + n_out
    return total


def summary(model) -> dict:
    return {
        "params": deployed_params(model),
        "keras_params": int(model.count_params()),
        "trainable_params": int(sum(math.prod(w.shape) for w in model.trainable_weights)),
        "macs": count_macs(model),
    }
