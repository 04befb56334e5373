"""Arm Vela (ethos-u-vela), the Ethos-U compiler, run on an int8 .tflite for one NPU target.

Vela is an optional extra (`pip install 'acdeploy[ethos-u]'`), found lazily and run as its own
process (`python -m ethosu.vela`) in a temp dir: its C++ core (Regor) can crash on malformed
input, and a crash must end as one error line, not take the CLI down. What it writes there is
read back: the compiled model (the NPU part as one `ethos-u` custom op, the rest left for the
CPU), the per-layer CSV of `--verbose-performance` and the network summary CSV. The figures are
the estimates of Vela's performance model for the target's system config (Arm/vela.ini).
"""

from __future__ import annotations

import csv
import importlib.metadata
import importlib.util
import io
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from acdeploy.deploy.targets import Npu
from acdeploy.errors import ModelError, ToolchainError

INSTALL_HINT = "pip install 'acdeploy[ethos-u]'"
VELA_CONFIG = "Arm/vela.ini"  # shipped inside ethos-u-vela; holds the system configs and memory modes
DEFAULT_TIMEOUT = 600.0
# Vela's warning for an operator it leaves on the CPU, followed by a "Reason: ..." line.
_CPU_WARNING = re.compile(r"Warning \(supported operators\) operator: (\S+), ofm: '(.*)'")


@dataclass(frozen=True)
class VelaOutput:
    """What one Vela run wrote: the compiled model and its performance estimates."""

    version: str
    compiled: bytes  # the optimised .tflite: NPU subgraphs as `ethos-u` custom ops
    layers: list[dict[str, str]]  # rows of <name>_per-layer.csv (one per NPU/CPU operation)
    summary: dict[str, str]  # the one row of <name>_summary_<system config>.csv
    cpu_reasons: dict[str, tuple[str, str]]  # output tensor name -> (TFLite op, why Vela left it on the CPU)


def vela_version() -> str:
    """The installed ethos-u-vela version, or a ToolchainError saying how to install it."""
    if importlib.util.find_spec("ethosu") is None:
        raise ToolchainError(f"the Ethos-U targets need Arm Vela (ethos-u-vela), which is not installed: {INSTALL_HINT}")
    try:
        return importlib.metadata.version("ethos-u-vela")
    except importlib.metadata.PackageNotFoundError:
        raise ToolchainError(f"the Ethos-U targets need Arm Vela (ethos-u-vela), which is not installed: "
                             f"{INSTALL_HINT}") from None


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "no output"


def _cpu_reasons(log: str) -> dict[str, tuple[str, str]]:
    out = {}
    lines = log.splitlines()
    for k, line in enumerate(lines):
        m = _CPU_WARNING.search(line)
        if m:
            nxt = lines[k + 1].strip() if k + 1 < len(lines) else ""
            out[m.group(2)] = (m.group(1), nxt.removeprefix("Reason:").strip())
    return out


def _read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def compile_model(model: bytes, npu: Npu, where: str, timeout: float = DEFAULT_TIMEOUT) -> VelaOutput:
    """Run Vela on the model bytes for `npu`; `where` names the model in error messages."""
    version = vela_version()
    with tempfile.TemporaryDirectory(prefix="acdeploy-vela-") as tmp:
        tmp = Path(tmp)
        (tmp / "model.tflite").write_bytes(model)
        cmd = [sys.executable, "-m", "ethosu.vela", "model.tflite", "--output-dir", "out",
               "--config", VELA_CONFIG, "--accelerator-config", npu.accelerator,
               "--system-config", npu.system_config, "--memory-mode", npu.memory_mode, "--verbose-performance"]
        try:
            r = subprocess.run(cmd, cwd=tmp, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ToolchainError(f"{where}: Vela {version} did not finish within {timeout:g} s") from None
        log = (r.stdout + r.stderr).decode("utf-8", "replace")
        if r.returncode != 0:
            how = f"was killed by signal {-r.returncode}" if r.returncode < 0 else f"exited {r.returncode}"
            raise ModelError(f"{where}: Vela {version} rejected the model for {npu.accelerator} ({how}): "
                             f"{_last_line(log)}")
        out = tmp / "out"
        compiled = out / "model_vela.tflite"
        per_layer = out / "model_per-layer.csv"
        summary = out / f"model_summary_{npu.system_config}.csv"
        for f in (compiled, per_layer, summary):
            if not f.is_file():
                raise ToolchainError(f"{where}: Vela {version} wrote no {f.name} (does it still take "
                                     f"--verbose-performance?): {_last_line(log)}")
        rows = _read_csv(summary)
        if len(rows) != 1:
            raise ToolchainError(f"{where}: Vela's {summary.name} has {len(rows)} rows, expected 1")
        return VelaOutput(version=version, compiled=compiled.read_bytes(), layers=_read_csv(per_layer),
                          summary=rows[0], cpu_reasons=_cpu_reasons(log))
