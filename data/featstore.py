"""Reading the feature cache written by `acdeploy data features` (numpy only; every stage reads
features through this module).

A cache directory holds:
- `features.npy`: float32 [N, n_mels, n_frames] log-mels, opened memory-mapped;
- `index.csv`: TAB-separated, header `filename scene_label label device identifier split`, one row
  per clip in the order of features.npy: train rows first, then evaluate rows;
- `info.json`: classes, seen_devices, feature_config, dataset path, hash, shape.
"""

from __future__ import annotations

import json
import mmap
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from acdeploy import artifacts
from acdeploy.errors import DataError

FEATURES = artifacts.FEATURES_NPY
INDEX = artifacts.FEATURES_INDEX
INFO = artifacts.FEATURES_INFO
INDEX_COLUMNS = ("filename", "scene_label", "label", "device", "identifier", "split")


@dataclass(frozen=True)
class FeatureSet:
    x: np.ndarray  # float32 [N, n_mels, n_frames]; memory-mapped (or a copy after a scattered subset)
    labels: np.ndarray  # int64 [N], index into classes
    devices: np.ndarray  # str [N]
    filenames: np.ndarray  # str [N]
    split: np.ndarray  # str [N]: "train" or "evaluate"
    identifiers: np.ndarray  # str [N]: city-location (for location-grouped validation splits)
    classes: list[str]
    seen_devices: list[str]
    feature_config: dict
    root: Path

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, which: str | np.ndarray) -> FeatureSet:
        """Rows of one split ("train"/"evaluate") or a boolean mask / index array.

        A contiguous selection (a whole split: the cache stores splits in blocks) stays
        memory-mapped; a scattered one is copied into memory.
        """
        if isinstance(which, str):
            if which not in ("train", "evaluate"):
                raise ValueError(f"split must be 'train' or 'evaluate', got {which!r}")
            which = self.split == which
        which = np.asarray(which)
        idx = np.flatnonzero(which) if which.dtype == bool else which.astype(np.int64)
        if which.dtype == bool and len(which) != len(self):
            raise ValueError(f"mask has {len(which)} entries, the feature set {len(self)}")
        if len(idx) and np.array_equal(idx, np.arange(idx[0], idx[0] + len(idx))):
            sel: slice | np.ndarray = slice(int(idx[0]), int(idx[0]) + len(idx))
        else:
            sel = idx
        return replace(
            self,
            x=self.x[sel],
            labels=self.labels[sel],
            devices=self.devices[sel],
            filenames=self.filenames[sel],
            split=self.split[sel],
            identifiers=self.identifiers[sel],
        )


def open_features(cache_dir: str | Path) -> FeatureSet:
    """Open a feature cache directory (features.npy memory-mapped)."""
    root = Path(cache_dir)
    for name in (FEATURES, INDEX, INFO):
        if not (root / name).is_file():
            raise DataError(f"{root / name}: not found; run `acdeploy data features DATASET` to make the cache")
    try:
        info = json.loads((root / INFO).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{root / INFO}: not valid JSON ({e})") from None
    try:
        x = np.load(root / FEATURES, mmap_mode="r")
    except (OSError, ValueError) as e:
        raise DataError(f"{root / FEATURES}: not a readable .npy array ({e})") from None
    cols = _read_index(root / INDEX)
    if x.ndim != 3 or x.shape[0] != len(cols["label"]):
        raise DataError(f"{root / FEATURES}: shape {x.shape} does not match {len(cols['label'])} rows of {INDEX}")
    return FeatureSet(
        x=x,
        labels=np.asarray(cols["label"], dtype=np.int64),
        devices=np.asarray(cols["device"], dtype=str),
        filenames=np.asarray(cols["filename"], dtype=str),
        split=np.asarray(cols["split"], dtype=str),
        identifiers=np.asarray(cols["identifier"], dtype=str),
        classes=list(info["classes"]),
        seen_devices=list(info["seen_devices"]),
        feature_config=dict(info["feature_config"]),
        root=root,
    )


def release_pages(x) -> None:
    """Unmap the pages of memory-mapped features `x` read so far (no-op for an in-memory array).

    They stay in the OS page cache, so reading them again is cheap, but they no longer count in this
    process's resident memory: a pass over a 100k-clip cache then holds a batch, not the whole file.
    """
    mm = getattr(x, "_mmap", None)  # np.memmap and its views share their parent's mmap
    if mm is not None and hasattr(mm, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        mm.madvise(mmap.MADV_DONTNEED)


def write_index_text(rows: list[tuple]) -> str:
    """index.csv text for rows of INDEX_COLUMNS (the writer's side of _read_index)."""
    lines = ["\t".join(INDEX_COLUMNS)] + ["\t".join(str(v) for v in r) for r in rows]
    return "\n".join(lines) + "\n"


def _read_index(path: Path) -> dict[str, list]:
    lines = path.read_text().splitlines()
    if not lines or tuple(lines[0].split("\t")) != INDEX_COLUMNS:
        raise DataError(f"{path}: line 1: expected the header {' '.join(INDEX_COLUMNS)}")
    cols: dict[str, list] = {c: [] for c in INDEX_COLUMNS}
    for lineno, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(INDEX_COLUMNS):
            raise DataError(f"{path}: line {lineno}: expected {len(INDEX_COLUMNS)} fields, got {len(fields)}")
        for c, v in zip(INDEX_COLUMNS, fields, strict=True):
            cols[c].append(v)
    try:
        cols["label"] = [int(v) for v in cols["label"]]
    except ValueError as e:
        raise DataError(f"{path}: a label is not an integer ({e})") from None
    return cols
