"""Reader for DCASE-layout datasets: TAU Urban Acoustic Scenes 2020 / 2022 Mobile, the built-in
synthetic dataset, and any other dataset in that layout (any classes, sample rate, clip length).

Layout: `meta.csv` (TAB-separated, header `filename scene_label identifier source_label`),
`evaluation_setup/fold1_train.csv` and `fold1_evaluate.csv` (`filename scene_label`),
optionally `fold1_test.csv` (`filename` only), and the audio files they name. File names are
`scene-city-location-segment[-subsegment]-device.wav`: the device is always the last
dash-separated token (2022 adds a subsegment token). meta.csv supplies scene, identifier and
device; where a file is missing from meta.csv they come from the fold file and the file name.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from acdeploy import artifacts
from acdeploy.errors import DataError

META = artifacts.META_CSV
FOLDS = {"train": "evaluation_setup/fold1_train.csv", "evaluate": "evaluation_setup/fold1_evaluate.csv"}
TEST_FOLD = "evaluation_setup/fold1_test.csv"
META_COLUMNS = ("filename", "scene_label", "identifier", "source_label")


@dataclass(frozen=True)
class DatasetIndex:
    """The labelled clips of one dataset: train fold rows first, then evaluate rows."""

    root: Path
    filenames: tuple[str, ...]  # as written in the fold files, relative to root
    scene_labels: tuple[str, ...]
    labels: np.ndarray  # int64 index into classes
    classes: tuple[str, ...]  # sorted
    devices: tuple[str, ...]
    identifiers: tuple[str, ...]  # city-location
    split: tuple[str, ...]  # "train" or "evaluate"
    seen_devices: tuple[str, ...]  # devices present in the train fold, sorted

    def __len__(self) -> int:
        return len(self.filenames)

    def count(self, split: str | None = None, device: str | None = None, label: str | None = None) -> int:
        return sum(
            (split is None or s == split) and (device is None or d == device) and (label is None or c == label)
            for s, d, c in zip(self.split, self.devices, self.scene_labels, strict=True)
        )

    def identity(self) -> str:
        """A hash of what the features depend on: the tables and each clip's size and mtime."""
        h = hashlib.sha256()
        for name in (META, *FOLDS.values()):
            h.update((self.root / name).read_bytes())
        for name in self.filenames:
            st = (self.root / name).stat()
            h.update(f"{name}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
        return h.hexdigest()


def device_of(filename: str) -> str:
    return Path(filename).stem.split("-")[-1]


def identifier_of(filename: str) -> str:
    tokens = Path(filename).stem.split("-")
    return "-".join(tokens[1:3]) if len(tokens) >= 4 else ""


def read_table(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a TAB-separated file with a header, as (line number, row); checks the columns."""
    if not path.is_file():
        raise DataError(f"{path}: file not found (a DCASE-layout dataset needs it)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read ({e})") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise DataError(f"{path}: empty; expected a TAB-separated header with {', '.join(required)}")
    header = [h.strip() for h in lines[0].split("\t")]
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(
            f"{path}: line 1: missing column(s) {', '.join(missing)} "
            f"(header is {' | '.join(header)}; DCASE files are TAB-separated)"
        )
    rows = []
    for lineno, fields in enumerate(csv.reader(lines[1:], delimiter="\t"), start=2):
        if not fields or not any(f.strip() for f in fields):
            continue
        if len(fields) < len(header):
            raise DataError(f"{path}: line {lineno}: expected {len(header)} TAB-separated fields, got {len(fields)}")
        rows.append((lineno, {h: f.strip() for h, f in zip(header, fields, strict=False)}))
    return rows


class _Files:
    """Which files exist, and that every named path stays inside the dataset directory.

    One directory listing and one resolve per folder (a stat or resolve per clip is slow on 230k
    files); only the file itself is resolved when the listing shows it is a symlink.
    """

    def __init__(self, root: Path):
        self.root = root
        self.real_root = root.resolve()
        self.folders: dict[Path, tuple[Path, set[str], set[str]]] = {}

    def _folder(self, parent: Path) -> tuple[Path, set[str], set[str]]:
        if parent not in self.folders:
            files, links = set(), set()
            try:
                for e in os.scandir(parent):
                    if e.is_file():
                        files.add(e.name)
                    if e.is_symlink():
                        links.add(e.name)
            except OSError:
                pass
            self.folders[parent] = (parent.resolve(), files, links)
        return self.folders[parent]

    def check(self, name: str, table: Path, lineno: int) -> bool:
        """True if `name` (relative to the root) is a file; DataError if it leads outside the root."""
        p = self.root / name  # an absolute `name` replaces the root here, and is caught below
        real_parent, files, links = self._folder(p.parent)
        real = Path(os.path.realpath(p)) if p.name in links or p.name in ("", ".", "..") else real_parent / p.name
        if not real.is_relative_to(self.real_root):
            raise DataError(f"{table}: line {lineno}: path {name} leads outside the dataset directory "
                            f"{self.root} (to {real}); paths must be relative to it")
        return p.name in files


def read_dataset(root: str | Path) -> DatasetIndex:
    """Index a DCASE-layout dataset; every problem is a DataError naming the file (and line)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: dataset directory not found")
    files = _Files(root)
    meta = {}
    for lineno, row in read_table(root / META, META_COLUMNS):
        files.check(row["filename"], root / META, lineno)
        meta[row["filename"]] = row
    rows: list[tuple[str, str, str, str, str]] = []
    for split, rel in FOLDS.items():
        fold = root / rel
        for lineno, row in read_table(fold, ("filename",)):
            name = row["filename"]
            if not files.check(name, fold, lineno):
                raise DataError(f"{fold}: line {lineno}: audio file {name} does not exist")
            m = meta.get(name, {})
            label = row.get("scene_label") or m.get("scene_label")
            if not label:
                raise DataError(f"{fold}: line {lineno}: no scene_label for {name} (not in the fold file nor in {META})")
            device = m.get("source_label") or device_of(name)
            rows.append((name, label, device, m.get("identifier") or identifier_of(name), split))
    if (root / TEST_FOLD).is_file():
        for lineno, row in read_table(root / TEST_FOLD, ("filename",)):
            if not files.check(row["filename"], root / TEST_FOLD, lineno):
                raise DataError(f"{root / TEST_FOLD}: line {lineno}: audio file {row['filename']} does not exist")
    if not rows:
        raise DataError(f"{root}: the fold files list no clips")
    names, scenes, devices, identifiers, splits = (tuple(c) for c in zip(*rows, strict=True))
    classes = tuple(sorted(set(scenes)))
    lookup = {c: i for i, c in enumerate(classes)}
    return DatasetIndex(
        root=root,
        filenames=names,
        scene_labels=scenes,
        labels=np.array([lookup[s] for s in scenes], dtype=np.int64),
        classes=classes,
        devices=devices,
        identifiers=identifiers,
        split=splits,
        seen_devices=tuple(sorted({d for d, s in zip(devices, splits, strict=True) if s == "train"})),
    )


def clip_samples(path: Path, sample_rate: int) -> int:
    """The clip's length in samples at `sample_rate` (from the header only)."""
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError) as e:
        raise DataError(f"{path}: not a readable audio file ({_reason(e)})") from None
    if info.frames == 0:
        raise DataError(f"{path}: empty audio file (no samples)")
    return int(round(info.frames * sample_rate / info.samplerate))


def load_audio(path: Path, sample_rate: int, n_samples: int | None = None) -> np.ndarray:
    """Mono float32 audio at `sample_rate` (soxr resampling when the file differs), zero-padded or
    cut to `n_samples` so every clip of a dataset gives the same feature shape."""
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError) as e:
        raise DataError(f"{path}: not a readable audio file ({_reason(e)})") from None
    if data.shape[0] == 0:
        raise DataError(f"{path}: empty audio file (no samples)")
    if not np.all(np.isfinite(data)):
        raise DataError(f"{path}: contains NaN or infinite samples")
    y = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if sr != sample_rate:
        import librosa  # only when needed: its import is slow

        y = librosa.resample(y, orig_sr=sr, target_sr=sample_rate, res_type="soxr_hq").astype(np.float32)
    if n_samples is not None:
        y = fit_length(y, n_samples, "pad", path)
    return np.ascontiguousarray(y, dtype=np.float32)


def fit_length(y: np.ndarray, n_samples: int, short_clips: str, path: Path) -> np.ndarray:
    """`y` zero-padded (short_clips="pad") or refused ("error") when shorter than `n_samples`,
    cut when longer, so every clip of a dataset gives the same feature shape."""
    if len(y) < n_samples:
        if short_clips == "error":
            raise DataError(f"{path}: {len(y)} samples, shorter than the configured clip length of {n_samples} "
                            f"(data.seconds); set features.short_clips=pad to zero-pad such clips")
        return np.pad(y, (0, n_samples - len(y)))
    return y[:n_samples]


def _reason(e: Exception) -> str:
    text = getattr(e, "error_string", None) or str(e)
    return text.splitlines()[0] if text else type(e).__name__
