"""Atomic writes: a killed writer leaves only a hidden temp entry, and the next write of the same
artifact sweeps it (but never a live writer's)."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

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


def _umask_child(mask: int, target) -> None:
    """Write every kind of artifact from a child process with umask `mask` (the umask is process-wide)."""
    code = f"""
import os, sys
from pathlib import Path
os.umask({mask:#o})
from acdeploy.fileio import atomic_dir, atomic_path, write_json, write_text
root = Path(sys.argv[1])
write_text(root / "report.md", "x")
write_json(root / "report.json", {{}})
with atomic_path(root / "model.npy") as tmp:
    tmp.write_bytes(b"npy")
with atomic_dir(root / "build") as tmp:
    (tmp / "firmware").mkdir()
    (tmp / "firmware" / "acnet.c").write_text("int x;")
write_text(root / "nested" / "deeper" / "a.txt", "x")
"""
    subprocess.run([sys.executable, "-c", code, str(target)], check=True)


def _mode(p) -> int:
    return p.stat().st_mode & 0o777


def test_outputs_get_the_modes_the_umask_implies(tmp_path):
    for mask, fmode, dmode in ((0o022, 0o644, 0o755), (0o077, 0o600, 0o700), (0o002, 0o664, 0o775)):
        root = tmp_path / f"u{mask:o}"
        root.mkdir()
        _umask_child(mask, root)
        for f in ("report.md", "report.json", "model.npy", "build/firmware/acnet.c", "nested/deeper/a.txt"):
            assert _mode(root / f) == fmode, (mask, f, oct(_mode(root / f)))
        for d in ("build", "build/firmware"):
            assert _mode(root / d) == dmode, (mask, d, oct(_mode(root / d)))


def test_a_log_named_by_a_failure_inside_a_temp_dir_is_kept_beside_the_output(tmp_path):
    from acdeploy.errors import ToolchainError

    out = tmp_path / "build"
    try:
        with atomic_dir(out) as tmp:
            (tmp / "sub").mkdir()
            (tmp / "sub" / "build.log").write_text("cc: error: broken\n")
            raise ToolchainError(f"build failed: broken (full log: {tmp / 'sub' / 'build.log'})")
    except ToolchainError as e:
        message = str(e)
    kept = tmp_path / "build.failed.log"
    assert message == f"build failed: broken (full log: {kept})"
    assert kept.read_text() == "cc: error: broken\n"
    assert not out.exists() and _hidden(tmp_path) == []
    with atomic_dir(out) as tmp:  # a later success removes the stale log
        (tmp / "ok").write_text("ok")
    assert not kept.exists()


def test_failed_firmware_build_names_a_log_that_exists(tmp_path):
    """A real gcc failure inside `acdeploy build`'s temp dir: the message names a log the user can open."""
    import re
    import shutil

    import pytest

    from acdeploy.deploy import firmware
    from acdeploy.errors import ToolchainError

    if not (shutil.which("gcc") and shutil.which("make")):
        pytest.skip("needs gcc and make")
    out = tmp_path / "build"
    with pytest.raises(ToolchainError) as e, atomic_dir(out) as tmp:
        fw = firmware.firmware_dir(tmp)
        firmware.install_project(fw)
        for name in ("acnet.c", "acnet.h", "test_vectors.h"):
            (fw / name).write_text("#error broken on purpose\n")
        firmware.build_firmware(tmp, "host")
    message = str(e.value)
    assert "broken on purpose" in message and str(tmp) not in message
    named = [Path(p) for p in re.findall(r"/\S+\.log", message)]
    assert named == [tmp_path / "build.failed.log"], message
    assert "broken on purpose" in named[0].read_text()


def test_scratch_dir_keeps_a_named_log_in_the_system_temp_dir():
    """`eval --engine c` builds in a scratch dir that is always deleted; a log its error names survives."""
    import pytest

    from acdeploy.errors import ToolchainError
    from acdeploy.fileio import scratch_dir

    with pytest.raises(ToolchainError) as e, scratch_dir("acdeploy-test-") as tmp:
        (tmp / "run.log").write_text("partial output\n")
        raise ToolchainError(f"timed out (output so far: {tmp / 'run.log'})")
    assert not tmp.exists()
    kept = Path(str(e.value).split("output so far: ", 1)[1].rstrip(")"))
    try:
        assert kept.read_text() == "partial output\n" and kept.name.endswith(".failed.log")
    finally:
        kept.unlink()
