"""Fuzz acdeploy's untrusted-model chain (reader, validation, report, C array, C generator, and a
sanitized host build of the generated network checked against TFLite Micro) for a while.

    .venv/bin/python scripts/fuzz.py --minutes 30 [--jobs 1] [--out runs/fuzz] [--seed 1]
                                     [--engine atheris|plain]

With atheris installed (the dev extra) each job is a coverage-guided libFuzzer run whose
mutations are the structured and byte-level mutators of tests/fuzz/mutators.py (plus libFuzzer's
own); otherwise a seeded mutation loop. Every job writes OUT/job-N/stats.json as it goes; at the
end this prints and writes OUT/summary.json: executions, executions per second, refused vs passed,
C builds, coverage (libFuzzer's coverage counters for atheris; distinct outcomes always) and the
crashes, each saved under tests/fuzz/regressions/ with a name saying what failed where.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FUZZ = REPO / "tests" / "fuzz"
STATS_EVERY = 10.0  # seconds between stats.json writes in a job


def _worker(args) -> int:
    sys.path.insert(0, str(FUZZ))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stats_path = out / "stats.json"
    engine_name = args.engine
    if engine_name == "atheris":
        import atheris

        with atheris.instrument_imports(include=["acdeploy"]):
            import engine
            import harness  # noqa: F401
    import engine
    import mutators

    seeds = engine.load_seeds()
    fuzzer = engine.Fuzzer(out / "work", regressions=Path(args.regressions), seed=args.seed,
                           c_sample=args.c_sample)
    last = [time.monotonic()]
    deadline = time.monotonic() + args.minutes * 60

    def progress(stats) -> None:
        now = time.monotonic()
        if now - last[0] >= STATS_EVERY:
            last[0] = now
            engine.write_stats(stats, stats_path, {"engine": engine_name, "finished": False})

    if engine_name == "plain":
        rng = random.Random(args.seed)
        corpus = list(seeds)
        for data in corpus:
            fuzzer.one(data)
        while time.monotonic() < deadline:
            parent = corpus[rng.randrange(len(corpus))]
            child = mutators.mutate(parent, rng, corpus)
            before = len(fuzzer.stats.outcomes)
            fuzzer.one(child)
            if len(fuzzer.stats.outcomes) > before and len(corpus) < 2000:
                corpus.append(child)
            progress(fuzzer.stats)
        fuzzer.flush()
        engine.write_stats(fuzzer.stats, stats_path, {"engine": engine_name, "finished": True})
        return 0

    def test_one(data: bytes) -> None:
        fuzzer.one(bytes(data))
        progress(fuzzer.stats)
        if time.monotonic() >= deadline:  # libFuzzer's own -max_total_time ends without our flush
            fuzzer.flush()
            engine.write_stats(fuzzer.stats, stats_path, {"engine": engine_name, "finished": True})
            os._exit(0)

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < 0.15:
            return atheris.Mutate(data, max_size)
        return mutators.mutate(bytes(data), rng, seeds)[:max_size]

    corpus_dir = out / "corpus"
    corpus_dir.mkdir(exist_ok=True)
    for i, s in enumerate(seeds):
        (corpus_dir / f"seed{i:02d}").write_bytes(s)
    argv = [sys.argv[0], str(corpus_dir), f"-seed={args.seed}", "-max_len=65536", "-rss_limit_mb=4096",
            "-timeout=600", "-print_final_stats=1"]
    atheris.Setup(argv, test_one, custom_mutator=custom_mutator)
    atheris.Fuzz()
    return 0


_COV = re.compile(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+)")


def _main(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    engine_name = args.engine
    if engine_name == "auto":
        try:
            import atheris  # noqa: F401

            engine_name = "atheris"
        except ImportError:
            engine_name = "plain"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    jobs = []
    for j in range(args.jobs):
        jdir = out / f"job-{j}"
        jdir.mkdir(parents=True, exist_ok=True)
        log = open(jdir / "libfuzzer.log", "w")  # noqa: SIM115 - closed below
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--engine", engine_name,
               "--minutes", str(args.minutes), "--out", str(jdir), "--seed", str(args.seed + j),
               "--regressions", str(args.regressions), "--c-sample", str(args.c_sample)]
        jobs.append((jdir, log, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)))
    started = time.monotonic()
    print(f"fuzzing for {args.minutes:g} min with {args.jobs} job(s), engine {engine_name}; stats in {out}/job-*/stats.json")
    for _, log, proc in jobs:
        try:
            proc.wait(timeout=args.minutes * 60 + 900)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    summary = _summarise(out, jobs, engine_name, time.monotonic() - started, args)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    _print(summary)
    return 1 if summary["crashes"] else 0


def _summarise(out: Path, jobs, engine_name: str, seconds: float, args) -> dict:
    total = {"executions": 0, "refused": 0, "passed": 0, "c_builds": 0, "c_models_run": 0,
             "c_models_refused_by_tflm": 0}
    crashes: dict[str, dict] = {}
    outcomes = 0
    cov = None
    exit_codes = []
    for jdir, _, proc in jobs:
        exit_codes.append(proc.returncode)
        p = jdir / "stats.json"
        if p.exists():
            s = json.loads(p.read_text())
            for k in total:
                total[k] += s.get(k, 0)
            outcomes = max(outcomes, s.get("distinct_outcomes", 0))
            for c in s.get("crashes", []):
                crashes.setdefault(c["signature"], c)
        text = (jdir / "libfuzzer.log").read_text(errors="replace") if (jdir / "libfuzzer.log").exists() else ""
        found = _COV.findall(text)
        if found:
            edges, features = int(found[-1][1]), int(found[-1][2])
            cov = {"edges": max(edges, (cov or {}).get("edges", 0)), "features": max(features, (cov or {}).get("features", 0))}
    return {
        **total,
        "seconds": round(seconds, 1),
        "executions_per_second": round(total["executions"] / seconds, 1) if seconds else 0.0,
        "engine": engine_name, "jobs": args.jobs, "minutes": args.minutes, "seed": args.seed,
        "coverage": cov, "distinct_outcomes_max_per_job": outcomes,
        "crashes": list(crashes.values()), "job_exit_codes": exit_codes,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}",
        "command": "scripts/fuzz.py " + " ".join(sys.argv[1:]),
    }


def _print(s: dict) -> None:
    print(f"executions      {s['executions']:,} in {s['seconds']:.0f} s ({s['executions_per_second']:.1f}/s)")
    print(f"refused/passed  {s['refused']:,} / {s['passed']:,}")
    print(f"C builds        {s['c_builds']:,} ({s['c_models_run']:,} networks run under ASan/UBSan, "
          f"{s['c_models_refused_by_tflm']:,} refused by TFLM)")
    if s["coverage"]:
        print(f"coverage        {s['coverage']['edges']:,} edges, {s['coverage']['features']:,} features (libFuzzer)")
    print(f"outcomes        {s['distinct_outcomes_max_per_job']:,} distinct (stage, message kind)")
    print(f"crashes         {len(s['crashes'])}")
    for c in s["crashes"]:
        print(f"  {c['signature']} x{c['count']} -> {c['path']}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", default="runs/fuzz")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--engine", choices=("auto", "atheris", "plain"), default="auto")
    ap.add_argument("--regressions", default=str(FUZZ / "regressions"))
    ap.add_argument("--c-sample", type=float, default=0.25,
                    help="chance that a passing model whose ops and shapes were seen before is compiled")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    return _worker(args) if args.worker else _main(args)


if __name__ == "__main__":
    sys.exit(main())
