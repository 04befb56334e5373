"""Keep TensorFlow's C++ log lines off the user's terminal unless `--debug`.

TensorFlow 2.21 writes its native start-up notices (oneDNN, CUDA stubs, "failed call to cuInit")
through absl before any Python code can set a log level, and TF_CPP_MIN_LOG_LEVEL no longer hides
them. So the command line routes file descriptor 2 through a small filter process that drops
lines in absl's native log format and passes everything else through as it arrives. A process
rather than a thread: if acdeploy dies hard (a signal, a native crash), the filter still drains
what was written and then exits on end of file, so no message is lost.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

# absl's native format: severity letter, MMDD, time, thread id, file:line] message. Only I/W/E:
# a fatal (F) line explains a crash and must stay visible. Plus the absl banner, LiteRT's delegate
# notice and the TFLite converter's quantizer settings line.
NATIVE_LOG_LINE = (
    rb"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./+-]+:\d+\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU"
    rb"|fully_quantize: \d+, inference_type: \d+, )"
)

# The filter itself: lines (ended by \n or \r, so progress bars stay live) that match are
# dropped; a partial line is written at once unless it could still become a dropped one.
_FILTER = r"""
import os, re, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for acdeploy; we end at end of file
drop = re.compile(NATIVE_LOG_LINE)
hold = re.compile(rb"^(?:[IWEf]|WARNING: All|INFO: Created)")
out, pending = sys.stdout.fileno(), b""
def write(b):
    while b:
        b = b[os.write(out, b):]
while True:
    chunk = os.read(0, 65536)
    if not chunk:
        break
    parts = re.split(rb"(?<=[\r\n])", pending + chunk)
    pending = parts.pop()
    write(b"".join(p for p in parts if not drop.match(p)))
    if pending and not hold.match(pending[:13]):
        write(pending)
        pending = b""
if pending and not drop.match(pending):
    write(pending)
""".replace("NATIVE_LOG_LINE", repr(NATIVE_LOG_LINE))


@contextlib.contextmanager
def quiet_native_logs(enabled: bool = True) -> Iterator[None]:
    """Filter this process's fd 2 (and its children's) for the duration of the block."""
    if not enabled:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _FILTER], stdin=subprocess.PIPE,
                                stdout=saved, stderr=saved, start_new_session=True)
    except OSError:  # no spare descriptors or processes: show everything rather than fail
        yield
        return
    os.dup2(proc.stdin.fileno(), 2)
    proc.stdin.close()
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(saved, 2)  # our last writer of the pipe closes here; children may still hold it
        os.close(saved)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
