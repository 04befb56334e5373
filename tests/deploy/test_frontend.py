"""The firmware's audio front end (firmware_stub/frontend, deploy/frontend.py) against the training
features (data.features.logmel -> standardise -> int8), built with gcc under ASan/UBSan: the float
build and the q31 fixed-point build (the one cores without an FPU get), on random and synthetic
audio, at the quickstart, tiny and DCASE 2022 baseline feature settings; streaming in chunks of
1, 7, hop and a whole clip gives the clip-mode frames."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from acdeploy.data.config import FeatureConfig
from acdeploy.data.features import logmel
from acdeploy.deploy import frontend, frontend_step
from acdeploy.deploy.firmware import install_project
from tests.conftest import require_tools

CONFIGS = {
    "quickstart": FeatureConfig(sample_rate=22050, n_fft=1024, win_length=882, hop_length=441, n_mels=40),
    "tiny": FeatureConfig(sample_rate=16000, n_fft=512, win_length=400, hop_length=320, n_mels=32),
    "dcase2022": FeatureConfig(),  # 44.1 kHz, n_fft 2048, 1764 / 882, 40 mels
}


def make_spec(cfg: FeatureConfig, frames: int = 51) -> frontend.FrontEndSpec:
    # a standardisation and input quantisation like a trained model's (quickstart's model_info)
    return frontend.FrontEndSpec(cfg, mean=-4.81, std=2.09, scale=0.0286, zero_point=-9, frames=frames)


def host_int8(spec: frontend.FrontEndSpec, clip: np.ndarray) -> np.ndarray:
    f = logmel(clip.astype(np.float32) / 32768.0, spec.features)
    x = (f - spec.mean) / spec.std
    return np.clip(np.round(x / spec.scale) + spec.zero_point, -128, 127).astype(np.int8)


def audio(spec: frontend.FrontEndSpec, seed: int = 0) -> list[np.ndarray]:
    """Noise at three levels (-61 dBFS to -12 dBFS), a chirp over a quiet noise floor, silence then a
    burst, full-scale noise, and a full-scale chirp up to Nyquist (its quietest bins are the ones
    an FFT's rounding reaches first)."""
    rng = np.random.default_rng(seed)
    n, sr = spec.clip_samples, spec.features.sample_rate
    t = np.arange(n) / sr
    chirp = 9000 * np.sin(2 * np.pi * (100 * t + (sr / 4 - 100) / 2 * t ** 2)) + rng.normal(0, 20, n)
    burst = np.zeros(n)
    burst[n // 2:n // 2 + n // 8] = rng.normal(0, 6000, n // 8)
    loud = 32767 * np.sin(2 * np.pi * (100 * t + (sr / 2 - 100) / 2 * t ** 2 / t[-1]))
    clips = [rng.normal(0, s, n) for s in (30, 1000, 8000)] + [chirp, burst, rng.uniform(-32768, 32767, n), loud]
    return [np.clip(np.round(c), -32768, 32767).astype(np.int16) for c in clips]


def build_tool(tmp: Path, spec: frontend.FrontEndSpec, fixed: bool) -> Path:
    require_tools("gcc", "make")
    fw = tmp / "firmware"
    install_project(fw)
    frontend_step.write_frontend(fw, spec, "test")
    out = f"build/tool-{int(fixed)}"
    subprocess.run(["make", "-s", "-C", str(fw), "TARGET=host", "SANITIZE=1", f"OUT={out}",
                    f"FRONTEND_FIXED={int(fixed)}", f"{out}/acfront_tool"], check=True, capture_output=True)
    return fw / out / "acfront_tool"


def run_tool(tool: Path, clips, mode: str, arg: int, spec) -> np.ndarray:
    proc = subprocess.run([str(tool), mode, str(arg)], input=np.stack(clips).tobytes(), capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    return np.frombuffer(proc.stdout, np.int8).reshape(-1, spec.features.n_mels, spec.frames)


# each case compiles CMSIS-DSP under ASan/UBSan (~10 s): the q31 build at the other settings is slow-marked
CASES = [pytest.param(name, fixed, id=f"{name}-{'q31' if fixed else 'float'}",
                      marks=[pytest.mark.slow] if fixed and name != "quickstart" else [])
         for name in CONFIGS for fixed in (False, True)]


@pytest.mark.parametrize(("name", "fixed"), CASES)
def test_c_front_end_gives_the_training_features(tmp_path, name, fixed):
    spec = make_spec(CONFIGS[name])
    clips = audio(spec)
    tool = build_tool(tmp_path, spec, fixed)
    got = run_tool(tool, clips, "clip", 7, spec)
    want = np.stack([host_int8(spec, c) for c in clips])
    diff = np.abs(got.astype(int) - want.astype(int))
    assert diff.max() <= 1, np.argwhere(diff > 1)[:5]
    # the q31 FFT (cores without an FPU) rounds at each of its stages: the quietest bins of a loud
    # chirp land one step off more often
    assert np.mean(diff == 0) >= (0.98 if fixed else 0.995)
    # the values cover the int8 range's middle, so the comparison is not of saturated bytes
    assert len(np.unique(want)) > 50


def test_streaming_chunks_and_stream_mode_give_the_clip_frames(tmp_path):
    spec = make_spec(CONFIGS["tiny"], frames=26)
    clips = audio(spec, seed=1)[:3]
    tool = build_tool(tmp_path, spec, fixed=False)
    ref = run_tool(tool, clips, "clip", spec.clip_samples, spec)
    for chunk in (1, 7, spec.features.hop_length):
        assert np.array_equal(run_tool(tool, clips, "clip", chunk, spec), ref), chunk
    # a continuous stream: the first full window's frames but the last (which sees the next
    # clip's samples instead of center=True's zeros) are the first clip's; with stride 1 each
    # later window is the previous one shifted by a frame
    windows = run_tool(tool, clips, "stream", 1, spec)
    assert np.array_equal(windows[0][:, :-1], ref[0][:, :-1])
    assert np.array_equal(windows[1][:, :-1], windows[0][:, 1:])
    assert len(run_tool(tool, clips, "stream", 5, spec)) == (len(windows) - 1) // 5 + 1


def test_tables_come_from_the_training_code():
    spec = make_spec(CONFIGS["quickstart"])
    t = frontend.tables(spec)
    basis = frontend.mel_basis(spec)
    dense = np.zeros_like(basis, dtype=np.float64)
    rise = t.rise_q16.astype(np.float64) / 65535
    for s in range(len(t.seg_start) - 1):
        for k in range(t.seg_start[s], t.seg_start[s + 1]):
            r = rise[k - t.seg_start[0]]
            if s < len(basis):
                dense[s, k] += r * t.enorm[s]
            if s >= 1:
                dense[s - 1, k] += (1 - r) * t.enorm[s - 1]
    assert np.allclose(dense, basis, rtol=0, atol=1e-4 * basis.max())
    assert np.array_equal(dense > 1e-6 * basis.max(), basis > 1e-6 * basis.max())
    assert len(t.window_q15) == spec.features.win_length and t.window_q15.max() > 32000
    assert np.all(np.diff(t.thresholds_f32) >= 0) and np.all(np.diff(t.thresholds_u64) >= 0)
    # the float thresholds the C makes from three constants are the exact ones, to float rounding
    exact = frontend._thresholds(spec) * 2.0 ** 60
    ok = exact > 0
    assert np.allclose(t.thresholds_f32[ok], exact[ok], rtol=1e-4)


def test_an_fft_size_cmsis_cannot_do_is_one_line(tmp_path):
    from acdeploy.errors import ConfigError
    from acdeploy.model_info import ModelInfo

    info = ModelInfo(feature_config={**CONFIGS["quickstart"].__dict__, "n_fft": 1000, "win_length": 800})
    with pytest.raises(ConfigError, match=r"m\.tflite: feature_config\.n_fft is 1000; CMSIS-DSP's real FFT"):
        frontend.spec_for(info, None, "m.tflite")
