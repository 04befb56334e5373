"""One finished `acdeploy pipeline` run of configs/tiny.yaml per test session, shared by the pipeline
end-to-end tests and the size-budget test. It is made in two steps (`--until lth`, then the full
command) so the resume after the lottery-ticket stage is exercised by the run everyone uses; the
state after the first step is copied aside for the kill-and-resume test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from conftest import require_tools

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "configs" / "tiny.yaml"
TRAINED = ("teacher_0/model.keras", "student/model.keras")  # what a resume must not rewrite


@dataclass
class TinyRun:
    root: Path  # the finished run
    after_lth: Path  # a copy of the run dir as it was after `--until lth`
    until_lth_log: str
    resume_log: str
    trained_mtimes: dict[str, int] = field(default_factory=dict)  # TRAINED files after `--until lth`


def acdeploy(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """One acdeploy command in a fresh process (as a user runs it); stdout/stderr captured."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "acdeploy", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=env)


def pipeline(out: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return acdeploy("pipeline", "--config", TINY, "--out", out, *args, timeout=timeout)


def mtimes(root: Path, rels) -> dict[str, int]:
    return {r: (root / r).stat().st_mtime_ns for r in rels}


def check(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"exit code {proc.returncode}\n{proc.stderr[-4000:]}"
    return proc


_RUNS: dict[Path, TinyRun] = {}


def tiny_run(base: Path) -> TinyRun:
    """The session's finished tiny run under `base` (made on first use)."""
    if base in _RUNS:
        return _RUNS[base]
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")  # the build stage runs the firmware in QEMU
    root, after_lth = base / "tiny", base / "tiny_after_lth"
    first = check(pipeline(root, "--until", "lth"))
    shutil.copytree(root, after_lth, symlinks=True)
    trained = mtimes(root, TRAINED)
    resumed = check(pipeline(root))
    _RUNS[base] = TinyRun(root, after_lth, first.stderr, resumed.stderr, trained)
    return _RUNS[base]
