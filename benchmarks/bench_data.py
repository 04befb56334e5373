"""Data-stage benchmark: synthesis and feature-extraction throughput, and the difficulty probe.

    .venv/bin/python benchmarks/bench_data.py [--clips-per-class 100] [--workers 2] [--out DIR]

Prints a markdown block for the "Data" section of docs/BENCHMARKS.md:
- synth: 10 x clips-per-class one-second 44.1 kHz clips (default 1,000), wall time and clips/s;
- features: default (DCASE 2022 baseline) log-mels of the same clips with `workers` processes;
- probe: logistic regression on per-band mean log-mels (train fold -> evaluate fold), accuracy on
  device a, on seen devices and on unseen devices (s4-s6), for each difficulty asked for.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from acdeploy.data.config import FeatureConfig
from acdeploy.data.featstore import open_features
from acdeploy.data.features import extract_features
from acdeploy.data.synth import SynthSpec, synthesize


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the pool workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def probe(fs) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(fs.x).mean(axis=2)
    train = fs.split == "train"
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)).fit(x[train], fs.labels[train])
    ok = clf.predict(x) == fs.labels
    seen = np.isin(fs.devices, fs.seen_devices)
    ev = ~train
    return {
        "train": float(ok[train].mean()),
        "a": float(ok[ev & (fs.devices == "a")].mean()),
        "seen": float(ok[ev & seen].mean()),
        "unseen": float(ok[ev & ~seen].mean()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips-per-class", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--difficulty", type=float, nargs="+", default=[0.5])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--out", type=Path, default=None, help="work dir (default: a temp dir, removed)")
    args = ap.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="bench_data."))
    rows, probes = [], []
    try:
        for difficulty in args.difficulty:
            for seed in args.seeds:
                data = work / f"data_d{difficulty}_s{seed}"
                shutil.rmtree(data, ignore_errors=True)
                spec = SynthSpec(clips_per_class=args.clips_per_class, seed=seed, difficulty=difficulty)
                t, c = time.perf_counter(), cpu_seconds()
                synthesize(data, spec, workers=args.workers, progress=False)
                t_synth, c_synth = time.perf_counter() - t, cpu_seconds() - c
                n = sum(1 for _ in (data / "audio").iterdir())
                t, c = time.perf_counter(), cpu_seconds()
                cache, _ = extract_features(data, FeatureConfig(workers=args.workers), progress=False)
                t_feat, c_feat = time.perf_counter() - t, cpu_seconds() - c
                fs = open_features(cache)
                rows.append((difficulty, seed, n, t_synth, c_synth, t_feat, c_feat, fs.x.shape))
                probes.append((difficulty, seed, probe(fs)))
    finally:
        if args.out is None:
            shutil.rmtree(work, ignore_errors=True)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Command: `.venv/bin/python benchmarks/bench_data.py --clips-per-class {args.clips_per_class} "
          f"--workers {args.workers} --difficulty {' '.join(map(str, args.difficulty))} "
          f"--seeds {' '.join(map(str, args.seeds))}` ({os.cpu_count()} cores, {platform.machine()}, Python "
          f"{platform.python_version()}, 1-min load average {load:.1f} at the end: other jobs shared the cores).\n")
    print("| difficulty | seed | clips | synth wall s | synth clips/s | synth CPU ms/clip "
          "| features wall s | features clips/s | features CPU ms/clip | shape |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for d, s, n, ts, cs, tf, cf, shape in rows:
        print(f"| {d} | {s} | {n} | {ts:.1f} | {n / ts:.0f} | {1000 * cs / n:.1f} "
              f"| {tf:.1f} | {n / tf:.0f} | {1000 * cf / n:.1f} | {'x'.join(map(str, shape))} |")
    print("\nDifficulty probe (logistic regression on per-band mean log-mels, train fold -> evaluate fold):\n")
    print("| difficulty | seed | train acc | eval device a | eval seen devices | eval unseen (s4-s6) |")
    print("|---|---|---|---|---|---|")
    for d, s, p in probes:
        print(f"| {d} | {s} | {100 * p['train']:.1f} % | {100 * p['a']:.1f} % | {100 * p['seen']:.1f} % | {100 * p['unseen']:.1f} % |")


if __name__ == "__main__":
    main()
