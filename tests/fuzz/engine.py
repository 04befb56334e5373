"""The fuzz loop shared by tests/fuzz/test_fuzz.py (bounded, plain seeded engine) and
scripts/fuzz.py (long runs, coverage-guided by atheris when it is installed).

`Fuzzer.one(data)` runs the Python part of the chain on every input and queues passing models
for the C part, which runs in batches (one gcc build per batch). A passing model joins the queue
when its structure (ops and shapes) is new, otherwise with probability `c_sample`, so the
compiler's time goes to models that differ. Bugs are recorded, not raised, so a long run goes on;
each new bug signature saves its input into `regressions` (if given).
"""

from __future__ import annotations

import json
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import harness
import mutators

SEEDS = Path(__file__).resolve().parent / "seeds"
REGRESSIONS = Path(__file__).resolve().parent / "regressions"


def load_seeds(folder: Path = SEEDS) -> list[bytes]:
    return [p.read_bytes() for p in sorted(folder.glob("*.tflite"))]


@dataclass
class Crash:
    signature: str
    message: str
    path: str | None
    count: int = 1


@dataclass
class Stats:
    executions: int = 0
    refused: int = 0
    passed: int = 0
    c_builds: int = 0
    c_models: int = 0
    c_refused: int = 0
    outcomes: set = field(default_factory=set)
    crashes: dict = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def to_dict(self) -> dict:
        secs = time.monotonic() - self.started
        return {
            "executions": self.executions, "seconds": round(secs, 1),
            "executions_per_second": round(self.executions / secs, 1) if secs else 0.0,
            "refused": self.refused, "passed": self.passed,
            "c_builds": self.c_builds, "c_models_run": self.c_models, "c_models_refused_by_tflm": self.c_refused,
            "distinct_outcomes": len(self.outcomes),
            "crashes": [vars(c) for c in self.crashes.values()],
        }


def _file_name(f: harness.FuzzFailure, data: bytes) -> str:
    stage = re.sub(r"[^a-z0-9]+", "-", f.stage.lower()).strip("-")
    return f"{f.kind}-{stage}-{harness.digest(data)}.tflite"


def _ops_of(data: bytes) -> str:
    from acdeploy.deploy.tflite_reader import read_tflite

    try:
        return ",".join(sorted({op.opcode for op in read_tflite(data).operators})) or "no-ops"
    except Exception:  # noqa: BLE001 - a label only
        return "unreadable"


class Fuzzer:
    def __init__(self, workdir: Path, regressions: Path | None = None, batch: int = 12,
                 c_sample: float = 0.05, seed: int = 0, max_c_builds: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.regressions = regressions
        self.batch = batch
        self.c_sample = c_sample
        self.max_c_builds = max_c_builds
        self.rng = random.Random(seed)
        self.stats = Stats()
        self.pending: list[bytes] = []
        self.structures: set[str] = set()

    def _record(self, f: harness.FuzzFailure, data: bytes | None) -> None:
        sig = f.signature
        if f.kind in ("signal", "hang", "child-error") and data is not None:
            sig += ":" + _ops_of(data)  # no message to tell such failures apart: use the model's ops
        if sig in self.stats.crashes:
            self.stats.crashes[sig].count += 1
            return
        path = None
        if data is not None and self.regressions is not None:
            self.regressions.mkdir(parents=True, exist_ok=True)
            path = self.regressions / _file_name(f, data)
            path.write_bytes(data)
            path = str(path)
        self.stats.crashes[sig] = Crash(sig, str(f)[-2000:], path)

    def one(self, data: bytes) -> harness.Outcome | None:
        self.stats.executions += 1
        try:
            out = harness.check_python(data)
        except harness.FuzzFailure as f:
            self._record(f, data)
            self.stats.outcomes.add(f.signature)
            return None
        self.stats.outcomes.add(out.signature)
        if out.status == "refused":
            self.stats.refused += 1
            return out
        self.stats.passed += 1
        room = self.max_c_builds is None or self.stats.c_builds < self.max_c_builds
        if room and out.macs <= harness.C_MAX_MACS:
            key = out.structure
            if key not in self.structures or self.rng.random() < self.c_sample:
                self.structures.add(key)
                self.pending.append(data)
                if len(self.pending) >= self.batch:
                    self.flush()
        return out

    def flush(self) -> None:
        models, self.pending = self.pending, []
        if not models:
            return
        self.stats.c_builds += 1
        try:
            res = harness.run_c(models, self.workdir)
            self.stats.c_models += res["ran"]
            self.stats.c_refused += res["refused"]
        except harness.FuzzFailure as f:
            self._record(f, f.data)


def run_plain(fuzzer: Fuzzer, executions: int, seed: int, seeds: list[bytes] | None = None,
              max_corpus: int = 500, on_progress=None) -> Stats:
    """A seeded mutation loop: an input whose outcome (stage, message kind) is new joins the
    corpus. The same seed and count give the same inputs on any machine."""
    rng = random.Random(seed)
    corpus = list(seeds if seeds is not None else load_seeds())
    for data in list(corpus):
        fuzzer.one(data)
    while fuzzer.stats.executions < executions:
        parent = corpus[rng.randrange(len(corpus))]
        child = mutators.mutate(parent, rng, corpus)
        before = len(fuzzer.stats.outcomes)
        fuzzer.one(child)
        if len(fuzzer.stats.outcomes) > before and len(corpus) < max_corpus:
            corpus.append(child)
        if on_progress is not None and fuzzer.stats.executions % 1000 == 0:
            on_progress(fuzzer.stats)
    fuzzer.flush()
    return fuzzer.stats


def write_stats(stats: Stats, path: Path, extra: dict | None = None) -> dict:
    d = {**stats.to_dict(), **(extra or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(d, indent=2) + "\n")
    tmp.replace(path)
    return d
