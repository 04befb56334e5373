"""Ticket granularity benchmark: unstructured vs block4 (vs N:M) lottery tickets from the same dense
student, teacher and data, level by level (accuracy at equal sparsity), and each rule-chosen ticket at
int8 on the device.

    .venv/bin/python benchmarks/bench_granularity.py --run RUN [--out OUT] [--config configs/quickstart.yaml]
        [--granularity unstructured block4 nm] [--nm 2 8] [--set KEY=VALUE ...] [--build]

RUN is a finished `acdeploy pipeline` run of CONFIG (its data, teacher_0 and student are reused, and
its lth/ is the unstructured run when the config's granularity is unstructured and no --set is
given). Every other
granularity gets its own resumable LTH run in OUT/<granularity>/lth with the config's levels, rate,
scope and epochs. --build quantizes each ticket (PTQ, as the pipeline does) and builds it with
`acdeploy build --target cortex-m --run` (QEMU), recording instructions per inference and flash.
Prints the markdown for the "Ticket granularity" section of docs/BENCHMARKS.md and writes it to
OUT/granularity.md (raw figures in OUT/results.json).
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


def _cli(argv: list[str], ok=(0,)) -> None:
    from acdeploy.cli import main as cli

    if cli(argv) not in ok:
        raise SystemExit(f"failed: acdeploy {' '.join(argv)}")


def _lth(run: Path, out: Path, config: Path, sets: list[str]) -> dict:
    _cli(["compress", "lth", "--model", str(run / "student"), "--teacher", str(run / "teacher_0"), "--data",
          str(run / "data"), "--out", str(out), "--config", str(config), *[a for s in sets for a in ("--set", s)]])
    return json.loads((out / "summary.json").read_text())


def _device(run: Path, lth_dir: Path, out: Path, config: Path) -> dict:
    """int8 accuracy, instructions per inference and flash of the ticket of one LTH run."""
    tflite = out / "ticket_int8.tflite"
    if not tflite.exists():
        _cli(["compress", "quantize", "--model", str(lth_dir / "ticket"), "--data", str(run / "data"), "--out", str(tflite),
              "--config", str(config)])
    build = out / "build"
    if not (build / "report.json").exists():
        _cli(["build", "--target", "cortex-m", "--model", str(tflite), "--data", str(run / "data"), "--out", str(build),
              "--run", "--config", str(config)], ok=(0, 3))
    q = json.loads(tflite.with_suffix(".json").read_text())
    fw = json.loads((build / "report.json").read_text()).get("firmware") or {}
    return {"int8_acc": q["int8"]["accuracy"], "instructions": fw.get("instructions_per_inference"),
            "flash": fw.get("flash_bytes"), "ram": fw.get("ram_bytes"), "passed": fw.get("passed")}


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def _int(v) -> str:
    return "-" if v is None else f"{v:,}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True, help="a finished pipeline run of --config")
    ap.add_argument("--out", type=Path, default=Path("runs/bench_granularity"))
    ap.add_argument("--config", type=Path, default=Path("configs/quickstart.yaml"))
    ap.add_argument("--granularity", nargs="+", default=["unstructured", "block4", "nm"])
    ap.add_argument("--nm", type=int, nargs=2, default=[2, 8], metavar=("N", "M"))
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="config override for every LTH run, e.g. lth.scope=layer")
    ap.add_argument("--build", action="store_true", help="quantize and build every ticket, run it in QEMU")
    args = ap.parse_args()
    from acdeploy.cli import load

    cfg = load(args.config, tuple(args.sets))
    names, runs, seconds = {}, {}, {}
    for g in args.granularity:
        sets = [*args.sets, f"lth.granularity={g}"] + ([f"lth.nm=[{args.nm[0]}, {args.nm[1]}]"] if g == "nm" else [])
        label = f"{args.nm[0]}:{args.nm[1]}" if g == "nm" else g
        names[g] = label
        if g == cfg.lth.granularity and not args.sets and (args.run / "lth" / "summary.json").exists():
            runs[g] = args.run / "lth"  # the pipeline's own run of this config
            seconds[g] = None
            continue
        t0 = time.time()
        runs[g] = args.out / g / "lth"
        _lth(args.run, runs[g], args.config, sets)
        seconds[g] = time.time() - t0
    summaries = {g: json.loads((d / "summary.json").read_text()) for g, d in runs.items()}
    device = {g: _device(args.run, runs[g], args.out / g, args.config) for g in runs} if args.build else {}
    write_json(args.out / "results.json", {"summaries": summaries, "device": device, "seconds": seconds})

    gs = list(runs)
    head = "| level | " + " | ".join(f"{names[g]}: sparsity % | {names[g]}: acc %" for g in gs) + " |"
    lines = [head, "|" + " ---: |" * (1 + 2 * len(gs))]
    n_levels = max(len(s["levels"]) for s in summaries.values())
    for k in range(n_levels):
        cells = []
        for g in gs:
            lv = summaries[g]["levels"]
            r = lv[k] if k < len(lv) else None
            mark = "**" if r and r["name"] == summaries[g]["ticket"] else ""
            cells += [_pct(r and r["sparsity"]), f"{mark}{_pct(r and r['accuracy'])}{mark}"]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    tickets = ["| granularity | ticket | sparsity % | acc % | dense level acc % | int8 acc % | instructions / inference "
               "| firmware flash B | firmware RAM B | equals TFLM |", "| --- | --- |" + " ---: |" * 8]
    for g in gs:
        s = summaries[g]
        t = next((r for r in s["levels"] if r["name"] == s["ticket"]), None)
        dv = device.get(g, {})
        tickets.append(f"| {names[g]} | {s['ticket']} | {_pct(t and t['sparsity'])} | {_pct(t and t['accuracy'])} | "
                       f"{_pct(s['levels'][0]['accuracy'])} | {_pct(dv.get('int8_acc'))} | {_int(dv.get('instructions'))} | "
                       f"{_int(dv.get('flash'))} | {_int(dv.get('ram'))} | {dv.get('passed', '-')} |")
    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    took = ", ".join(f"{names[g]} {s / 60:.1f} min" for g, s in seconds.items() if s is not None)
    md = "\n".join([
        f"Command: `.venv/bin/python benchmarks/bench_granularity.py --run {args.run} --out {args.out} --config {args.config} "
        f"--granularity {' '.join(args.granularity)} --nm {args.nm[0]} {args.nm[1]}"
        f"{''.join(f' --set {x}' for x in args.sets)}{' --build' if args.build else ''}` "
        f"(machine: {platform.machine()}, {cpu} CPU cores shared with other jobs, no GPU). LTH: {cfg.lth.levels} levels at "
        f"p = {cfg.lth.prune_fraction}, scope {cfg.lth.scope}, {cfg.lth.epochs} epochs per level, the same dense student, "
        f"teacher, data and seeds for every granularity" + (f"; LTH wall time {took}" if took else "") + ".",
        "",
        "Level by level (bold: the ticket the rule picks, sparsest within "
        f"{cfg.lth.max_drop} points of its own dense level 0):",
        "",
        *lines,
        "",
        *tickets,
    ])
    write_text(args.out / "granularity.md", md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
