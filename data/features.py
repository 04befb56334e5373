"""Log-mel feature extraction, in parallel worker processes, cached on disk.

The exact computation per clip (the firmware front end must match it):

    y = mono float32 audio at cfg.sample_rate  (channels averaged; librosa.resample(res_type=
        "soxr_hq") when the file's rate differs; cut to n = round(data.seconds * cfg.sample_rate)
        samples, and zero-padded to n (or refused) when shorter, as cfg.short_clips says)
    mel = librosa.feature.melspectrogram(
        y=y, sr=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
        win_length=cfg.win_length, window=cfg.window, center=True, pad_mode="constant",
        power=2.0, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax, htk=False, norm="slaney")
    features = np.log(mel + cfg.log_offset).astype(np.float32)   # [n_mels, 1 + n // hop_length]

`logmel` computes exactly that call's two steps (power STFT, then the Slaney mel filterbank
librosa.filters.mel) with a matrix product instead of librosa's slower einsum; the tests check
it against the direct call.

Defaults are the DCASE 2022 baseline's: 44.1 kHz, n_fft 2048, 40 ms Hamming window, 20 ms hop,
40 mels, giving 40 x 51 per one-second clip.

The cache lives in CACHE/<hash>/ (default CACHE = DATASET/.acdeploy/features), where the hash
covers the dataset's identity (meta and fold files, every clip's name, size and mtime) and the
feature settings; see acdeploy.data.featstore for its files. It is built in CACHE/<hash>.partial/
and renamed into place when complete, so a cache dir is always whole. Extraction at DCASE scale
(230k clips) takes a while: after every chunk of clips the features written so far are synced and
`progress.json` records how many chunks are done, so a killed run resumes after the last recorded
chunk instead of starting over. A run that fails on bad input removes its partial dir (fixing the
input changes the hash anyway). Rows are written with plain file writes, not through a memory
map, so the extracting process holds one chunk at a time whatever the clip count.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import librosa
import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from acdeploy.config import keyed_dict
from acdeploy.data.config import DataConfig, FeatureConfig
from acdeploy.data.dataset import DatasetIndex, clip_samples, fit_length, load_audio, read_dataset
from acdeploy.data.featstore import FEATURES, INDEX, INFO, write_index_text
from acdeploy.data.parallel import ordered_map, worker_count
from acdeploy.errors import DataError
from acdeploy.fileio import write_json

CACHE_FORMAT = 1  # bump when the cache layout or the computation changes
CHUNK = 64  # clips per worker task, and per progress record
PARTIAL = ".partial"  # suffix of the cache dir being built
PROGRESS = "progress.json"  # in the partial dir: chunks done so far


def feature_settings(cfg: FeatureConfig) -> dict:
    """The settings that change the features (not `workers`): they travel with every model."""
    d = dataclasses.asdict(cfg)
    d.pop("workers")
    return d


def clip_length(cfg: FeatureConfig, seconds: float | None) -> int:
    """Samples per clip at the feature rate: data.seconds (its default when None) x sample rate."""
    return int(round((DataConfig().seconds if seconds is None else seconds) * cfg.sample_rate))


def n_frames(cfg: FeatureConfig, n_samples: int) -> int:
    return 1 + n_samples // cfg.hop_length  # center=True


@functools.lru_cache(maxsize=8)
def _mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=False, norm="slaney")


def logmel(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """float32 [n_mels, frames] log-mel of mono audio `y` at cfg.sample_rate (see module doc).

    The two steps of librosa.feature.melspectrogram (power STFT, then the mel filterbank) with
    the filterbank applied as a BLAS matrix product: the same numbers up to float rounding, ~8x
    faster than librosa's einsum, which matters at 230k clips.
    """
    spec = np.abs(librosa.stft(
        y, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
        window=cfg.window, center=True, pad_mode="constant",
    )) ** 2.0
    mel = _mel_basis(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax) @ spec
    return np.log(mel + cfg.log_offset).astype(np.float32)


def _extract_chunk(job: tuple[Path, tuple[str, ...], FeatureConfig, int]) -> tuple[np.ndarray, list[str], list[str]]:
    """Log-mels of one chunk of clips, and the names of the clips that were padded and cut."""
    root, names, cfg, n_samples = job
    out, padded, cut = [], [], []
    # One BLAS thread per process: the parallelism is over clips, and a multi-threaded BLAS on
    # these tiny products spins for ~10x the work on a busy machine.
    with threadpool_limits(limits=1, user_api="blas"):
        for name in names:
            y = load_audio(root / name, cfg.sample_rate)
            if len(y) != n_samples:
                (padded if len(y) < n_samples else cut).append(name)
            out.append(logmel(fit_length(y, n_samples, cfg.short_clips, root / name), cfg))
    return np.stack(out), padded, cut


def cache_key(index: DatasetIndex, cfg: FeatureConfig, n_samples: int, first_samples: int) -> str:
    """The cache dir name: a hash of the dataset's identity and the settings that change the features.

    Caches made before the clip length came from the config used the first train clip's length
    and padded shorter clips; where that is what the config asks for, the features are the same,
    so the key stays the one those caches have.
    """
    settings = keyed_dict(cfg)
    settings.pop("workers")
    if n_samples != first_samples:
        settings["clip_samples"] = n_samples
    blob = json.dumps({"format": CACHE_FORMAT, "dataset": index.identity(), "features": settings}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def default_cache_root(dataset_dir: str | Path) -> Path:
    return Path(dataset_dir) / ".acdeploy" / "features"


def extract_features(
    dataset_dir: str | Path,
    cfg: FeatureConfig,
    cache: str | Path | None = None,
    progress: bool = True,
    *,
    seconds: float | None = None,
) -> tuple[Path, bool]:
    """Make sure the cache for (dataset, cfg, clip length `seconds` = data.seconds) exists; returns
    (cache dir, True if it was a hit). Clips of another length are reported on stderr."""
    index = read_dataset(dataset_dir)
    n_samples = clip_length(cfg, seconds)
    first = index.split.index("train") if "train" in index.split else 0
    key = cache_key(index, cfg, n_samples, clip_samples(index.root / index.filenames[first], cfg.sample_rate))
    out = Path(cache if cache is not None else default_cache_root(dataset_dir)) / key
    if (out / INFO).is_file():
        return out, True
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # e.g. a read-only copy of a real dataset
        raise DataError(f"{out.parent}: cannot create the feature cache ({e.strerror}); pass --cache DIR") from None
    with _locked(out.parent):  # another process building this cache: wait for it, then it is a hit
        if (out / INFO).is_file():
            return out, True
        padded, cut = _build(out, index, cfg, key, n_samples, progress)
    seconds_text = f"{n_samples / cfg.sample_rate:g} s (data.seconds)"
    for (count, example), what in ((padded, "shorter than {} were zero-padded"), (cut, "longer than {} were cut")):
        if count:
            print(f"{index.root}: warning: {count} clip(s) {what.format(seconds_text)}, "
                  f"e.g. {example}", file=sys.stderr)
    return out, False


@contextlib.contextmanager
def _locked(directory: Path):
    """An exclusive lock on `directory` (flock), where the platform has one."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no concurrent builds expected
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _data_offset(path: Path, shape: tuple) -> int:
    """Byte offset of the float32 array data in the .npy file `path` (the header comes first)."""
    return path.stat().st_size - int(np.prod(shape)) * 4


def _resume_point(partial: Path, key: str, shape: tuple, n_chunks: int) -> dict | None:
    """The progress record of an interrupted build of this cache, or None to start over."""
    try:
        done = json.loads((partial / PROGRESS).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    ok = (done.get("hash") == key and tuple(done.get("shape", ())) == shape and done.get("chunk") == CHUNK
          and 0 <= done.get("chunks_done", -1) <= n_chunks and (partial / FEATURES).is_file())
    return done if ok else None


def _build(out: Path, index: DatasetIndex, cfg: FeatureConfig, key: str, n_samples: int, progress: bool):
    """Extract every clip into OUT.partial/ (resuming it when a killed run left one), then rename it
    to `out`. Returns ((count, first name) of padded clips, the same of cut clips)."""
    shape = (len(index), cfg.n_mels, n_frames(cfg, n_samples))
    chunks = [index.filenames[i:i + CHUNK] for i in range(0, len(index), CHUNK)]
    partial = out.with_name(out.name + PARTIAL)
    state = _resume_point(partial, key, shape, len(chunks))
    if state is None:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        with open(partial / FEATURES, "wb") as f:  # the .npy header, then the rows' space (sparse)
            np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": shape})
            f.truncate(f.tell() + int(np.prod(shape)) * 4)
        state = {"hash": key, "shape": list(shape), "chunk": CHUNK, "chunks_done": 0, "padded": [0, ""], "cut": [0, ""]}
    elif state["chunks_done"]:
        print(f"{out}: resuming: {min(state['chunks_done'] * CHUNK, len(index))} of {len(index)} clips "
              "already extracted", file=sys.stderr)
    first = state["chunks_done"]
    jobs = [(index.root, names, cfg, n_samples) for names in chunks[first:]]
    row_bytes = int(np.prod(shape[1:])) * 4
    # librosa's first call costs seconds (lazy imports, JIT); pay it once here so forked workers
    # inherit it instead of each paying it again.
    logmel(np.zeros(n_samples, dtype=np.float32), cfg)
    try:
        with open(partial / FEATURES, "r+b") as f, \
                tqdm(total=len(index), initial=min(first * CHUNK, len(index)), desc="features", unit="clip",
                     disable=not progress, leave=False) as bar:
            f.seek(_data_offset(partial / FEATURES, shape) + first * CHUNK * row_bytes)
            for k, (block, block_padded, block_cut) in enumerate(
                    ordered_map(_extract_chunk, jobs, worker_count(cfg.workers)), start=first):
                f.write(np.ascontiguousarray(block, dtype="<f4").tobytes())
                f.flush()
                os.fsync(f.fileno())  # the rows are on disk before the record says so
                for name, names in (("padded", block_padded), ("cut", block_cut)):
                    if names:
                        state[name] = [state[name][0] + len(names), state[name][1] or names[0]]
                state["chunks_done"] = k + 1
                write_json(partial / PROGRESS, state)
                bar.update(len(block))
        rows = zip(index.filenames, index.scene_labels, index.labels.tolist(), index.devices,
                   index.identifiers, index.split, strict=True)
        (partial / INDEX).write_text(write_index_text(list(rows)))
        info = {
            "classes": list(index.classes),
            "seen_devices": list(index.seen_devices),
            "feature_config": feature_settings(cfg),
            "dataset": str(index.root.resolve()),
            "hash": key,
            "shape": list(shape),
            "clip_samples": n_samples,
            "clips_padded": state["padded"][0],
            "clips_cut": state["cut"][0],
            "counts": {s: index.count(split=s) for s in ("train", "evaluate")},
            "format": CACHE_FORMAT,
        }
        (partial / INFO).write_text(json.dumps(info, indent=2) + "\n")  # last: its presence marks a complete cache
        (partial / PROGRESS).unlink()
        os.replace(partial, out)
    except Exception:
        # Bad input (an unreadable clip, a full disk): fixing it changes the hash, so this partial
        # cache could never be resumed. A kill or Ctrl-C keeps it for the rerun.
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return tuple(state["padded"]), tuple(state["cut"])


def ensure_features(dataset_dir: str | Path, feature_cfg: FeatureConfig, cache: str | Path | None = None,
                    progress: bool = True, *, seconds: float | None = None) -> Path:
    """The cache dir for (dataset, feature config, data.seconds), extracting the features on a miss."""
    return extract_features(dataset_dir, feature_cfg, cache, progress, seconds=seconds)[0]
