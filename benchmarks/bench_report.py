"""Wall time of `acdeploy report` on a ~128 K-parameter int8 model (cold process, best of N).

    .venv/bin/python benchmarks/bench_report.py [--params 128000] [--repeat 5] [--work DIR]

Builds the model once with the TFLite converter (tf_keras, full-integer int8), then runs
`acdeploy report MODEL --budget dcase2022 --target cortex-m4 --out DIR` in fresh processes.
Prints a Markdown table row for docs/BENCHMARKS.md ("Deploy: report speed").
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "deploy"))


def build_model(path: Path, params: int) -> None:
    from deploy_models import _quantize, sized_model

    import acdeploy  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

    path.write_bytes(_quantize(sized_model(params), (40, 51, 1)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=int, default=128_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "bench_report")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    model = args.work / f"cnn_{args.params}.tflite"
    if not model.exists():
        build_model(model, args.params)
    exe = Path(sys.executable).parent / "acdeploy"
    base = [str(exe), "report", str(model), "--budget", "dcase2022", "--target", "cortex-m4"]
    modes = {"terminal table": base, "+ --out (report.md/json, PNG chart)": base + ["--out", str(args.work / "report")]}
    rows = []
    for label, cmd in modes.items():
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            if r.returncode not in (0, 3):
                sys.exit(r.stderr)
        rows.append((label, min(times), sorted(times)[len(times) // 2]))
    import json

    totals = json.loads((args.work / "report" / "report.json").read_text())["totals"]
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    model_desc = f"{totals['params']:,} params, {totals['layers']} layers, {totals['macs']:,} MACs"
    for label, best, median in rows:
        print(f"| {model_desc} | {label} | {best:.2f} s | {median:.2f} s | {machine} |")


if __name__ == "__main__":
    main()
