"""Training-time augmentations on batches of log-mel features x [B, n_mels, n_frames] (numpy).

Every function takes a seeded np.random.Generator and returns new arrays (inputs untouched).

Log domain: the features are ln(mel power + log_offset). A power gain g on a band adds ln(g) to
that band (exact while the band is well above log_offset), and G dB of power gain is
G * ln(10) / 10 in these units. A device's frequency response, or the magnitude response of an
impulse response averaged over each mel band, is therefore an additive per-band curve: that is
how `device_eq` simulates recording devices (random curves made of a tilt, peaking bumps and
low/high roll-offs), and `random_gain` is a constant added to the whole clip.
"""

from __future__ import annotations

import numpy as np

from acdeploy.data import spectrum_correction

DB_TO_LOG = float(np.log(10.0) / 10.0)  # power dB -> natural-log units of the features


def mixup(x: np.ndarray, y: np.ndarray, alpha: float, rng: np.random.Generator):
    """Mix each clip with a partner: returns (x_mix, y_mix, perm, lam).

    x_mix[i] = lam[i] * x[i] + (1 - lam[i]) * x[perm[i]], the same for the soft labels y, with
    lam ~ Beta(alpha, alpha) folded to >= 0.5 so each clip stays the major part of its mix (as
    CP-JKU). perm and lam let a teacher's outputs be mixed the same way.
    """
    b = len(x)
    lam = rng.beta(alpha, alpha, size=b)
    lam = np.maximum(lam, 1.0 - lam).astype(np.float32)
    perm = rng.permutation(b)
    x_mix = lam[:, None, None] * x + (1 - lam[:, None, None]) * x[perm]
    y_mix = lam[:, None] * y + (1 - lam[:, None]) * y[perm]
    return x_mix.astype(np.float32), y_mix.astype(np.float32), perm, lam


def _band_masks(rng, batch: int, size: int, count: int, max_width: int) -> np.ndarray:
    """[batch, size] booleans: `count` random spans of width 0..max_width per row."""
    if count == 0 or max_width == 0:
        return np.zeros((batch, size), dtype=bool)
    width = rng.integers(0, min(max_width, size) + 1, size=(batch, count))
    start = rng.integers(0, size - width + 1)
    pos = np.arange(size)
    return ((pos >= start[..., None]) & (pos < (start + width)[..., None])).any(axis=1)


def spec_augment(x: np.ndarray, rng: np.random.Generator, freq_masks: int, freq_width: int,
                 time_masks: int, time_width: int) -> np.ndarray:
    """SpecAugment masks: `freq_masks` bands of up to `freq_width` mel bins and `time_masks` spans
    of up to `time_width` frames per clip, filled with the clip's mean (the features are not
    normalised, so zero would be a loud, unnatural value)."""
    b, f, t = x.shape
    fm = _band_masks(rng, b, f, freq_masks, freq_width)
    tm = _band_masks(rng, b, t, time_masks, time_width)
    masked = fm[:, :, None] | tm[:, None, :]
    fill = x.mean(axis=(1, 2), keepdims=True)
    return np.where(masked, fill, x).astype(np.float32)


def eq_curves(rng: np.random.Generator, n: int, bands: int, max_db: float) -> np.ndarray:
    """[n, bands] random device responses in dB: a tilt, 1-3 peaking bumps and optional
    low/high roll-offs, over the mel-band index (bands are roughly log-spaced in frequency)."""
    u = np.linspace(0.0, 1.0, bands)[None, :]
    db = rng.uniform(-0.5, 0.5, (n, 1)) * max_db * (2 * u - 1)
    k = 3
    centre = rng.uniform(0, 1, (n, k, 1))
    width = rng.uniform(0.04, 0.25, (n, k, 1))
    gain = rng.uniform(-max_db, max_db, (n, k, 1)) * (rng.random((n, k, 1)) < 0.7)
    db = db + (gain * np.exp(-0.5 * ((u[:, None, :] - centre) / width) ** 2)).sum(axis=1)
    lo_edge, hi_edge = rng.uniform(0.02, 0.2, (n, 1)), rng.uniform(0.75, 0.98, (n, 1))
    lo = np.clip((lo_edge - u) / lo_edge, 0, 1) * rng.uniform(0, max_db, (n, 1)) * (rng.random((n, 1)) < 0.5)
    hi = np.clip((u - hi_edge) / (1 - hi_edge), 0, 1) * rng.uniform(0, 2 * max_db, (n, 1)) * (rng.random((n, 1)) < 0.5)
    return db - lo - hi


def device_eq(x: np.ndarray, devices: np.ndarray, rng: np.random.Generator, p: float, max_db: float,
              reference: str = "a") -> np.ndarray:
    """Simulate other recording devices on reference-device clips: with probability p each such
    clip gets a random EQ curve (eq_curves) added in the log domain. Other devices' clips are
    left alone: they already carry a real device response."""
    out = np.array(x, dtype=np.float32, copy=True)
    rows = np.flatnonzero((np.asarray(devices) == reference) & (rng.random(len(x)) < p))
    if len(rows):
        out[rows] += (eq_curves(rng, len(rows), x.shape[1], max_db) * DB_TO_LOG)[:, :, None].astype(np.float32)
    return out


def freq_mixstyle(x: np.ndarray, rng: np.random.Generator, alpha: float, p: float, eps: float = 1e-6) -> np.ndarray:
    """Freq-MixStyle (CP-JKU): with probability p per batch, normalise each clip per frequency
    band (mean/std over time) and re-scale it with a Beta(alpha, alpha) mix of its own and a
    random partner's per-band statistics, so device colouration is shuffled between clips."""
    if rng.random() >= p:
        return np.array(x, dtype=np.float32, copy=True)
    mu = x.mean(axis=2, keepdims=True)
    sig = np.sqrt(x.var(axis=2, keepdims=True) + eps)
    lam = rng.beta(alpha, alpha, size=(len(x), 1, 1))
    perm = rng.permutation(len(x))
    mu_mix = lam * mu + (1 - lam) * mu[perm]
    sig_mix = lam * sig + (1 - lam) * sig[perm]
    return ((x - mu) / sig * sig_mix + mu_mix).astype(np.float32)


def random_gain(x: np.ndarray, rng: np.random.Generator, max_db: float) -> np.ndarray:
    """Each clip louder or softer by uniform(-max_db, max_db) dB (a constant in the log domain)."""
    g = rng.uniform(-max_db, max_db, size=len(x)) * DB_TO_LOG
    return (x + g[:, None, None]).astype(np.float32)


def time_shift(x: np.ndarray, rng: np.random.Generator, max_frames: int) -> np.ndarray:
    """Roll each clip in time by uniform integer -max_frames..max_frames frames (circular)."""
    shifts = rng.integers(-max_frames, max_frames + 1, size=len(x))
    t = x.shape[2]
    idx = (np.arange(t)[None, :] - shifts[:, None]) % t
    return np.take_along_axis(np.asarray(x, dtype=np.float32), idx[:, None, :], axis=2)


def augment_batch(x: np.ndarray, y_soft: np.ndarray, devices: np.ndarray, cfg, rng: np.random.Generator,
                  profiles: dict | None = None):
    """Apply the augmentations enabled in `cfg` (AugmentConfig) in a fixed order and return
    (x, y_soft): spectrum correction (with `profiles`, data/spectrum_correction.py), device EQ
    (on the reference clips spectrum correction left as they were), gain, time shift (per clip),
    Freq-MixStyle, mixup (mixes the labels too), SpecAugment. Disabled steps draw no random
    numbers and leave the batch unchanged."""
    x = np.array(x, dtype=np.float32, copy=True)
    y = np.array(y_soft, dtype=np.float32, copy=True)
    if cfg.spectrum_correction:
        if profiles is None:
            raise ValueError("augment_batch: spectrum_correction is on but no device profiles were given")
        x, devices = spectrum_correction.apply(x, devices, profiles, rng, cfg.spectrum_correction_p,
                                               cfg.spectrum_correction_min_scale, cfg.reference_device)
    if cfg.device_eq:
        x = device_eq(x, devices, rng, cfg.device_eq_p, cfg.device_eq_db, cfg.reference_device)
    if cfg.gain:
        x = random_gain(x, rng, cfg.gain_db)
    if cfg.time_shift:
        x = time_shift(x, rng, cfg.shift_frames)
    if cfg.freq_mixstyle:
        x = freq_mixstyle(x, rng, cfg.mixstyle_alpha, cfg.mixstyle_p)
    if cfg.mixup:
        x, y, _, _ = mixup(x, y, cfg.mixup_alpha, rng)
    if cfg.specaugment:
        x = spec_augment(x, rng, cfg.freq_masks, cfg.freq_mask_width, cfg.time_masks, cfg.time_mask_width)
    return x, y
