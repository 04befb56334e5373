"""Atomic writes: a killed writer leaves only a hidden temp entry, and the next write of the same
artifact sweeps it (but never a live writer's)."""

import os
import signal
import socket
import subprocess
import sys

from acdeploy.fileio import atomic_dir, write_bytes

_KILLED_WRITER = """
import sys, time
from pathlib import Path
from acdeploy.fileio import atomic_dir, write_bytes
with atomic_dir(sys.argv[1]) as tmp:
    (tmp / "part.bin").write_bytes(b"x" * 1000)
    print("WRITING", flush=True)
    time.sleep(60)
"""


def _kill_mid_write(target) -> None:
    p = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "WRITING"
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=30)


def _hidden(parent):
    return sorted(x.name for x in parent.iterdir() if x.name.startswith("."))


def test_killed_writer_leaves_no_artifact_and_is_swept(tmp_path):
    target = tmp_path / "features"
    _kill_mid_write(target)
    assert not target.exists()
    assert len(_hidden(tmp_path)) == 1  # the dead writer's temp dir, nothing else
    with atomic_dir(target) as tmp:
        (tmp / "ok").write_text("done")
    assert (target / "ok").read_text() == "done"
    assert _hidden(tmp_path) == []


def test_live_writers_temp_is_kept(tmp_path):
    target = tmp_path / "model.bin"
    ours = tmp_path / f".{target.name}.{socket.gethostname()}-{os.getpid()}.abc.tmp"
    ours.write_bytes(b"in progress")  # as if this process were half-way through another write
    write_bytes(target, b"data")
    assert target.read_bytes() == b"data"
    assert ours.exists()
