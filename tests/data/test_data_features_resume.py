"""`acdeploy data features` resumes a killed extraction: the chunks it recorded as done are not
extracted again, and the finished cache equals one made in a single run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from acdeploy.data.config import FeatureConfig
from acdeploy.data.dataset import read_dataset
from acdeploy.data.featstore import open_features
from acdeploy.data.features import CHUNK, PARTIAL, PROGRESS, extract_features
from acdeploy.data.synth import SynthSpec, synthesize

SETTINGS = {"sample_rate": 16000, "n_fft": 1024, "win_length": 640, "hop_length": 320}


def _corrupt_keeping_identity(path: Path) -> bytes:
    """Make `path` unreadable with its size and mtime unchanged (the cache key stays the same)."""
    st = path.stat()
    data = path.read_bytes()
    path.write_bytes(b"JUNK" + data[4:])
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    return data


def _restore(path: Path, data: bytes) -> None:
    st = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.slow  # synthesises and extracts 2,000 s of audio twice
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_killed_extraction_resumes_without_redoing_clips(tmp_path, capsys):
    # 200 clips of 10 s: four chunks, a few seconds of extraction, so the kill lands mid-run.
    data, _ = synthesize(tmp_path / "ds", SynthSpec(clips_per_class=20, seconds=10.0, sample_rate=16000, seed=3),
                         workers=2, progress=False)
    cache = tmp_path / "cache"
    args = [sys.executable, "-m", "acdeploy", "data", "features", str(data), "--cache", str(cache), "--workers", "2",
            "--seconds", "10"] + [a for k, v in SETTINGS.items() for a in ("--set", f"features.{k}={v}")]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    deadline = time.monotonic() + 120
    try:
        while True:
            progress = list(cache.glob(f"*{PARTIAL}/{PROGRESS}"))
            if progress and json.loads(progress[0].read_text())["chunks_done"] >= 1:
                break
            assert proc.poll() is None, "the extraction ended before it could be killed"
            assert time.monotonic() < deadline, "no chunk recorded within 120 s"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    partial = progress[0].parent
    done = json.loads(progress[0].read_text())["chunks_done"]
    assert 1 <= done < 4 and not (partial / "info.json").exists()
    assert [p for p in cache.iterdir() if p != partial] == []  # no cache dir: only the partial one

    # A finished clip made unreadable (same size and mtime, so the same cache): a rerun that
    # extracted it again would fail on it.
    # (not clip 0: the cache key reads the first train clip's length)
    first = data / read_dataset(data).filenames[5]
    original = _corrupt_keeping_identity(first)
    cfg = FeatureConfig(workers=2, **SETTINGS)
    out, hit = extract_features(data, cfg, cache=cache, progress=False, seconds=10.0)
    assert not hit and out.name + PARTIAL == partial.name and not partial.exists()
    assert f"resuming: {done * CHUNK} of 200 clips already extracted" in capsys.readouterr().err

    _restore(first, original)
    fresh, _ = extract_features(data, cfg, cache=tmp_path / "fresh", progress=False, seconds=10.0)
    assert fresh.name == out.name
    np.testing.assert_array_equal(open_features(out).x, open_features(fresh).x)
    assert (out / "index.csv").read_bytes() == (fresh / "index.csv").read_bytes()
