"""Training benchmark: teacher, KD student and no-KD student over several seeds, plus the DCASE
2022 baseline CNN with and without device-robust augmentation, on the default synthetic data.

    .venv/bin/python benchmarks/bench_train.py [--out runs/bench_train] [--seeds 0 1 2] [--epochs 20]

Every run is an ordinary `acdeploy train` model dir under --out, so an interrupted benchmark
resumes where it stopped. Prints the markdown for the "Training" section of docs/BENCHMARKS.md
and writes it to OUT/training.md (with the raw figures in OUT/results.json).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

from acdeploy.fileio import write_json, write_text
from acdeploy.schema import load_config

NO_DEVICE_AUG = {"augment.device_eq": False, "augment.freq_mixstyle": False}
REPORT_ONLY = False  # --report-only: summarise finished runs, train nothing


def _run(role: str, data: Path, out: Path, overrides: dict) -> dict | None:
    from acdeploy.train.run import train_run

    done_before = (out / "metrics.json").exists() and not (out / ".partial").exists()
    if REPORT_ONLY and not done_before:
        return None
    train_run(load_config(None, overrides), role, str(data), out)
    m = json.loads((out / "metrics.json").read_text())
    info = json.loads((out / "model_info.json").read_text())
    # training wall time = the epochs' own times (fit + validation), so resumed runs add up right
    rows = (out / "history.csv").read_text().splitlines()
    col = rows[0].split(",").index("seconds")
    seconds = sum(float(r.split(",")[col]) for r in rows[1:])
    return {
        "acc": m["accuracy"], "macro": m["macro_accuracy"], "log_loss": m["log_loss"],
        "seen_acc": m["seen"]["accuracy"], "unseen_acc": m["unseen"]["accuracy"],
        "seen_ll": m["seen"]["log_loss"], "unseen_ll": m["unseen"]["log_loss"],
        "params": info["params"], "macs": info["macs"], "seconds": seconds,
        "per_device": {d: v["accuracy"] for d, v in m["per_device"].items()},
        "n_train": info["n_train"], "n_val": info["n_val"], "n_eval": m["n"], "best_epoch": info["best_epoch"],
    }


def _add(rows: list[dict], result: dict | None) -> None:
    if result is not None:
        rows.append(result)


def _mean_sd(rows: list[dict], key: str) -> str:
    v = np.array([r[key] for r in rows], dtype=float)
    pct = key.endswith("acc") or key == "macro"
    v = 100 * v if pct else v
    fmt = "{:.1f}" if pct else "{:.3f}"
    return (fmt + " ± " + fmt).format(v.mean(), v.std()) if len(v) > 1 else fmt.format(v[0])


def _table(groups: dict[str, list[dict]]) -> str:
    head = ("| model | runs | acc % | macro acc % | log loss | unseen acc % | unseen log loss | seen acc % | params | MACs | wall s |\n"
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    lines = [head]
    for name, rows in groups.items():
        if not rows:
            continue
        lines.append(f"| {name} | {len(rows)} | {_mean_sd(rows, 'acc')} | {_mean_sd(rows, 'macro')} | {_mean_sd(rows, 'log_loss')} | "
                     f"{_mean_sd(rows, 'unseen_acc')} | {_mean_sd(rows, 'unseen_ll')} | {_mean_sd(rows, 'seen_acc')} | "
                     f"{rows[0]['params']:,} | {rows[0]['macs'] / 1e6:.2f} M | {np.mean([r['seconds'] for r in rows]):.0f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/bench_train"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=20, help="epochs of every run")
    ap.add_argument("--teacher-epochs", type=int, default=None, help="teacher epochs (default: --epochs)")
    ap.add_argument("--teacher-width", type=float, default=1.0)
    ap.add_argument("--teacher-depth", type=int, default=2, help="blocks per stage (registry default 2: 1.6 M params)")
    ap.add_argument("--shared-teacher", action="store_true",
                    help="train the teacher for the first seed only; every seed's student distils from it")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--skip-kd", action="store_true", help="only the baseline runs (e.g. in a second process with its own --out)")
    ap.add_argument("--data", type=Path, default=None, help="dataset dir (default: OUT/data, synthesised with defaults)")
    ap.add_argument("--report-only", action="store_true", help="summarise the finished runs under OUT; train nothing")
    args = ap.parse_args()
    global REPORT_ONLY
    REPORT_ONLY = args.report_only
    out = args.out
    data = args.data or out / "data"
    if not (data / "meta.csv").exists() and not REPORT_ONLY:
        from acdeploy.cli import main as cli

        if cli(["data", "synth", str(data)]) != 0:
            return 1
    base = {"train.epochs": args.epochs}
    groups: dict[str, list[dict]] = {"teacher": [], "student, KD": [], "student, no KD": [],
                                     "dcase2022_baseline, device aug": [], "dcase2022_baseline, no device aug": []}
    results = out / "results.json"
    teacher_arch = {"teacher.width": args.teacher_width, "teacher.depth": args.teacher_depth}
    # The KD comparison first (teacher, KD student, no-KD student per seed), then the baselines.
    for seed in [] if args.skip_kd else args.seeds:
        s = {**base, "train.seed": seed}
        t_dir = out / f"teacher_s{args.seeds[0] if args.shared_teacher else seed}"
        if not (args.shared_teacher and seed != args.seeds[0]):
            t_over = {**s, **teacher_arch, "train.epochs": args.teacher_epochs or args.epochs}
            if args.shared_teacher:
                t_over["train.seed"] = args.seeds[0]
            _add(groups["teacher"], _run("teacher", data, t_dir, t_over))
        _add(groups["student, KD"], _run("student", data, out / f"student_kd_s{seed}", {**s, "distill.teachers": [str(t_dir)]}))
        _add(groups["student, no KD"], _run("student", data, out / f"student_nokd_s{seed}", {**s, "distill.enabled": False}))
        write_json(results, groups)
        print(_table(groups), file=sys.stderr)
    for seed in [] if args.skip_baseline else args.seeds:
        bl = {**base, "train.seed": seed, "student.name": "dcase2022_baseline", "distill.enabled": False}
        _add(groups["dcase2022_baseline, device aug"], _run("student", data, out / f"baseline_aug_s{seed}", bl))
        _add(groups["dcase2022_baseline, no device aug"], _run("student", data, out / f"baseline_noaug_s{seed}", {**bl, **NO_DEVICE_AUG}))
        write_json(results, groups)
        print(_table(groups), file=sys.stderr)
    kd, nokd = groups["student, KD"], groups["student, no KD"]
    if kd and nokd:
        d_acc = 100 * (np.mean([r["acc"] for r in kd]) - np.mean([r["acc"] for r in nokd]))
        d_ll = np.mean([r["log_loss"] for r in kd]) - np.mean([r["log_loss"] for r in nokd])
        verdict = f"KD minus no-KD (student): {d_acc:+.1f} accuracy points, {d_ll:+.3f} log loss."
    else:
        verdict = ""
    r0 = next(rows[0] for rows in groups.values() if rows)
    cpu = subprocess.run(["sh", "-c", "nproc"], capture_output=True, text=True).stdout.strip()
    md = "\n".join([
        f"Command: `.venv/bin/python benchmarks/bench_train.py --epochs {args.epochs}"
        f"{f' --teacher-epochs {args.teacher_epochs}' if args.teacher_epochs else ''} --teacher-depth {args.teacher_depth}"
        f"{' --shared-teacher' if args.shared_teacher else ''}"
        f" --seeds {' '.join(map(str, args.seeds))}`"
        f" (machine: {cpu} CPU cores shared with other jobs, {platform.machine()}, no GPU; wall times include that sharing).",
        f"Data: `acdeploy data synth` defaults, {r0['n_train']} train / {r0['n_val']} validation clips (train fold, held out by "
        f"location) and {r0['n_eval']} evaluate-fold clips; metrics on the evaluate fold; unseen = devices s4-s6.",
        f"Mean ± standard deviation over the runs (seeds {', '.join(map(str, args.seeds))}); every run {args.epochs} epochs, cosine schedule, Adam 1e-3, "
        "batch 32, default augmentation (mixup, SpecAugment, device EQ, Freq-MixStyle, gain, shift); KD with a = 0.98, T = 2 "
        + ("from the first seed's teacher (one teacher shared by all students). " if args.shared_teacher else "from the same seed's teacher. ")
        + "Params are deployed parameters (BatchNorm folded), MACs the Keras-side count for one "
        "1 s input.",
        "",
        _table(groups),
        "",
        verdict,
    ])
    write_text(out / "training.md", md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
