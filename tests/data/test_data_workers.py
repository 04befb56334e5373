"""`acdeploy data features` worker processes die with their parent: a SIGKILLed parent runs no
cleanup, so without PR_SET_PDEATHSIG / the parent watch its pool would keep running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from acdeploy.data.synth import SynthSpec, synthesize


def _children(pid: int) -> set[int]:
    """Live child processes of `pid`, from /proc (psutil may not be installed)."""
    kids = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            pass
    return kids


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has finished


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc")
def test_pool_workers_die_when_the_parent_is_killed(tmp_path):
    # 200 clips of 10 s: four chunks of work, a few seconds of extraction on 2 cores.
    data, _ = synthesize(tmp_path / "ds", SynthSpec(clips_per_class=20, seconds=10.0, sample_rate=16000, seed=1),
                         workers=2, progress=False)
    parent = subprocess.Popen(
        [sys.executable, "-m", "acdeploy", "data", "features", str(data), "--workers", "2",
         "--set", "data.seconds=10", "--set", "features.sample_rate=16000", "--set", "features.n_fft=1024",
         "--set", "features.win_length=640", "--set", "features.hop_length=320"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    try:
        workers: set[int] = set()
        deadline = time.monotonic() + 120
        while len(workers) < 2 and parent.poll() is None and time.monotonic() < deadline:
            workers |= _children(parent.pid)
            time.sleep(0.02)
        assert workers, "the features command started no worker processes"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 20
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = sorted(w for w in workers if _alive(w))
        assert not left, f"worker processes {left} outlived their SIGKILLed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for w in workers if "workers" in locals() else ():
            if _alive(w):
                os.kill(w, signal.SIGKILL)
