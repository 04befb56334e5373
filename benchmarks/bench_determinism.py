"""What determinism acdeploy's training gives, and what TensorFlow's switches cost.

    .venv/bin/python benchmarks/bench_determinism.py [--out runs/bench_determinism] [--repeats 2]
        [--set data.clips_per_class=48 ...]

Trains the tiny config's teacher (configs/tiny.yaml) from scratch several times, each run in a
fresh process, under each setting:
  tf-defaults      oneDNN on, no op determinism (TensorFlow's own defaults)
  acdeploy         oneDNN on, train.deterministic=true (acdeploy's default)
  no-oneDNN        TF_ENABLE_ONEDNN_OPTS=0, train.deterministic=true
and each with 1 and 2 threads (OMP_NUM_THREADS, TF_NUM_INTRAOP_THREADS). It prints, per setting,
whether the repeats gave the same weights (same bytes), whether 1 and 2 threads agree, how many
runs crashed, and the training seconds per epoch; the markdown goes to OUT/determinism.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "configs" / "tiny.yaml"
SETTINGS = {
    "tf-defaults": ({"train.deterministic": "false"}, {"TF_ENABLE_ONEDNN_OPTS": "1"}),
    "acdeploy": ({"train.deterministic": "true"}, {"TF_ENABLE_ONEDNN_OPTS": "1"}),
    "no-oneDNN": ({"train.deterministic": "true"}, {"TF_ENABLE_ONEDNN_OPTS": "0"}),
}

# Run in the child: the trained weights' hash and the epochs' own seconds (history.csv).
_DIGEST = """
import hashlib, sys
import acdeploy
from acdeploy.train.modeldir import load_logits_model
h = hashlib.sha256()
for w in load_logits_model(sys.argv[1]).get_weights():
    h.update(w.tobytes())
print(h.hexdigest())
"""


def _acdeploy(args: list[str], env: dict) -> int:
    r = subprocess.run([sys.executable, "-m", "acdeploy", *args], capture_output=True, text=True, env=env, cwd=REPO)
    if r.returncode != 0:
        print(f"acdeploy {' '.join(args)} failed ({r.returncode}):\n{r.stderr[-1500:]}", file=sys.stderr)
    return r.returncode


def _train(data: Path, out: Path, sets: dict, env_extra: dict, threads: int, extra: list[str]) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads),
               TF_NUM_INTEROP_THREADS="1", **env_extra)
    args = ["train", "teacher", "--config", str(TINY), "--data", str(data), "--out", str(out)]
    for kv in [f"{k}={v}" for k, v in sets.items()] + extra:
        args += ["--set", kv]
    if _acdeploy(args, env) != 0:
        return {"digest": None, "epoch_seconds": None, "accuracy": None}
    digest = subprocess.run([sys.executable, "-c", _DIGEST, str(out)], capture_output=True, text=True, env=env,
                            check=True).stdout.strip()
    rows = (out / "history.csv").read_text().splitlines()
    col = rows[0].split(",").index("seconds")
    seconds = [float(r.split(",")[col]) for r in rows[1:]]
    acc = json.loads((out / "metrics.json").read_text())["accuracy"]
    return {"digest": digest, "epoch_seconds": sum(seconds[1:]) / max(1, len(seconds) - 1), "accuracy": acc}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "bench_determinism")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="config override for the data and every training run (repeatable)")
    a = ap.parse_args()
    data = a.out / "data"
    if not (data / "meta.csv").exists():
        if _acdeploy(["data", "synth", str(data), "--config", str(TINY), *[x for kv in a.sets for x in ("--set", kv)]],
                     dict(os.environ)):
            return 1
    results: dict[str, dict[int, list[dict]]] = {}
    # Interleaved (repeat outermost) so a busy machine slows every setting alike.
    for r in range(a.repeats):
        for name, (sets, env_extra) in SETTINGS.items():
            for threads in (1, 2):
                run = a.out / f"{name}-t{threads}-r{r}"
                res = _train(data, run, sets, env_extra, threads, a.sets)
                results.setdefault(name, {}).setdefault(threads, []).append(res)
                print(f"{run.name}: {res}", file=sys.stderr)
    lines = [f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
             f"{a.repeats} runs per setting and thread count, configs/tiny.yaml teacher"
             + (f" with {' '.join(a.sets)}" if a.sets else "") + ".", "",
             "| setting | crashed runs | same bytes, 1 thread | same bytes, 2 threads | 1 vs 2 threads "
             "| s/epoch, 1 thread | s/epoch, 2 threads | accuracy % (1 / 2 threads) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]

    def fmt(values, spec):
        return format(sum(values) / len(values), spec) if values else "-"

    for name, by_t in results.items():
        ok = {t: [x for x in rs if x["digest"]] for t, rs in by_t.items()}
        crashed = sum(len(rs) - len(ok[t]) for t, rs in by_t.items())
        same = {t: ("yes" if len({x["digest"] for x in rs}) == 1 else "no") if len(rs) > 1 else "-" for t, rs in ok.items()}
        cross = "same" if {x["digest"] for x in ok[1]} == {x["digest"] for x in ok[2]} else "differ"
        sec = {t: fmt([x["epoch_seconds"] for x in rs], ".2f") for t, rs in ok.items()}
        acc = {t: fmt([100 * x["accuracy"] for x in rs], ".1f") for t, rs in ok.items()}
        lines.append(f"| {name} | {crashed} | {same[1]} | {same[2]} | {cross} | {sec[1]} | {sec[2]} | {acc[1]} / {acc[2]} |")
    md = "\n".join(lines) + "\n"
    (a.out / "determinism.md").write_text(md)
    (a.out / "results.json").write_text(json.dumps(results, indent=1))
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
