"""The golden outputs of the fixture model: what `acdeploy report` and `acdeploy build` write for
tests/deploy/golden/mixed.tflite, with machine-specific paths replaced. Shared by the golden test
and scripts/update_golden.py, so both render exactly the same way."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from acdeploy.cli import main as cli

MODEL = Path(__file__).resolve().parent / "golden" / "mixed.tflite"
BUILD_FILES = ("firmware/acnet.c", "firmware/acnet.h", "model_data.h", "model_settings.h")


def _report_json(path: Path, model: Path) -> str:
    report = json.loads(path.read_text())
    report["model"]["path"] = model.name
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


def render(model: Path = MODEL) -> dict[str, str]:
    """File name -> golden text."""
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        if cli(["report", str(model), "--target", "cortex-m4", "--budget", "dcase2021", "--budget", "dcase2022",
                "--out", str(d / "report")]) != 0:
            raise RuntimeError(f"acdeploy report failed on {model}")
        if cli(["build", "--target", "cortex-m4", "--model", str(model), "--out", str(d / "build")]) != 0:
            raise RuntimeError(f"acdeploy build failed on {model}")
        out = {"mixed.report.json": _report_json(d / "report" / "report.json", model),
               "mixed.report.md": (d / "report" / "report.md").read_text().replace(str(model), model.name)}
        for rel in BUILD_FILES:
            out["mixed.build." + rel.replace("/", ".")] = (d / "build" / rel).read_text()
        return out
