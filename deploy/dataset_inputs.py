"""Dataset clips as model inputs for the deploy stage (eval, build test vectors), without TensorFlow:
the model's own feature settings and standardisation (model_info.json) win over the config."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from acdeploy.errors import ConfigError, DataError
from acdeploy.model_info import ModelInfo


def model_features(model: Path, data: Path | str | None, cfg, info: ModelInfo | None):
    """The FeatureSet of `data` computed exactly as for the model's training (extracted on a cache miss)."""
    from acdeploy.data.config import trained_features
    from acdeploy.data.featstore import open_features
    from acdeploy.data.features import ensure_features

    data_dir = str(data) if data else (cfg.data.path or (info.dataset if info is not None else None))
    if not data_dir:
        raise ConfigError("no dataset: give --data DATASET (or data.path in the config)")
    feat_cfg = (trained_features(info.feature_config, f"{model} model_info") if info is not None else None) or cfg.features
    return open_features(ensure_features(data_dir, feat_cfg, seconds=cfg.data.seconds))


def vector_inputs(graph, features, info: ModelInfo | None, n: int) -> np.ndarray:
    """`n` evaluate-split clips (one per class, in class order) standardised and quantized as the
    model's input tensor expects: int8 for an int8 model, float for a float-input one."""
    from acdeploy.deploy.evaluate import standardisation

    part = features.subset("evaluate")
    if len(part.labels) == 0:
        raise DataError(f"{features.root}: the evaluate split has no clips for test vectors")
    picks = []
    for c in range(len(part.classes)):
        idx = np.flatnonzero(part.labels == c)
        if len(idx):
            picks.append(int(idx[0]))
        if len(picks) == n:
            break
    mean, std = standardisation(info)
    x = (np.asarray(part.x[picks], dtype=np.float32) - mean) / std
    tin = graph.tensor(graph.inputs[0])
    if int(np.prod(x.shape[1:])) != int(np.prod(tin.shape[1:])):
        raise DataError(f"{features.root}: features of shape {x.shape[1:]} do not fit the model input {tuple(tin.shape[1:])}")
    x = x.reshape((len(x), *tin.shape[1:]))
    if tin.dtype == "float32":
        return x
    scale, zp = float(tin.quant.scale[0]), int(tin.quant.zero_point[0])
    return np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8)
