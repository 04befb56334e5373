"""The firmware's audio front end: C tables that make raw 16-bit PCM into the model's int8 input.

The training features are data.features.logmel followed by the model's standardisation and the
int8 input quantisation:

    q = clip(round(((log(mel + log_offset) - mean) / std) / scale) + zero_point, -128, 127)

`q` only changes where mel crosses one of 255 fixed values, so the C front end never takes a log:
it compares each band's mel energy with the 255 thresholds `exp(mean + std*scale*(k + 0.5 - zp)) -
log_offset` and counts (the float build estimates the count from the float's bits, the thresholds
being geometric, then walks the table a step or two; the fixed-point build binary-searches). The
window and the Slaney mel filterbank are made by the same librosa calls as the training features
(librosa.filters.get_window padded as librosa.stft pads it, and data.features' mel basis), so the
device cannot drift from training.

Storage (flash): the window's win_length non-zero values as q15; the filterbank sparsely, each
band's first FFT bin and length plus its weights as uint16 scaled by one global factor (so the
thresholds stay shared by every band); the thresholds in the units the C arithmetic produces:
float32 on FPU cores, uint64 in the fixed-point (q31 FFT) build for cores without an FPU.
The FFT is CMSIS-DSP's complex FFT of n_fft/2 points (float on FPU cores, q31 without an FPU),
whose real split the front end fuses into the power spectrum (acfront.c); it takes powers of two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from acdeploy.errors import ConfigError, ModelError

# n_fft the front end takes (CMSIS-DSP's complex FFTs of 16 to 2048 points)
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
    seg_start: np.ndarray  # uint16 [n_mels + 2]: segment s = bins [seg_start[s], seg_start[s + 1])
    rise_q16: np.ndarray  # uint16 [seg_start[-1] - seg_start[0]]: band s's rising weight x 65535 per bin
    enorm: np.ndarray  # float64 [n_mels]: Slaney normalisation of each band
    enorm_f32: np.ndarray  # float32 [n_mels]: enorm / 65535 / 4 (float build: its power is 4 |X|^2)
    sin_f32: np.ndarray  # float32 [n_fft / 4 + 1]: sin(2 pi k / n_fft), the float build's real-split twiddles
    sin_q30: np.ndarray  # int32 [n_fft / 4 + 1]: the same x 2^30, the fixed build's
    enorm_q16: np.ndarray  # uint16 [n_mels]: enorm / max(enorm) x 65535 (fixed build)
    th_first: float  # float build: threshold k + log_offset = th_first * th_ratio^k (units x 2^60)
    th_ratio: float
    th_offset: float  # log_offset x 2^60
    thresholds_f32: np.ndarray  # float32 [255]: what the float build computes from the three above
    thresholds_u64: np.ndarray  # uint64 [255] (as float64) of the fixed build


def _thresholds(spec: FrontEndSpec) -> np.ndarray:
    """float64 [255]: librosa mel energies at which the int8 input steps from k - 128 to k - 127."""
    q = np.arange(255, dtype=np.float64) - 127.5  # halfway between two int8 values
    log_mel = spec.mean + spec.std * spec.scale * (q - spec.zero_point)
    with np.errstate(over="ignore"):
        return np.exp(log_mel) - spec.features.log_offset


def _segments(spec: FrontEndSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Slaney filterbank as overlapping triangles: (seg_start, rising weight per bin, enorm).

    Between two mel points, bin k is on the rising slope of band s (weight r) and the falling slope
    of band s - 1 (weight 1 - r) before each band's Slaney normalisation: one weight per bin, two
    products per bin. Derived from librosa's own filterbank, with and without its normalisation.
    """
    import librosa

    c = spec.features
    raw = librosa.filters.mel(sr=c.sample_rate, n_fft=c.n_fft, n_mels=c.n_mels, fmin=c.fmin, fmax=c.fmax,
                              htk=False, norm=None).astype(np.float64)
    norm = mel_basis(spec).astype(np.float64)
    enorm = np.array([norm[m][raw[m] > 0].max() / raw[m][raw[m] > 0].max() if (raw[m] > 0).any() else 0.0
                      for m in range(c.n_mels)])
    seg = np.full(raw.shape[1], -1)
    rise = np.zeros(raw.shape[1])
    for k in range(raw.shape[1]):
        nz = np.flatnonzero(raw[:, k] > 0)
        if not len(nz):
            continue
        lo = int(nz[0])
        if len(nz) > 1:  # band lo falling, band lo + 1 rising
            s = lo + 1
        else:  # one band: on its rising side while its next bin is higher
            s = lo if k + 1 < raw.shape[1] and raw[lo, k + 1] > raw[lo, k] else lo + 1
        seg[k] = s
        rise[k] = raw[s, k] if s < c.n_mels else 1.0 - raw[s - 1, k]
    covered = np.flatnonzero(seg >= 0)
    first, last = int(covered[0]), int(covered[-1]) + 1
    segs = seg[first:last]
    if np.any(segs < 0) or np.any(np.diff(segs) < 0):
        raise ConfigError(f"features: the mel filterbank ({c.n_mels} bands, fmin {c.fmin}, fmax {c.fmax}) is not "
                          f"a chain of overlapping triangles: the audio front end cannot store it")
    starts = [first + int(np.searchsorted(segs, s)) for s in range(c.n_mels + 1)] + [last]
    # the stored form must give librosa's filterbank back
    rebuilt = np.zeros_like(raw)
    for s in range(c.n_mels + 1):
        for k in range(starts[s], starts[s + 1]):
            if s < c.n_mels:
                rebuilt[s, k] = rise[k]
            if s >= 1:
                rebuilt[s - 1, k] = 1.0 - rise[k]
    err = np.abs(rebuilt * enorm[:, None] - norm).max()
    if err > 1e-4 * norm.max():
        raise ConfigError(f"features: the mel filterbank differs by {err:.3g} from two overlapping triangles "
                          f"per bin: the audio front end cannot store it")
    return np.array(starts), rise[first:last], enorm


def tables(spec: FrontEndSpec) -> Tables:
    w = window(spec)
    window_q15 = np.clip(np.round(w * 32768.0), -32768, 32767).astype(np.int16)
    starts, rise, enorm = _segments(spec)
    enorm_q16 = np.round(enorm / enorm.max() * WEIGHT_MAX)
    th = _thresholds(spec)
    # Float build: the FFT sees pcm * window_q15 (both scaled by 2^15), so its power is librosa's
    # x 2^60, and (enorm / 65535) x the band's sums of power x rise_q16 is librosa's mel x 2^60. The
    # thresholds are geometric plus an offset: the front end makes them in RAM (1 KB of flash less).
    c = spec.features
    step = spec.std * spec.scale
    th_first = math.exp(spec.mean + step * (-127.5 - spec.zero_point)) * 2.0 ** 60
    th_ratio = math.exp(step)
    f32 = np.empty(255, dtype=np.float32)
    e = np.float32(th_first)
    for k in range(255):  # the C loop, in float32
        f32[k] = e - np.float32(c.log_offset * 2.0 ** 60)
        e = np.float32(e * np.float32(th_ratio))
    # Fixed build: q31 input pcm * window_q15 * 2^(1 + headroom), the FFT and its split divide by
    # n_fft (as CMSIS's q31 real FFT does), the power is shifted right by FIXED_POWER_SHIFT + 2 headroom; the band sums are shifted
    # right by 16 and multiplied by enorm_q16.
    n_bits = int(math.log2(c.n_fft))
    sine = np.sin(2 * np.pi * np.arange(c.n_fft // 4 + 1) / c.n_fft)
    u64 = th * 2.0 ** (62 - 2 * n_bits - FIXED_POWER_SHIFT) * (WEIGHT_MAX / 65536.0) * WEIGHT_MAX / enorm.max()
    return Tables(
        window_q15=window_q15,
        symmetric=bool(np.array_equal(window_q15[1:], window_q15[1:][::-1])),
        seg_start=starts.astype(np.uint16),
        rise_q16=np.round(rise * WEIGHT_MAX).astype(np.uint16),
        enorm=enorm,
        enorm_f32=(enorm / WEIGHT_MAX / 4).astype(np.float32),
        sin_f32=sine.astype(np.float32),
        sin_q30=np.round(sine * 2.0 ** 30).astype(np.int32),
        enorm_q16=enorm_q16.astype(np.uint16),
        th_first=th_first, th_ratio=th_ratio, th_offset=c.log_offset * 2.0 ** 60,
        thresholds_f32=np.where(f32 <= 0, -1.0, f32).astype(np.float32),
        thresholds_u64=np.clip(np.ceil(np.nan_to_num(u64, posinf=2.0 ** 64)), 0, 2.0 ** 64 - 1).astype(np.float64),
    )


# -- C text --------------------------------------------------------------------------------------


def _rows(values, per_line: int = 12) -> str:
    vals = list(values)
    return "\n".join("    " + ", ".join(vals[i:i + per_line]) + "," for i in range(0, len(vals), per_line))


def _u64(v: float) -> str:
    return f"{min(int(v), 2 ** 64 - 1)}ull"


def _f32(v: np.float32) -> str:
    if not np.isfinite(v):
        return "3.402823466e+38f"
    text = f"{float(v):.9g}"
    return text + ("f" if any(ch in text for ch in ".en") else ".0f")  # 2 -> 2.0f


def config_header(spec: FrontEndSpec, source_name: str) -> str:
    """acfront_config.h: the sizes the front end is compiled with."""
    from acdeploy.textsafe import c_comment

    c = spec.features
    t = tables(spec)
    defines = {
        "ACFRONT_SAMPLE_RATE": c.sample_rate, "ACFRONT_N_FFT": c.n_fft, "ACFRONT_WIN_LENGTH": c.win_length,
        "ACFRONT_WIN_OFFSET": spec.win_offset, "ACFRONT_HOP": c.hop_length, "ACFRONT_N_MELS": c.n_mels,
        "ACFRONT_FRAMES": spec.frames, "ACFRONT_CLIP_SAMPLES": spec.clip_samples,
        "ACFRONT_N_RISE": len(t.rise_q16), "ACFRONT_POWER_SHIFT": FIXED_POWER_SHIFT,
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
        "const uint16_t acfront_seg_start[ACFRONT_N_MELS + 2] = {",
        _rows(str(int(v)) for v in t.seg_start), "};",
        f"const uint16_t acfront_rise_q16[{max(len(t.rise_q16), 1)}] = {{",
        _rows(str(int(v)) for v in t.rise_q16) if len(t.rise_q16) else "    0,", "};",
        "#if ACFRONT_FIXED",
        "const uint16_t acfront_enorm[ACFRONT_N_MELS] = {",
        _rows(str(int(v)) for v in t.enorm_q16), "};",
        "const uint64_t acfront_thresholds[255] = {",
        _rows((_u64(v) for v in t.thresholds_u64), 4), "};",
        "const int32_t acfront_sin_q30[ACFRONT_N_FFT / 4 + 1] = {",
        _rows(str(int(v)) for v in t.sin_q30), "};",
        "#else",
        "const float acfront_enorm[ACFRONT_N_MELS] = {",
        _rows((_f32(v) for v in t.enorm_f32), 6), "};",
        "const float acfront_sin[ACFRONT_N_FFT / 4 + 1] = {",
        _rows((_f32(v) for v in t.sin_f32), 6), "};",
        f"const float acfront_th_first = {_f32(np.float32(t.th_first))};",
        f"const float acfront_th_ratio = {_f32(np.float32(t.th_ratio))};",
        f"const float acfront_th_offset = {_f32(np.float32(t.th_offset))};",
        f"const float acfront_th_bits_first = {_f32(np.float32((math.log2(t.th_first) + 127) * 2.0 ** 23))};",
        f"const float acfront_th_bits_step = {_f32(np.float32(1.0 / (math.log2(t.th_ratio) * 2.0 ** 23)))};",
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


def table_bytes(spec: FrontEndSpec, fixed: bool) -> int:
    """Flash of acfront_tables.c for the float or the fixed-point build."""
    t = tables(spec)
    window = 2 * ((spec.features.win_length // 2 + 1) if t.symmetric else spec.features.win_length)
    shared = window + 2 * len(t.seg_start) + 2 * len(t.rise_q16)
    twiddles = 4 * (spec.features.n_fft // 4 + 1)
    return shared + twiddles + (2 * spec.features.n_mels + 8 * 255 if fixed else 4 * spec.features.n_mels + 20)


def ram_bytes(spec: FrontEndSpec, fixed: bool) -> int:
    """acfront_ram_bytes() on a 32-bit core: sample ring, FFT input and output, frame ring, FFT
    instance (16 bytes; Helium's rearranged twiddle pointers add 24 on the M55, not counted here),
    the power spectrum (uint64 fixed, float), and the thresholds and mel weights as floats (float build)."""
    n, ring = spec.features.n_fft, spec.frames * spec.features.n_mels
    if fixed:
        return 2 * n + ring + 4 * n + 16 + 8 * (n // 2 + 1)
    return 2 * n + ring + 4 * n + 16 + 4 * (n // 2 + 1) + 4 * 255 + 4 * max(len(tables(spec).rise_q16), 1)
