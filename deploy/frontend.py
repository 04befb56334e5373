"""The firmware's audio front end: C tables that make raw 16-bit PCM into the model's int8 input.

The training features are data.features.logmel followed by the model's standardisation and the
int8 input quantisation:

    q = clip(round(((log(mel + log_offset) - mean) / std) / scale) + zero_point, -128, 127)

`q` only changes where mel crosses one of 255 fixed values, so the C front end never takes a log:
it compares each band's mel energy with the 255 thresholds `exp(mean + std*scale*(k + 0.5 - zp)) -
log_offset` (binary search) and counts. The window and the Slaney mel filterbank are made by the
same librosa calls as the training features (librosa.filters.get_window padded as librosa.stft
pads it, and data.features' mel basis), so the device cannot drift from training.

Storage (flash): the window's win_length non-zero values as q15; the filterbank sparsely, each
band's first FFT bin and length plus its weights as uint16 scaled by one global factor (so the
thresholds stay shared by every band); the thresholds in the units the C arithmetic produces:
float32 on FPU cores, uint64 in the fixed-point (q31 FFT) build for cores without an FPU.
The FFT is CMSIS-DSP's (deploy/frontend_fft.py): its real FFTs take powers of two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from acdeploy.errors import ConfigError, ModelError

# CMSIS-DSP's float real FFT (arm_rfft_fast_f32) sizes; its q31 one also takes 8192
FFT_SIZES = (32, 64, 128, 256, 512, 1024, 2048, 4096)
# The fixed-point build drops this many low bits of each bin's 64-bit power before the uint16
# weights multiply it: the sum of a band's products then fits 64 bits (Parseval bounds the power).
FIXED_POWER_SHIFT = 16
WEIGHT_MAX = 65535


@dataclass(frozen=True)
class FrontEndSpec:
    """What the C front end needs to know: features (data.config.FeatureConfig), the model's
    standardisation and int8 input quantisation, and the input layout [n_mels, frames]."""

    features: object  # data.config.FeatureConfig
    mean: float
    std: float
    scale: float
    zero_point: int
    frames: int

    @property
    def clip_samples(self) -> int:
        """Samples of one clip whose center=True STFT has exactly `frames` frames."""
        return (self.frames - 1) * self.features.hop_length

    @property
    def win_offset(self) -> int:
        return (self.features.n_fft - self.features.win_length) // 2  # librosa.util.pad_center


def spec_for(info, graph, where: str) -> FrontEndSpec | None:
    """The front end of a model, or None when its model_info.json carries no feature config.

    A feature config the front end cannot reproduce (an FFT size CMSIS-DSP has no real FFT for, a
    hop longer than the FFT, an input that is not [1, n_mels, frames, 1] int8) is a one-line error.
    """
    from acdeploy.data.config import trained_features

    if info is None or not info.feature_config:
        return None
    cfg = trained_features(info.feature_config, f"{where} model_info")
    if cfg.n_fft not in FFT_SIZES:
        raise ConfigError(f"{where}: feature_config.n_fft is {cfg.n_fft}; CMSIS-DSP's real FFT takes "
                          f"{', '.join(map(str, FFT_SIZES))}: the audio front end cannot be built")
    if not 1 <= cfg.hop_length <= cfg.n_fft or cfg.win_length > cfg.n_fft:
        raise ConfigError(f"{where}: feature_config.hop_length {cfg.hop_length} / win_length {cfg.win_length} "
                          f"do not fit n_fft {cfg.n_fft}: the audio front end cannot be built")
    tin = graph.tensor(graph.inputs[0])
    shape = [int(d) for d in tin.shape]
    if tin.dtype != "int8" or len(shape) != 4 or shape[0] != 1 or shape[1] != cfg.n_mels or shape[3] != 1:
        raise ModelError(f"{where}: input {tin.dtype} {shape} is not int8 [1, {cfg.n_mels} mels, frames, 1]: "
                         f"the audio front end cannot feed it")
    mean, std = info.standardisation()
    return FrontEndSpec(cfg, float(mean), float(std), float(tin.quant.scale[0]), int(tin.quant.zero_point[0]),
                        frames=shape[2])


# -- tables --------------------------------------------------------------------------------------


def window(spec: FrontEndSpec) -> np.ndarray:
    """float64 [win_length]: the non-zero part of the window librosa.stft applies."""
    import librosa

    cfg = spec.features
    w = librosa.filters.get_window(cfg.window, cfg.win_length, fftbins=True)
    full = librosa.util.pad_center(w, size=cfg.n_fft)
    return np.asarray(full[spec.win_offset:spec.win_offset + cfg.win_length], dtype=np.float64)


def mel_basis(spec: FrontEndSpec) -> np.ndarray:
    """float32 [n_mels, n_fft // 2 + 1]: the filterbank data.features.logmel applies (its call;
    tests/deploy/test_frontend.py checks the C front end against logmel itself)."""
    import librosa

    c = spec.features
    return librosa.filters.mel(sr=c.sample_rate, n_fft=c.n_fft, n_mels=c.n_mels, fmin=c.fmin, fmax=c.fmax,
                               htk=False, norm="slaney")


@dataclass(frozen=True)
class Tables:
    window_q15: np.ndarray  # int16 [win_length]
    symmetric: bool  # window_q15[i] == window_q15[win_length - i]: flash holds the first half only
    band_start: np.ndarray  # uint16 [n_mels]: first FFT bin of each band
    band_len: np.ndarray  # uint16 [n_mels]
    weights: np.ndarray  # uint16 [sum(band_len)], band after band
    weight_unit: float  # one uint16 weight step, in librosa's filterbank units
    thresholds_f32: np.ndarray  # float32 [255]
    thresholds_u64: np.ndarray  # uint64 [255]


def _thresholds(spec: FrontEndSpec) -> np.ndarray:
    """float64 [255]: librosa mel energies at which the int8 input steps from k - 128 to k - 127."""
    q = np.arange(255, dtype=np.float64) - 127.5  # halfway between two int8 values
    log_mel = spec.mean + spec.std * spec.scale * (q - spec.zero_point)
    with np.errstate(over="ignore"):
        return np.exp(log_mel) - spec.features.log_offset


def tables(spec: FrontEndSpec) -> Tables:
    w = window(spec)
    window_q15 = np.clip(np.round(w * 32768.0), -32768, 32767).astype(np.int16)
    basis = mel_basis(spec).astype(np.float64)
    unit = float(basis.max()) / WEIGHT_MAX
    starts, lens, weights = [], [], []
    for band in basis:
        nz = np.flatnonzero(band > 0)
        lo, hi = (int(nz[0]), int(nz[-1]) + 1) if len(nz) else (0, 0)
        starts.append(lo)
        lens.append(hi - lo)
        weights.append(np.round(band[lo:hi] / unit))
    th = _thresholds(spec)
    # Float build: the FFT sees pcm * window_q15 (both scaled by 2^15), so its power is librosa's
    # x 2^60; the band sums carry the weights in `unit` steps.
    f32 = th * 2.0 ** 60 / unit
    # Fixed build: q31 input pcm * window_q15 * 2 (librosa's x 2^31); CMSIS's q31 real FFT
    # divides by n_fft; FIXED_POWER_SHIFT bits of the power are dropped.
    n_bits = int(math.log2(spec.features.n_fft))
    u64 = th * 2.0 ** (62 - 2 * n_bits - FIXED_POWER_SHIFT) / unit
    return Tables(
        window_q15=window_q15,
        symmetric=bool(np.array_equal(window_q15[1:], window_q15[1:][::-1])),
        band_start=np.array(starts, dtype=np.uint16),
        band_len=np.array(lens, dtype=np.uint16),
        weights=np.concatenate(weights).astype(np.uint16) if weights else np.zeros(0, np.uint16),
        weight_unit=unit,
        thresholds_f32=np.where(f32 <= 0, -1.0, np.minimum(f32, np.finfo(np.float32).max)).astype(np.float32),
        thresholds_u64=np.clip(np.ceil(np.nan_to_num(u64, posinf=2.0 ** 64)), 0, 2.0 ** 64 - 1).astype(np.float64),
    )


# -- C text --------------------------------------------------------------------------------------


def _rows(values, per_line: int = 12) -> str:
    vals = list(values)
    return "\n".join("    " + ", ".join(vals[i:i + per_line]) + "," for i in range(0, len(vals), per_line))


def _u64(v: float) -> str:
    return f"{min(int(v), 2 ** 64 - 1)}ull"


def _f32(v: np.float32) -> str:
    return f"{float(v):.9g}f" if np.isfinite(v) else "3.402823466e+38f"


def config_header(spec: FrontEndSpec, source_name: str) -> str:
    """acfront_config.h: the sizes the front end is compiled with."""
    from acdeploy.textsafe import c_comment

    c = spec.features
    t = tables(spec)
    defines = {
        "ACFRONT_SAMPLE_RATE": c.sample_rate, "ACFRONT_N_FFT": c.n_fft, "ACFRONT_WIN_LENGTH": c.win_length,
        "ACFRONT_WIN_OFFSET": spec.win_offset, "ACFRONT_HOP": c.hop_length, "ACFRONT_N_MELS": c.n_mels,
        "ACFRONT_FRAMES": spec.frames, "ACFRONT_CLIP_SAMPLES": spec.clip_samples,
        "ACFRONT_N_WEIGHTS": len(t.weights), "ACFRONT_POWER_SHIFT": FIXED_POWER_SHIFT,
        "ACFRONT_WIN_SYMMETRIC": int(t.symmetric),
    }
    lines = ["/* Generated by acdeploy from " + c_comment(source_name) + ": do not edit. */",
             "#ifndef ACFRONT_CONFIG_H", "#define ACFRONT_CONFIG_H",
             f"/* features: {c_comment(c.window)} window, fmin {c.fmin:g} Hz, fmax "
             f"{'Nyquist' if c.fmax is None else f'{c.fmax:g} Hz'}, log offset {c.log_offset:g}; "
             f"standardisation mean {spec.mean:.6g} std {spec.std:.6g}; int8 input scale {spec.scale:.6g} "
             f"zero point {spec.zero_point} */"]
    lines += [f"#define {k} {v}" for k, v in defines.items()]
    lines += ["#endif", ""]
    return "\n".join(lines)


def tables_source(spec: FrontEndSpec) -> str:
    """acfront_tables.c: window, sparse filterbank and thresholds (both builds' units)."""
    t = tables(spec)
    stored = t.window_q15[:spec.features.win_length // 2 + 1] if t.symmetric else t.window_q15
    return "\n".join([
        "/* Generated by acdeploy (deploy/frontend.py): do not edit. */",
        '#include "acfront.h"',
        "",
        f"const int16_t acfront_window_q15[{len(stored)}] = {{",
        _rows(str(int(v)) for v in stored), "};",
        "const uint16_t acfront_band_start[ACFRONT_N_MELS] = {",
        _rows(str(int(v)) for v in t.band_start), "};",
        "const uint16_t acfront_band_len[ACFRONT_N_MELS] = {",
        _rows(str(int(v)) for v in t.band_len), "};",
        f"const uint16_t acfront_weights[{max(len(t.weights), 1)}] = {{",
        _rows(str(int(v)) for v in t.weights) if len(t.weights) else "    0,", "};",
        "#if ACFRONT_FIXED",
        "const uint64_t acfront_thresholds[255] = {",
        _rows((_u64(v) for v in t.thresholds_u64), 4), "};",
        "#else",
        "const float acfront_thresholds[255] = {",
        _rows((_f32(v) for v in t.thresholds_f32), 6), "};",
        "#endif",
        "",
    ])


def clips_header(n_clips: int) -> str:
    return "\n".join([
        "/* Generated by acdeploy: the clips `acdeploy build --audio` embedded (test data, not a deployment's). */",
        "#ifndef ACFRONT_CLIPS_H", "#define ACFRONT_CLIPS_H", "#include <stdint.h>", '#include "acfront_config.h"',
        f"#define ACFRONT_NUM_CLIPS {n_clips}",
        f"extern const int16_t acnet_test_audio[{max(n_clips, 1)}][ACFRONT_CLIP_SAMPLES];",
        "#endif", ""])


def clips_source(clips: list[np.ndarray]) -> str:
    """acfront_clips.c: int16 clips of ACFRONT_CLIP_SAMPLES samples (named acnet_test_* so the
    linker puts them with the test vectors, outside the deployment's flash)."""
    body = []
    for clip in clips or [np.zeros(1, np.int16)]:
        body += ["    {", _rows((str(int(v)) for v in clip), 16), "    },"]
    return "\n".join(['#include "acfront_clips.h"', "",
                      f"const int16_t acnet_test_audio[{max(len(clips), 1)}][ACFRONT_CLIP_SAMPLES] = {{",
                      *body, "};", ""])
