"""Spectrum correction as augmentation (Hu et al., DCASE 2020 Task 1; the Acoustic Lottery group).

DCASE training sets hold *paired* recordings: the same segment recorded on the reference device
(a) and on device X, with file names equal up to the last dash-separated (device) token. From
those pairs we estimate, per mel band, how device X colours the sound relative to device a (its
"profile"), and during training turn reference-device clips into simulated device-X clips by
applying that profile.

Units. The features are ln(mel power + log_offset) (data/features.py), so a profile is the
natural log of a mel-power ratio X / a, and adding it to a clip's log-mel multiplies the clip's mel
power by exactly that ratio (up to the 1e-6 offset term, far below any real band's power). A
magnitude ratio r is a power ratio r^2, so "multiply the magnitudes by r" and "add ln(r^2)" are
the same operation here.

Only pairs inside the rows given (by default the train split; the trainer passes the training
rows without its validation hold-out) are used, so no validation or evaluate clip shapes the
augmentation.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import numpy as np

from acdeploy.errors import DataError

DB_PER_LOG = float(10.0 / np.log(10.0))  # natural-log power units -> dB


def pair_key(filename: str) -> tuple[str, str]:
    """(segment key, device) of a DCASE file name: 'audio/bus-lisbon-1-10-b.wav' -> ('bus-lisbon-1-10', 'b')."""
    stem = PurePosixPath(str(filename).replace("\\", "/")).stem
    key, _, device = stem.rpartition("-")
    return key, device


def paired_rows(features, reference: str = "a", indices=None) -> dict[str, np.ndarray]:
    """{device: int array [n_pairs, 2] of (reference row, device row)} over `indices` (default:
    the train split's rows). Devices without a reference twin among those rows are absent."""
    if indices is None:
        indices = np.flatnonzero(np.asarray(features.split) == "train")
    indices = np.asarray(indices, dtype=np.int64)
    names = np.asarray(features.filenames)[indices]
    devices = np.asarray(features.devices)[indices]
    keys = [pair_key(n)[0] for n in names]
    ref_row = {k: int(i) for k, i, d in zip(keys, indices, devices, strict=True) if d == reference}
    pairs: dict[str, list[tuple[int, int]]] = {}
    for k, i, d in zip(keys, indices, devices, strict=True):
        if d != reference and k in ref_row:
            pairs.setdefault(str(d), []).append((ref_row[k], int(i)))
    return {d: np.asarray(p, dtype=np.int64) for d, p in sorted(pairs.items())}


def device_profiles(features, reference: str = "a", indices=None, chunk: int = 512) -> dict[str, np.ndarray]:
    """{device: float32 [n_mels]}: the mean log mel-power ratio device / reference over the paired
    clips among `indices` (default: the train split), averaged over time frames and then pairs.

    Averaged in the log domain (the mean of x_X - x_a), not as a mean of linear ratios as Hu et al.
    did on STFT bins: a per-frame ratio is heavy-tailed (a quiet reference frame in a band gives a
    huge ratio), so a linear mean is ruled by a few frames and biased upwards (Jensen), while the
    log mean is the geometric mean: robust, symmetric (profile a/X = -profile X/a), and exactly the
    quantity that is added to the features. For a purely linear device all three agree.
    Reads the (memory-mapped) features in chunks of rows, so the full DCASE set never loads whole.
    """
    out = {}
    for device, pairs in paired_rows(features, reference, indices).items():
        total = np.zeros(features.x.shape[1], dtype=np.float64)
        for start in range(0, len(pairs), chunk):
            ref, dev = pairs[start:start + chunk].T
            total += (_mean_over_time(features.x, dev) - _mean_over_time(features.x, ref)).sum(axis=0)
        out[device] = (total / len(pairs)).astype(np.float32)
    return out


def training_profiles(features, indices, reference: str, dataset) -> dict[str, np.ndarray]:
    """device_profiles over the training rows, or a one-line DataError when nothing is paired."""
    profiles = device_profiles(features, reference, indices)
    if not profiles:
        raise DataError(f"{dataset}: no paired recordings (one segment on device '{reference}' and on another "
                        "device) in the training rows, which augment.spectrum_correction needs; "
                        "set augment.spectrum_correction=false")
    return profiles


def _mean_over_time(x, rows: np.ndarray) -> np.ndarray:
    """[len(rows), n_mels] time-averaged features, read in file order (fast on a memmap)."""
    order = np.argsort(rows)
    means = np.empty((len(rows), x.shape[1]), dtype=np.float64)
    means[order] = np.asarray(x[rows[order]], dtype=np.float64).mean(axis=2)
    return means


def apply(x: np.ndarray, devices: np.ndarray, profiles: dict[str, np.ndarray], rng: np.random.Generator,
          p: float, min_scale: float = 0.5, reference: str = "a") -> tuple[np.ndarray, np.ndarray]:
    """Simulate paired devices on reference-device clips: with probability p each such clip gets
    one device's profile (chosen uniformly), times a factor uniform in [min_scale, 1] so the
    model also sees devices in between a and X, added to every frame.

    Returns (x, devices) as new arrays; a converted clip's device entry names the simulated device,
    so later device-wise augmentations (device EQ) treat it as that device, not as a clean
    reference clip. No random numbers are drawn when `profiles` is empty.
    """
    out = np.array(x, dtype=np.float32, copy=True)
    devs = np.array(devices, dtype=object, copy=True)
    names = sorted(profiles)
    if not names:
        return out, devs.astype(str)
    rows = np.flatnonzero((np.asarray(devices) == reference) & (rng.random(len(x)) < p))
    if len(rows):
        pick = rng.integers(0, len(names), size=len(rows))
        scale = rng.uniform(min_scale, 1.0, size=len(rows))
        table = np.stack([np.asarray(profiles[n], dtype=np.float64) for n in names])
        out[rows] += (scale[:, None] * table[pick])[:, :, None].astype(np.float32)
        devs[rows] = np.asarray(names, dtype=object)[pick]
    return out, devs.astype(str)


def profiles_json(profiles: dict[str, np.ndarray], pair_counts: dict[str, int], reference: str, dataset: str) -> dict:
    """The content of a model dir's device_profiles.json (for users to inspect; dB for reading)."""
    return {
        "reference": reference,
        "dataset": str(dataset),
        "rows": "train split without the validation hold-out",
        "units": "log_ratio: ln(mel power device / reference), added to the log-mel features; db: the same in dB",
        "pairs": {d: int(pair_counts[d]) for d in sorted(profiles)},
        "log_ratio": {d: [round(float(v), 6) for v in profiles[d]] for d in sorted(profiles)},
        "db": {d: [round(float(v) * DB_PER_LOG, 3) for v in profiles[d]] for d in sorted(profiles)},
    }
