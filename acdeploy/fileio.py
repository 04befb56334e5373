"""Atomic writes: every artifact appears whole or not at all (temp name, then rename).

mkstemp/mkdtemp make their entries private (600/700); each artifact gets the mode a plain
`open()` / `mkdir` would have given it under the process umask before it is renamed into place.
A failure whose message names a log inside a temp dir that is about to be deleted keeps that log
beside the output (`<out>.failed.log`) and the message names the kept copy instead.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _owner() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask sets it, and a
    set-and-restore races with threads creating files meanwhile)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _default_mode(path: Path) -> None:
    """Give a temp file or dir (created 600/700) the mode open()/mkdir give under the umask."""
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask())


def _keep_logs(err: BaseException, tmp: Path, keep_as) -> None:
    """Copy every log file inside `tmp` that the message of `err` names to `keep_as(n)` (n = 0, 1,
    ...) and name the copy in the message, so the user can open it after `tmp` is deleted."""
    from acdeploy.errors import AcDeployError

    if not isinstance(err, AcDeployError) or len(err.args) != 1 or not isinstance(err.args[0], str):
        return
    message = err.args[0]
    pattern = re.escape(str(tmp)) + r"/[^\s:;,'\"()]+\.log"
    for n, named in enumerate(dict.fromkeys(re.findall(pattern, message))):
        src = Path(named)
        if not src.is_file():
            continue
        dest = Path(keep_as(n))
        try:
            shutil.copyfile(src, dest)
        except OSError:
            continue
        message = message.replace(named, str(dest))
    err.args = (message,)


def _failed_log_name(path: Path):
    return lambda n: path.with_name(path.name + (".failed.log" if n == 0 else f".failed{n}.log"))


def _temp_prefix(parent: Path, name: str) -> str:
    """A temp-name prefix naming this host and process. Temp files and dirs of a writer that was
    killed (SIGKILL skips every cleanup) are swept here, on the next write of the same artifact;
    a live writer's are kept, and so are other hosts' (a shared run dir on a cluster)."""
    host = socket.gethostname()
    for stale in parent.glob(f".{glob.escape(name)}.{host}-*.*"):
        pid = stale.name[len(f".{name}.{host}-"):].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
    return f".{name}.{_owner()}."


def _tmp_sibling(path: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=_temp_prefix(path.parent, path.name), suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _default_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(o):
    # numpy scalars and arrays reach us from metrics; keep json free of numpy imports here.
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp file name beside `path`; it is renamed onto `path` only if the block succeeds.

    For writers that want a file name (np.save, model.save, savefig) rather than bytes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=_temp_prefix(path.parent, path.stem), suffix=f".tmp{path.suffix}",
                                dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _default_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, replace: bool = True) -> Iterator[Path]:
    """Yield a temp directory beside `path`; it becomes `path` only if the block succeeds.

    With replace=True an existing `path` is swapped out after the new one is complete, so a
    failure leaves the old directory untouched. Logs inside the temp dir that the failure's message
    names are kept as `<path>.failed.log` (see _keep_logs).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(path.parent, path.name), suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        _default_mode(tmp)
        if path.exists():
            if not replace:
                raise FileExistsError(path)
            old = Path(tempfile.mkdtemp(prefix=_temp_prefix(path.parent, path.name), suffix=".old", dir=path.parent))
            old.rmdir()
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
        _failed_log_name(path)(0).unlink(missing_ok=True)  # an earlier failure's log would mislead
    except BaseException as e:
        _keep_logs(e, tmp, _failed_log_name(path))
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temp dir in the system temp dir, deleted afterwards (like tempfile.TemporaryDirectory);
    logs that a failure's message names are kept there as `<prefix>*.failed.log` files."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))

    def keep_as(n: int) -> str:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".failed.log")
        os.close(fd)
        return name

    try:
        yield tmp
    except BaseException as e:
        _keep_logs(e, tmp, keep_as)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
