"""Compression benchmark: dense KD student, lottery-ticket levels to >= 90 % sparsity, both controls,
and float vs int8 (PTQ) accuracy of every level, on the default synthetic data.

    .venv/bin/python benchmarks/bench_lth.py [--out runs/bench_lth] [--epochs 15] [--levels 4]
        [--prune-fraction 0.6] [--teacher DIR] [--data DIR]

Every step is an ordinary resumable artifact under --out (model dirs, the LTH run dir, .tflite
files), so an interrupted benchmark continues where it stopped. Prints the markdown for the
"Compression" section of docs/BENCHMARKS.md and writes it to OUT/compression.md (raw figures in
OUT/results.json).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

from acdeploy.fileio import write_json, write_text
from acdeploy.schema import load_config


def _train(role: str, data: Path, out: Path, overrides: dict) -> Path:
    from acdeploy.train.run import train_run

    train_run(load_config(None, overrides), role, str(data), out)
    return out


def _int8(model_dir: Path, out: Path, data: Path) -> dict:
    """PTQ int8 figures of one level (cached in the quantize report next to the .tflite)."""
    report = out.with_suffix(".json")
    if not report.exists():
        from acdeploy.cli import main as cli

        if cli(["compress", "quantize", "--model", str(model_dir), "--data", str(data), "--out", str(out)]) != 0:
            raise SystemExit(f"quantize failed for {model_dir}")
    r = json.loads(report.read_text())
    return {"int8_acc": r["int8"]["accuracy"], "int8_ll": r["int8"]["log_loss"], "float_acc": r["float"]["accuracy"],
            "zeros_ok": r["zero_check"]["ok"], "tflite_bytes": r["bytes"]}


def _table(rows: list[dict]) -> str:
    head = ("| run | sparsity % | non-zero params | non-zero bytes (int8) | acc % | macro acc % | log loss | "
            "unseen acc % | int8 acc % | int8 log loss | zeros kept |\n"
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    lines = [head]
    for r in rows:
        lines.append(f"| {r['name']} | {100 * r['sparsity']:.1f} | {r['nonzero_params']:,} | {r['nonzero_bytes_int8']:,} | "
                     f"{100 * r['accuracy']:.1f} | {100 * r['macro_accuracy']:.1f} | {r['log_loss']:.3f} | "
                     f"{100 * r['unseen_accuracy']:.1f} | {100 * r['int8_acc']:.1f} | {r['int8_ll']:.3f} | "
                     f"{'yes' if r['zeros_ok'] else 'NO'} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/bench_lth"))
    ap.add_argument("--data", type=Path, default=None, help="dataset dir (default: OUT/data, synthesised with defaults)")
    ap.add_argument("--teacher", type=Path, default=None, help="a trained teacher dir (default: train one into OUT/teacher)")
    ap.add_argument("--epochs", type=int, default=15, help="epochs of the dense student and of every level")
    ap.add_argument("--teacher-epochs", type=int, default=None, help="teacher epochs (default: --epochs)")
    ap.add_argument("--levels", type=int, default=4)
    ap.add_argument("--prune-fraction", type=float, default=0.6)
    ap.add_argument("--rewind-epoch", type=int, default=1)
    ap.add_argument("--scope", default="global")
    ap.add_argument("--seed", type=int, default=0, help="train.seed of the dense student, the levels and the controls")
    args = ap.parse_args()
    out = args.out
    data = args.data or out / "data"
    if not (data / "meta.csv").exists():
        from acdeploy.cli import main as cli

        if cli(["data", "synth", str(data)]) != 0:
            return 1
    t0 = time.time()
    teacher = args.teacher or _train("teacher", data, out / "teacher",
                                     {"train.epochs": args.teacher_epochs or args.epochs})
    student = _train("student", data, out / "student", {"train.epochs": args.epochs, "train.seed": args.seed,
                                                        "distill.teachers": [str(teacher)]})
    t_dense = time.time() - t0

    from acdeploy.cli import load
    from acdeploy.compress.lth import format_summary, lth_run

    cfg = load(student / "config.yaml", (), **{
        "lth.levels": args.levels, "lth.prune_fraction": args.prune_fraction, "lth.rewind_epoch": args.rewind_epoch,
        "lth.scope": args.scope, "lth.epochs": args.epochs})
    t1 = time.time()
    summary = lth_run(cfg, student, str(data), out / f"lth_{args.scope}", controls=("reinit", "oneshot"))
    t_lth = time.time() - t1
    print(format_summary(summary), file=sys.stderr)

    rows = []
    for r in summary["levels"] + summary["branches"]:
        src = out / f"lth_{args.scope}" / (r["name"] if r["name"].startswith("level_") else f"branches/{r['name']}")
        rows.append({**r, **_int8(src, out / f"int8_{args.scope}" / f"{r['name']}.tflite", data)})
    write_json(out / f"results_{args.scope}.json", {"rows": rows, "summary": summary, "seconds_dense": t_dense, "seconds_lth": t_lth})

    dense, ticket = rows[0], next((r for r in rows if r["name"] == summary["ticket"]), None)
    reinit = next((r for r in rows if r["name"] == "reinit"), None)
    last = next(r for r in rows if r["name"] == f"level_{args.levels:02d}")
    cpu = subprocess.run(["sh", "-c", "nproc"], capture_output=True, text=True).stdout.strip()
    verdict = []
    verdict.append(f"Deepest level ({last['name']}, {100 * last['sparsity']:.1f} % sparse): "
                   f"{100 * (last['accuracy'] - dense['accuracy']):+.1f} points vs dense; "
                   f"reinit control at the same mask: {100 * (reinit['accuracy'] - dense['accuracy']):+.1f} points"
                   if reinit else "")
    verdict.append(f"Ticket by rule ({summary['rule']}): {summary['ticket']}" + (
        f", {100 * ticket['sparsity']:.1f} % sparse, {100 * ticket['accuracy']:.1f} % (int8 {100 * ticket['int8_acc']:.1f} %)"
        if ticket else ""))
    md = "\n".join([
        f"Command: `.venv/bin/python benchmarks/bench_lth.py --epochs {args.epochs}"
        f"{f' --teacher-epochs {args.teacher_epochs}' if args.teacher_epochs else ''} --levels {args.levels} "
        f"--prune-fraction {args.prune_fraction} --rewind-epoch {args.rewind_epoch} --scope {args.scope} --seed {args.seed}` "
        f"(machine: {cpu} CPU cores shared with other jobs, {platform.machine()}, no GPU).",
        f"Data: `acdeploy data synth` defaults; metrics on the evaluate fold, unseen = devices s4-s6. Dense student: "
        f"registry `student` at width 1 with KD (a = 0.98, T = 2) from the teacher, {args.epochs} epochs; every level and "
        f"control retrains {args.epochs} epochs with KD, fresh optimizer, survivors rewound to epoch {args.rewind_epoch}; "
        f"{args.scope} magnitude pruning of {args.prune_fraction:.0%} of the survivors per level, first and last layer at "
        "half that rate; sparsity is over the prunable kernels (Conv2D/Dense; depthwise, biases and BN are never pruned). "
        "Non-zero bytes: int8 weights + int32 biases, BN folded (the DCASE 2021 rule). int8 = full-integer PTQ "
        "(`compress quantize`), evaluated with LiteRT; 'zeros kept' = every pruned weight is still zero in the .tflite.",
        f"Wall time: teacher + dense student {t_dense / 60:.0f} min, LTH levels + controls {t_lth / 60:.0f} min.",
        "",
        _table(rows),
        "",
        *[v for v in verdict if v],
    ])
    write_text(out / f"compression_{args.scope}.md", md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
