"""TensorFlow's native log lines stay off the terminal unless --debug (acdeploy/native_log.py)."""

from __future__ import annotations

import re
import subprocess
import sys

from acdeploy.native_log import NATIVE_LOG_LINE

SCRIPT = """
import sys
from acdeploy.native_log import quiet_native_logs
with quiet_native_logs(enabled=sys.argv[1] == "1"):
    import tensorflow as tf
    tf.config.list_physical_devices()
    print("ours: first", file=sys.stderr)
    sys.stderr.write("\\rprogress 1"); sys.stderr.flush(); sys.stderr.write("\\rprogress 2\\n")
    print("Important: a line starting with I", file=sys.stderr)
    sys.stderr.write("no newline at the end")
"""


def _stderr(enabled: bool) -> str:
    r = subprocess.run([sys.executable, "-c", SCRIPT, "1" if enabled else "0"], capture_output=True,
                       timeout=300)  # bytes: text mode would turn the \r of a progress bar into \n
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stderr.decode()


def test_tensorflow_native_lines_hidden_ours_kept_in_order():
    raw = _stderr(False)
    native = [ln for ln in raw.splitlines() if re.match(NATIVE_LOG_LINE.decode(), ln)]
    assert native, "TensorFlow printed no native log line here: the filter is not being tested"
    assert _stderr(True) == ("ours: first\n\rprogress 1\rprogress 2\n"
                             "Important: a line starting with I\nno newline at the end")


def test_a_fatal_native_line_stays_visible():
    line = "F0000 00:00:1796103725.592773   10037 some.cc:12] Check failed: x\n"
    code = ("import os\nfrom acdeploy.native_log import quiet_native_logs\n"
            f"with quiet_native_logs():\n    os.write(2, {line.encode()!r})\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stderr == line


def test_the_converters_quantizer_line_is_hidden():
    line = b"fully_quantize: 0, inference_type: 6, input_inference_type: INT8, output_inference_type: INT8\n"
    code = ("import os\nfrom acdeploy.native_log import quiet_native_logs\n"
            f"with quiet_native_logs():\n    os.write(2, {line!r})\n    os.write(2, b'ours\\n')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert r.stderr == b"ours\n"
