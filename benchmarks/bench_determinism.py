"""What determinism acdeploy's training gives, and what TensorFlow's switches cost.

    .venv/bin/python benchmarks/bench_determinism.py [--out runs/bench_determinism] [--repeats 2]
        [--set data.clips_per_class=48 ...]

Trains the tiny config's teacher (configs/tiny.yaml, 8 epochs) from scratch several times, each
run in a fresh process, under each setting:
  default          train.deterministic=false, oneDNN on (TensorFlow's defaults)
  op-determinism   train.deterministic=true (acdeploy's default)
  no-oneDNN        train.deterministic=true and TF_ENABLE_ONEDNN_OPTS=0
and each with 1 and 2 threads (OMP_NUM_THREADS, TF_NUM_INTRAOP_THREADS). It prints, per setting,
how many distinct weight sets the repeats gave (1 = same bytes every time), whether 1 and 2
threads agree, and the training seconds per epoch; the markdown goes to OUT/determinism.md.
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
    "default": ({"train.deterministic": "false"}, {}),
    "op-determinism": ({"train.deterministic": "true"}, {}),
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


def _acdeploy(args: list[str], env: dict) -> None:
    r = subprocess.run([sys.executable, "-m", "acdeploy", *args], capture_output=True, text=True, env=env, cwd=REPO)
    if r.returncode != 0:
        raise SystemExit(f"acdeploy {' '.join(args)} failed:\n{r.stderr[-3000:]}")


def _train(data: Path, out: Path, sets: dict, env_extra: dict, threads: int, extra: list[str]) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads),
               TF_NUM_INTEROP_THREADS="1", **env_extra)
    args = ["train", "teacher", "--config", str(TINY), "--data", str(data), "--out", str(out)]
    for kv in [f"{k}={v}" for k, v in sets.items()] + extra:
        args += ["--set", kv]
    _acdeploy(args, env)
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
        _acdeploy(["data", "synth", str(data), "--config", str(TINY), *[x for kv in a.sets for x in ("--set", kv)]],
                  dict(os.environ))
    results: dict[str, dict[int, list[dict]]] = {}
    # Interleaved (repeat outermost) so a busy machine slows every setting alike.
    for r in range(a.repeats):
        for name, (sets, env_extra) in SETTINGS.items():
            for threads in (1, 2):
                run = a.out / f"{name}-t{threads}-r{r}"
                res = _train(data, run, sets, env_extra, threads, a.sets)
                results.setdefault(name, {}).setdefault(threads, []).append(res)
                print(f"{run.name}: {res['digest'][:12]} {res['epoch_seconds']:.2f} s/epoch acc {res['accuracy']:.3f}",
                      file=sys.stderr)
    lines = [f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
             f"{a.repeats} runs per setting and thread count, configs/tiny.yaml teacher"
             + (f" with {' '.join(a.sets)}" if a.sets else "") + ".", "",
             "| setting | same bytes, 1 thread | same bytes, 2 threads | 1 vs 2 threads | s/epoch, 1 thread | s/epoch, 2 threads |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name, by_t in results.items():
        same = {t: len({x["digest"] for x in rs}) == 1 for t, rs in by_t.items()}
        cross = {x["digest"] for x in by_t[1]} == {x["digest"] for x in by_t[2]}
        sec = {t: sum(x["epoch_seconds"] for x in rs) / len(rs) for t, rs in by_t.items()}
        lines.append(f"| {name} | {'yes' if same[1] else 'no'} | {'yes' if same[2] else 'no'} | "
                     f"{'same' if cross else 'differ'} | {sec[1]:.2f} | {sec[2]:.2f} |")
    md = "\n".join(lines) + "\n"
    (a.out / "determinism.md").write_text(md)
    (a.out / "results.json").write_text(json.dumps(results, indent=1))
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
