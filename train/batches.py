"""The training input pipeline: validation split by location, scalar standardisation, and
seeded, augmented batches streamed from the memory-mapped feature cache into tf.data.

Augmentation (data/augment.py) runs here, on raw log-mels before standardisation (gain and
device EQ are offsets in the log domain), so the teacher and the student see the same batch.
Data order and augmentation of epoch e depend only on (seed, e): a resumed run replays exactly
the batches the uninterrupted run would have seen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np

from acdeploy.data.featstore import release_pages
from acdeploy.errors import ConfigError, DataError

RELEASE_EVERY = 64  # batches between unmapping the feature rows read (bounded memory at any clip count)


@dataclass(frozen=True)
class Standardizer:
    """x -> (x - mean) / std with one scalar mean and std over the training features.

    A scalar (not per band) so the firmware applies it with one multiply-add, or folds it into the
    input quantisation; it is saved in model_info.json.
    """

    mean: float
    std: float

    @classmethod
    def fit(cls, x, indices: np.ndarray, chunk: int = 1024) -> Standardizer:
        total, sq, n = 0.0, 0.0, 0
        for start in range(0, len(indices), chunk):
            block = np.asarray(x[np.sort(indices[start:start + chunk])], dtype=np.float64)
            release_pages(x)
            total += block.sum()
            sq += np.square(block).sum()
            n += block.size
        if n == 0:
            raise DataError("no training features to standardise")
        mean = total / n
        std = math.sqrt(max(sq / n - mean * mean, 0.0))
        return cls(float(mean), float(std if std > 1e-8 else 1.0))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, dtype=np.float32) - np.float32(self.mean)) / np.float32(self.std)).astype(np.float32)

    def to_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std}


def identifiers(filenames) -> np.ndarray:
    """DCASE recording location 'city-location' from 'scene-city-location-segment[-sub]-device.wav'."""
    out = []
    for f in filenames:
        parts = PurePosixPath(str(f).replace("\\", "/")).stem.split("-")
        out.append("-".join(parts[1:3]) if len(parts) >= 4 else str(f))
    return np.asarray(out)


def training_split(features, fraction: float, seed: int):
    """(train_idx, val_idx) of a feature set's rows by validation_split, grouped by recording
    location: meta.csv's identifier when the feature set carries it, else parsed from file names.
    Dense training and every LTH level must hold out the same clips."""
    ids = getattr(features, "identifiers", None)
    ids = identifiers(features.filenames) if ids is None else np.asarray(ids)
    return validation_split(features.labels, ids, fraction, seed)


def validation_split(labels: np.ndarray, ids: np.ndarray, fraction: float, seed: int):
    """(train_idx, val_idx): per class, a `fraction` of its locations go to validation, so no
    location is on both sides (the DCASE fold convention). Classes with a single location keep it
    in training; if that leaves validation empty, clips are split per class instead."""
    rng = np.random.default_rng([seed, 7919])
    val = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        members = labels == c
        locs = np.unique(ids[members])
        if len(locs) < 2:
            continue
        n_val = min(len(locs) - 1, max(1, int(round(fraction * len(locs)))))
        val |= members & np.isin(ids, rng.permutation(locs)[:n_val])
    if not val.any():
        for c in np.unique(labels):
            idx = rng.permutation(np.flatnonzero(labels == c))
            val[idx[: int(round(fraction * len(idx)))]] = True
    if val.all() or not val.any():
        raise DataError(f"cannot hold out a validation set from {len(labels)} training clips; add clips")
    return np.flatnonzero(~val), np.flatnonzero(val)


def with_channel(x: np.ndarray) -> np.ndarray:
    return x[..., None]


class Batches:
    """Seeded, augmented training batches (x [B, n_mels, n_frames, 1], soft labels [B, C]).

    `profiles` are the device profiles spectrum correction applies (spectrum_correction.
    training_profiles over the same training rows); required when augment_cfg switches it on.
    """

    def __init__(self, x, labels, devices, indices, n_classes, batch_size, standardizer,
                 augment_cfg=None, seed: int = 0, profiles: dict | None = None):
        self.x, self.labels, self.devices = x, np.asarray(labels), np.asarray(devices)
        self.indices = np.asarray(indices)
        self.n_classes, self.batch_size = int(n_classes), int(batch_size)
        self.standardizer, self.augment_cfg, self.seed = standardizer, augment_cfg, int(seed)
        self.profiles = profiles
        if augment_cfg is not None and augment_cfg.spectrum_correction and profiles is None:
            raise ConfigError("augment.spectrum_correction: this training loop computes no device profiles; "
                              "set augment.spectrum_correction=false")

    @property
    def steps(self) -> int:
        return math.ceil(len(self.indices) / self.batch_size)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (int(self.x.shape[1]), int(self.x.shape[2]), 1)

    def epoch(self, epoch: int):
        """Yield the batches of `epoch` (0-based); the same (seed, epoch) gives the same batches."""
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(self.indices)
        eye = np.eye(self.n_classes, dtype=np.float32)
        for n, start in enumerate(range(0, len(order), self.batch_size)):
            idx = order[start:start + self.batch_size]
            rows = np.argsort(idx)  # memmaps read fastest in file order; keep the shuffled pairing
            xb = np.empty((len(idx),) + tuple(self.x.shape[1:]), dtype=np.float32)
            xb[rows] = self.x[idx[rows]]
            if n % RELEASE_EVERY == RELEASE_EVERY - 1:
                release_pages(self.x)
            yb = eye[self.labels[idx]]
            if self.augment_cfg is not None:
                from acdeploy.data.augment import augment_batch

                xb, yb = augment_batch(xb, yb, self.devices[idx], self.augment_cfg, rng, self.profiles)
            yield with_channel(self.standardizer(xb)), np.asarray(yb, dtype=np.float32)

    def dataset(self, epoch: int):
        import tensorflow as tf

        h, w, _ = self.input_shape
        spec = (tf.TensorSpec((None, h, w, 1), tf.float32), tf.TensorSpec((None, self.n_classes), tf.float32))
        ds = tf.data.Dataset.from_generator(lambda: self.epoch(epoch), output_signature=spec).prefetch(2)
        # Multi-worker training: every worker makes the same global batches and keeps its slice of
        # each (DATA sharding after Keras splits the batch), so the batches are those of a one-process run.
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return ds.with_options(options)


def iterate_standardised(x, indices: np.ndarray, standardizer: Standardizer, batch_size: int = 512):
    """Clean (unaugmented) standardised inputs in index order, for validation and evaluation."""
    for start in range(0, len(indices), batch_size):
        idx = indices[start:start + batch_size]
        xb = standardizer(x[idx])
        release_pages(x)
        yield with_channel(xb)
