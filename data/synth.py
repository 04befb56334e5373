"""The built-in synthetic multi-device acoustic scene dataset, in the exact DCASE layout.

A stand-in for TAU Urban Acoustic Scenes 2020/2022 Mobile (quick start and tests), following
docs in notes/asc-research.md section 6:

- Scenes: the ten DCASE classes. Each clip is a coloured-noise background (spectral tilt and
  low/mid/high band emphasis, slow amplitude modulation), an optional engine-like harmonic
  rumble, and Poisson streams of six event types that every class shares (bird chirps, chimes,
  rail squeal, footstep clicks, vehicle pass-bys, speech-like babble); classes differ only in
  rates, levels and envelopes, so they overlap.
- Locations: each recording location (city-location, the DCASE `identifier`) shifts its class's
  parameters; train and evaluate use disjoint locations, so memorising a location does not help.
- Devices: every segment is rendered once (the scene) and recorded through device chains
  (high-pass, low-pass, port resonance, peaking EQs, gain, compression, soft clipping, noise
  floor). a is near flat; b and c are fixed phone-like chains; s1-s6 are drawn at random, s4-s6
  from a wider distribution and only in the evaluate fold. Parallel recordings of one segment
  share its file name up to the device token, as in DCASE.
- Split (per class): about 30 % of the files are evaluate segments recorded on all nine devices;
  the train files are about 73 % device a, the rest b, c, s1-s3 as parallel recordings.
- `difficulty` (0..1) pulls the class parameters towards their mean and widens the per-location
  and per-clip spread; 0.5 is the default design point.

Deterministic: a segment's audio depends only on (seed, segment index), never on scheduling, and
WAVs are written as 16-bit PCM, so the same arguments give the same bytes.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf
from tqdm import tqdm

from acdeploy import artifacts
from acdeploy.data.parallel import ordered_map, worker_count
from acdeploy.errors import DataError
from acdeploy.fileio import atomic_dir

SCENES = (
    "airport", "bus", "metro", "metro_station", "park", "public_square",
    "shopping_mall", "street_pedestrian", "street_traffic", "tram",
)
CITIES = ("barcelona", "helsinki", "lisbon", "london", "lyon", "milan", "paris", "prague", "stockholm", "vienna")
DEVICES = ("a", "b", "c", "s1", "s2", "s3", "s4", "s5", "s6")
EXTRA_TRAIN_DEVICES = ("b", "c", "s1", "s2", "s3")
EVALUATE_SHARE = 0.3  # of each class's files
EXTRA_TRAIN_SHARE = 0.27  # of the train files: DCASE 2020 fold1 train is ~73 % device a
SEGMENTS_PER_LOCATION = 3
STAMP = artifacts.SYNTH_STAMP
_DEVICE_SEED = 20260  # device chains are "the hardware": the same for every dataset seed

# Per-class background: level dBFS, tilt dB/octave, low/mid/high band emphasis dB (150 Hz,
# 800 Hz, 4 kHz), AM rate Hz, AM depth, rumble level dB re background, rumble f0 Hz.
_BG_KEYS = ("level", "tilt", "low", "mid", "high", "am_rate", "am_depth", "rumble", "f0")
_BACKGROUND = np.array([
    [-30, -3.0, 2, 6, 0, 4.0, 0.30, -20, 60],   # airport
    [-26, -4.0, 10, 3, -4, 1.0, 0.20, -4, 50],   # bus
    [-24, -3.5, 8, 2, 0, 0.7, 0.25, -6, 80],     # metro
    [-28, -3.0, 5, 5, 1, 3.0, 0.30, -12, 75],    # metro_station
    [-36, -2.0, 0, 0, 3, 0.5, 0.15, -30, 40],    # park
    [-32, -3.0, 3, 4, 1, 2.5, 0.25, -18, 50],    # public_square
    [-30, -3.5, 1, 7, -1, 4.0, 0.35, -25, 60],   # shopping_mall
    [-30, -3.0, 4, 4, 1, 2.0, 0.30, -14, 45],    # street_pedestrian
    [-24, -4.5, 9, 3, 0, 0.6, 0.40, -8, 40],     # street_traffic
    [-26, -3.5, 7, 3, 1, 0.8, 0.25, -7, 65],     # tram
], dtype=np.float64)
# Spread of each background parameter between locations and between clips (at difficulty 0.5).
_BG_LOCATION_SD = np.array([1.2, 0.2, 1.2, 1.2, 1.2, 0.4, 0.04, 2.5, 6.0])
_BG_CLIP_SD = np.array([1.5, 0.15, 1.0, 1.0, 1.0, 0.4, 0.04, 2.0, 4.0])

EVENTS = ("chirp", "chime", "squeal", "click", "passby", "babble")
# Events per second, per class (rows as SCENES) and type (columns as EVENTS).
_RATES = np.array([
    [0.1, 0.6, 0.0, 1.0, 0.1, 1.2],
    [0.0, 0.2, 0.2, 0.2, 0.8, 0.6],
    [0.0, 0.3, 1.0, 0.1, 0.2, 0.4],
    [0.0, 0.6, 0.8, 1.0, 0.1, 0.9],
    [1.5, 0.0, 0.0, 0.3, 0.2, 0.3],
    [0.6, 0.1, 0.0, 1.2, 0.4, 0.9],
    [0.1, 0.5, 0.0, 1.3, 0.0, 1.3],
    [0.4, 0.0, 0.1, 1.5, 0.8, 0.8],
    [0.2, 0.0, 0.1, 0.3, 2.0, 0.2],
    [0.0, 0.3, 0.9, 0.3, 0.6, 0.5],
])
_EVENT_SNR_DB = np.array([-2.0, -4.0, -5.0, 2.0, -3.0, -6.0])  # mean event level re background


@dataclass(frozen=True)
class Device:
    name: str
    hp_hz: float
    hp_order: int
    lp_hz: float
    lp_order: int
    res_hz: float
    res_db: float
    eqs: tuple[tuple[float, float, float], ...]  # (centre Hz, gain dB, width octaves)
    gain_db: float
    comp_threshold_db: float  # re the clip's RMS
    comp_ratio: float
    noise_db: float  # noise floor, dBFS RMS


@dataclass(frozen=True)
class Segment:
    index: int
    scene: int
    city: str
    location: int
    segment: int
    split: str  # "train" or "evaluate"
    devices: tuple[str, ...]

    def filename(self, device: str) -> str:
        return f"audio/{SCENES[self.scene]}-{self.city}-{self.location}-{self.segment}-{device}.wav"

    @property
    def identifier(self) -> str:
        return f"{self.city}-{self.location}"


@dataclass(frozen=True)
class SynthSpec:
    clips_per_class: int = 100
    seconds: float = 1.0
    sample_rate: int = 44100
    seed: int = 0
    difficulty: float = 0.5


def device_chains(difficulty: float = 0.5) -> dict[str, Device]:
    """The nine device chains; EQ and resonance strength grow with `difficulty`."""
    k = 0.5 + difficulty
    chains = {
        "a": Device("a", 20, 2, 20000, 2, 1000, 0.0, (), 0.0, 0.0, 1.0, -90),
        "b": Device("b", 120, 2, 12000, 4, 9000, 5 * k, ((500, -2 * k, 1.0), (2500, 3 * k, 1.0)), -2, -6, 2.0, -75),
        "c": Device("c", 200, 3, 9000, 4, 6500, 7 * k, ((1000, 3 * k, 0.8), (4000, -4 * k, 1.0)), 2, -4, 3.0, -72),
    }
    rng = np.random.default_rng(_DEVICE_SEED)
    for i, name in enumerate(("s1", "s2", "s3", "s4", "s5", "s6")):
        wide = i >= 3  # unseen devices: stronger band limits, resonances and compression
        n_eq = int(rng.integers(3, 5) if wide else rng.integers(2, 4))
        eq_db = 5.0 if wide else 4.0
        eqs = tuple(
            (float(np.exp(rng.uniform(np.log(200), np.log(8000)))), float(rng.uniform(-eq_db, eq_db) * k), float(rng.uniform(0.5, 1.5)))
            for _ in range(n_eq)
        )
        chains[name] = Device(
            name,
            hp_hz=float(rng.uniform(120, 300) if wide else rng.uniform(80, 200)),
            hp_order=int(rng.integers(3, 5) if wide else rng.integers(2, 4)),
            lp_hz=float(rng.uniform(6000, 10000) if wide else rng.uniform(8000, 15000)),
            lp_order=4,
            res_hz=float(rng.uniform(4000, 8000) if wide else rng.uniform(6000, 12000)),
            res_db=float((rng.uniform(4, 9) if wide else rng.uniform(2, 6)) * k),
            eqs=eqs,
            gain_db=float(rng.uniform(-4, 4)),
            comp_threshold_db=float(rng.uniform(-8, -2)),
            comp_ratio=float(rng.uniform(3, 6) if wide else rng.uniform(1.5, 3)),
            noise_db=float(rng.uniform(-70, -60) if wide else rng.uniform(-85, -70)),
        )
    return chains


# ---------------------------------------------------------------- layout


def plan(spec: SynthSpec) -> list[Segment]:
    """Which segments exist, where they were recorded, their split and devices."""
    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 1]))
    segments: list[Segment] = []
    location_id = 100
    for c in range(len(SCENES)):
        n = spec.clips_per_class
        n_eval = int(round(EVALUATE_SHARE * n)) if n >= 2 else 0
        n_train = n - n_eval
        n_extra = int(EXTRA_TRAIN_SHARE * n_train)
        n_a = n_train - n_extra
        # Evaluate: groups of nine parallel recordings; a partial group rotates by class so
        # small datasets still cover the devices evenly.
        eval_groups = [DEVICES] * (n_eval // len(DEVICES))
        rest = n_eval % len(DEVICES)
        if rest:
            eval_groups.append(tuple(DEVICES[(c * rest + k) % len(DEVICES)] for k in range(rest)))
        # Train: n_a device-a segments; the extra devices record some of them in parallel.
        train_groups = [["a"] for _ in range(n_a)]
        for k in range(n_extra):
            train_groups[k % n_a].append(EXTRA_TRAIN_DEVICES[(c + k) % len(EXTRA_TRAIN_DEVICES)])
        for split, groups in (("train", [tuple(g) for g in train_groups]), ("evaluate", eval_groups)):
            for j, devices in enumerate(groups):
                if j % SEGMENTS_PER_LOCATION == 0:
                    location_id += 1
                    city = CITIES[int(rng.integers(len(CITIES)))]
                segments.append(Segment(
                    index=len(segments), scene=c, city=city, location=location_id,
                    segment=10 * len(segments), split=split, devices=devices,
                ))
    return segments


# ---------------------------------------------------------------- scene rendering


def _class_tables(difficulty: float) -> tuple[np.ndarray, np.ndarray]:
    """Background and event-rate tables pulled towards their class mean as difficulty grows."""
    keep = 1.6 - 0.8 * difficulty
    bg = _BACKGROUND.mean(0) + keep * (_BACKGROUND - _BACKGROUND.mean(0))
    rates = np.maximum(_RATES.mean(0) + keep * (_RATES - _RATES.mean(0)), 0.0)
    return bg, rates


def _location_params(seed: int, location: int, scene: int, difficulty: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2, location]))
    bg, rates = _class_tables(difficulty)
    spread = 0.5 + difficulty
    p = bg[scene] + spread * _BG_LOCATION_SD * rng.standard_normal(len(_BG_KEYS))
    r = rates[scene] * np.exp(0.3 * spread * rng.standard_normal(len(EVENTS)))
    return p, r


def _band_db(f: np.ndarray, centre: float, gain_db: float, width_oct: float) -> np.ndarray:
    return gain_db * np.exp(-0.5 * (np.log2(np.maximum(f, 1.0) / centre) / width_oct) ** 2)


def _smooth_db(f: np.ndarray, points: list[tuple[float, float, float]], tilt: float) -> np.ndarray:
    """A smooth dB curve (tilt per octave re 1 kHz plus log-frequency bumps), evaluated on a
    coarse log grid and interpolated: the curves are smooth, the rfft grid is large."""
    grid = np.geomspace(20.0, max(f[-1], 40.0), 256)
    db = tilt * np.log2(grid / 1000.0)
    for centre, gain, width in points:
        db += _band_db(grid, centre, gain, width)
    return np.interp(np.maximum(f, 20.0), grid, db)


def _rumble_power(f: np.ndarray, f0: float, rng) -> np.ndarray:
    """Power spectrum of an engine-like harmonic series: narrow lines at h * f0 whose width
    (2 % of the frequency) stands for a slow pitch wobble."""
    power = np.zeros_like(f)
    f0 = float(np.clip(f0, 25, 200))
    bin_hz = f[1] - f[0]
    for h in range(1, 9):
        fc = h * f0
        if fc * 1.05 >= f[-1]:
            break
        w = max(0.02 * fc, bin_hz)
        lo, hi = np.searchsorted(f, [fc - 4 * w, fc + 4 * w])
        power[lo:hi] += (rng.uniform(0.3, 1.0) / h) ** 2 * np.exp(-0.5 * ((f[lo:hi] - fc) / w) ** 2)
    return power


def _background(rng, p: dict, n: int, sr: int) -> np.ndarray:
    """Coloured noise (tilt and band emphasis) plus the harmonic rumble `p["rumble"]` dB below
    it, shaped in one spectrum, with a slow amplitude modulation; unit RMS."""
    f = np.fft.rfftfreq(n, 1 / sr)
    db = _smooth_db(f, [(150, p["low"], 1.2), (800, p["mid"], 1.5), (4000, p["high"], 1.5)], p["tilt"])
    noise_power = 10 ** (db / 10) * (f >= 20)  # no DC / infrasound
    noise_power /= noise_power.sum()
    rumble = _rumble_power(f, p["f0"], rng)
    if rumble.sum() > 0:
        noise_power += 10 ** (p["rumble"] / 10) * rumble / rumble.sum()
    x = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * np.sqrt(noise_power), n)
    t = np.arange(n) / sr
    am = 1 + np.clip(p["am_depth"], 0, 0.9) * np.sin(2 * np.pi * max(p["am_rate"], 0.1) * t + rng.uniform(0, 2 * np.pi))
    x = x * am
    return x / _rms(x)


def _chirp(rng, sr):
    top = 0.45 * sr
    m = int(rng.integers(1, 4))
    parts = []
    for _ in range(m):
        d = rng.uniform(0.05, 0.2)
        k = int(d * sr)
        f = np.linspace(min(rng.uniform(2000, 5000), top), min(rng.uniform(3000, 8000), top), k)
        parts += [np.sin(2 * np.pi * np.cumsum(f) / sr) * np.hanning(k), np.zeros(int(rng.uniform(0.02, 0.08) * sr))]
    return np.concatenate(parts)


def _chime(rng, sr):
    k = int(rng.uniform(0.5, 1.0) * sr)
    t = np.arange(k) / sr
    base = rng.uniform(400, 1200)
    out = np.zeros(k)
    for ratio in (1.0, rng.choice([1.5, 2.0]), rng.uniform(2.4, 3.0)):
        if base * ratio < 0.45 * sr:
            out += np.sin(2 * np.pi * base * ratio * t) / ratio
    return out * np.exp(-t / rng.uniform(0.2, 0.6))


def _squeal(rng, sr):
    k = int(rng.uniform(0.3, 1.0) * sr)
    t = np.arange(k) / sr
    f = min(rng.uniform(1000, 4000), 0.4 * sr) * (1 + rng.uniform(0.01, 0.03) * np.sin(2 * np.pi * rng.uniform(5, 8) * t))
    return np.sin(2 * np.pi * np.cumsum(f) / sr) * np.hanning(k)


def _click(rng, sr):
    k = int(rng.uniform(0.01, 0.03) * sr)
    x = rng.standard_normal(k) * np.exp(-np.arange(k) / (0.005 * sr))
    return np.diff(x, prepend=0.0) if rng.random() < 0.5 else x


def _passby(rng, sr):
    k = int(rng.uniform(0.5, 2.5) * sr)
    env = np.exp(-0.5 * ((np.arange(k) - k / 2) / (k / 6)) ** 2)
    noise = rng.standard_normal(k)
    a = math.exp(-2 * math.pi * rng.uniform(200, 800) / sr)
    low = scipy.signal.lfilter([1 - a], [1, -a], noise) * 4
    return env * (low + env**2 * noise * 0.5)


@functools.lru_cache(maxsize=8)
def _speech_band(sr: int) -> np.ndarray:
    return scipy.signal.butter(2, [300, min(3000, 0.45 * sr)], btype="bandpass", fs=sr, output="sos")


def _babble(rng, sr):
    k = int(rng.uniform(0.5, 1.5) * sr)
    t = np.arange(k) / sr
    x = scipy.signal.sosfilt(_speech_band(sr), rng.standard_normal(k))
    syll = np.abs(np.sin(2 * np.pi * rng.uniform(2.0, 3.0) * t + rng.uniform(0, 3.1))) ** 2
    return x * syll * np.hanning(k)


_EVENT_MAKERS = (_chirp, _chime, _squeal, _click, _passby, _babble)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)) + 1e-12)


def render_scene(seed: int, seg: Segment, n: int, sr: int, difficulty: float) -> np.ndarray:
    """The segment's sound field (before any device), float64."""
    loc_p, loc_rates = _location_params(seed, seg.location, seg.scene, difficulty)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 3, seg.index]))
    spread = 0.5 + difficulty
    p = dict(zip(_BG_KEYS, loc_p + spread * _BG_CLIP_SD * rng.standard_normal(len(_BG_KEYS)), strict=True))
    x = _background(rng, p, n, sr)
    for e, make in enumerate(_EVENT_MAKERS):
        count = rng.poisson(loc_rates[e] * n / sr)
        for _ in range(count):
            w = make(rng, sr)
            w *= 10 ** ((_EVENT_SNR_DB[e] + 3 * spread * rng.standard_normal()) / 20) / _rms(w)
            start = int(rng.integers(-len(w) // 2, n))
            a, b = max(start, 0), min(start + len(w), n)
            if b > a:
                x[a:b] += w[a - start:b - start]
    return x * 10 ** (p["level"] / 20) / _rms(x)


# ---------------------------------------------------------------- device recording


def device_response_db(dev: Device, f: np.ndarray, sr: int) -> np.ndarray:
    """The device chain's magnitude response in dB at frequencies `f` (linear part only)."""
    fl = np.maximum(f, 1.0)
    db = -10 * np.log10(1 + (dev.hp_hz / fl) ** (2 * dev.hp_order))
    if dev.lp_hz < 0.45 * sr:
        db -= 10 * np.log10(1 + (fl / dev.lp_hz) ** (2 * dev.lp_order))
    db += _smooth_db(f, [(dev.res_hz, dev.res_db, 0.3), *dev.eqs], 0.0)
    return db + dev.gain_db


@functools.lru_cache(maxsize=32)
def _device_gain(dev: Device, n: int, sr: int) -> np.ndarray:
    return 10 ** (device_response_db(dev, np.fft.rfftfreq(n, 1 / sr), sr) / 20)


def record(x: np.ndarray, dev: Device, sr: int, rng: np.random.Generator) -> np.ndarray:
    """`x` as device `dev` records it: linear response, compression, soft clip, noise floor."""
    n = len(x)
    y = np.fft.irfft(np.fft.rfft(x) * _device_gain(dev, n, sr), n)
    if dev.comp_ratio > 1:
        hop = max(sr // 100, 1)  # 10 ms envelope, gain held per frame
        frames_db = 10 * np.log10(np.add.reduceat(y**2, np.arange(0, n, hop)) / hop + 1e-12)
        over = np.maximum(frames_db - 20 * np.log10(_rms(y)) - dev.comp_threshold_db, 0)
        y = y * np.repeat(10 ** (-over * (1 - 1 / dev.comp_ratio) / 20), hop)[:n]
    y = np.tanh(2 * y) / 2  # mild soft clipping
    y += 10 ** (dev.noise_db / 20) * rng.standard_normal(n)
    return y


def _to_pcm16(y: np.ndarray) -> np.ndarray:
    return np.clip(np.round(y * 32767), -32768, 32767).astype(np.int16)


# ---------------------------------------------------------------- writer


def _write_segment(job: tuple[Path, SynthSpec, Segment]) -> int:
    root, spec, seg = job
    n = int(round(spec.seconds * spec.sample_rate))
    scene = render_scene(spec.seed, seg, n, spec.sample_rate, spec.difficulty)
    chains = device_chains(spec.difficulty)
    for d in seg.devices:
        rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 4, seg.index, DEVICES.index(d)]))
        y = record(scene, chains[d], spec.sample_rate, rng)
        sf.write(root / seg.filename(d), _to_pcm16(y), spec.sample_rate, subtype="PCM_16", format="WAV")
    return len(seg.devices)


def _tables(segments: list[Segment]) -> dict[str, str]:
    meta = ["filename\tscene_label\tidentifier\tsource_label"]
    train = ["filename\tscene_label"]
    evaluate = ["filename\tscene_label"]
    test = ["filename"]
    for seg in segments:
        for d in seg.devices:
            name, label = seg.filename(d), SCENES[seg.scene]
            meta.append(f"{name}\t{label}\t{seg.identifier}\t{d}")
            if seg.split == "train":
                train.append(f"{name}\t{label}")
            else:
                evaluate.append(f"{name}\t{label}")
                test.append(name)
    return {
        artifacts.META_CSV: "\n".join(meta) + "\n",
        "evaluation_setup/fold1_train.csv": "\n".join(train) + "\n",
        "evaluation_setup/fold1_evaluate.csv": "\n".join(evaluate) + "\n",
        "evaluation_setup/fold1_test.csv": "\n".join(test) + "\n",
    }


_README = """\
acdeploy synthetic acoustic scene dataset (a stand-in, NOT real recordings)

Made by `acdeploy data synth` from {spec}.
Layout as TAU Urban Acoustic Scenes 2020/2022 Mobile (DCASE Task 1): meta.csv and
evaluation_setup/fold1_{{train,evaluate,test}}.csv are TAB-separated with a header row; audio/
holds 16-bit mono WAVs named scene-city-location-segment-device.wav. Scenes are synthesised
backgrounds and events, devices a, b, c, s1-s6 are simulated recording chains (s4-s6 appear
only in fold1_evaluate). Figures measured on it say nothing about real DCASE data.
"""


def synthesize(out: str | Path, spec: SynthSpec, workers: int = 0, progress: bool = True) -> tuple[Path, bool]:
    """Write the dataset to `out` atomically; returns (path, made). An identical one is kept."""
    out = Path(out)
    stamp = json.dumps(asdict(spec), sort_keys=True)
    if out.exists():
        if (out / STAMP).is_file():
            if (out / STAMP).read_text().strip() == stamp:
                return out, False
        elif not out.is_dir() or any(out.iterdir()):
            raise DataError(f"{out}: exists and is not an acdeploy synthetic dataset; choose another OUT")
    segments = plan(spec)
    n_files = sum(len(s.devices) for s in segments)
    with atomic_dir(out) as tmp:
        tmp.chmod(0o755)  # mkdtemp makes it private; a dataset is meant to be shared
        (tmp / "audio").mkdir()
        (tmp / "evaluation_setup").mkdir()
        jobs = [(tmp, spec, s) for s in segments]
        with tqdm(total=n_files, desc="synth", unit="clip", disable=not progress, leave=False) as bar:
            for written in ordered_map(_write_segment, jobs, worker_count(workers)):
                bar.update(written)
        for name, text in _tables(segments).items():
            (tmp / name).write_text(text)
        (tmp / "README.txt").write_text(_README.format(spec=stamp))
        (tmp / STAMP).parent.mkdir()
        (tmp / STAMP).write_text(stamp + "\n")
    return out, True
