"""Scale benchmark: the data path at 10k and 100k clips, and one worker against two.

    .venv/bin/python benchmarks/bench_scale.py [--clips 10000 100000] [--out DIR] [--two-workers]

For each clip count: a synthetic DCASE 2022-layout set of one-second clips at 16 kHz
(`acdeploy data synth`), `acdeploy data features` (40 mels x 51 frames: n_fft 512, 25 ms window,
20 ms hop, the DCASE 2022 baseline's layout at 16 kHz) and one training epoch of the quickstart
student (labels only, the default augmentations) streamed from the feature cache through tf.data.
Each command runs as its own process; its wall time and peak resident memory (VmHWM of the
command's own process; with its pool workers, the largest of them, from wait4) are recorded.
With --two-workers, the smallest set is also trained for one epoch by two workers on 127.0.0.1
(MultiWorkerMirroredStrategy), both on this machine's cores. Results go to DIR/scale.json and a
markdown block on stdout for the "Scale" section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

DCASE2022_TRAIN = 139_620  # clips in the TAU Urban Acoustic Scenes 2022 Mobile fold1 train split
SAMPLE_RATE = 16000
CONFIG = """\
data: {{clips_per_class: {per_class}, seconds: 1.0, sample_rate: {sr}, seed: 0}}
features: {{sample_rate: {sr}, n_fft: 512, win_length: 400, hop_length: 320, n_mels: 40}}
student: {{name: student, width: 0.5, depth: 1}}
train: {{epochs: 1, batch_size: 32, learning_rate: 0.002, verbose: false}}
"""


def _hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(cmd: list[str], log: Path, env: dict | None = None) -> dict:
    """Run `cmd`; wall seconds, the peak RSS of its own process and of its largest process (MB)."""
    t0 = time.monotonic()
    with log.open("wb") as f:
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    own = [0]

    def sample():
        while p.poll() is None:
            own[0] = max(own[0], _hwm_kb(p.pid))
            time.sleep(0.2)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    t.join()
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {p.returncode}; see {log}")
    return {"seconds": round(time.monotonic() - t0, 1), "own_rss_mb": round(own[0] / 1024, 1),
            "max_rss_mb": round(ru.ru_maxrss / 1024, 1)}


def acdeploy(*args: str) -> list[str]:
    return [sys.executable, "-m", "acdeploy", *args]


def _epoch(run: Path) -> dict:
    with (run / "history.csv").open() as f:
        row = list(csv.DictReader(f))[-1]
    info = json.loads((run / "model_info.json").read_text())
    n_train, n_val = info["n_train"], info["n_val"]
    return {"n_train": n_train, "n_val": n_val, "epoch_seconds": float(row["seconds"]),
            "samples_per_s": round(n_train / float(row["seconds"]), 1)}


def one_size(n: int, root: Path, env: dict) -> dict:
    d = root / f"n{n}"
    d.mkdir(parents=True, exist_ok=True)
    cfg = d / "scale.yaml"
    cfg.write_text(CONFIG.format(per_class=n // 10, sr=SAMPLE_RATE))
    data = d / "data"
    res: dict = {"clips": n}
    if not (data / "meta.csv").is_file():
        res["synth"] = measure(acdeploy("data", "synth", str(data), "--config", str(cfg)), d / "synth.log", env)
    shutil.rmtree(data / ".acdeploy" / "features", ignore_errors=True)  # measure a full extraction
    res["features"] = measure(acdeploy("data", "features", str(data), "--config", str(cfg), "--workers", "2"),
                              d / "features.log", env)
    res["features"]["clips_per_s"] = round(n / res["features"]["seconds"], 1)
    (npy,) = (data / ".acdeploy" / "features").glob("*/features.npy")
    res["features"]["cache_mb"] = round(npy.stat().st_size / 2**20, 1)
    run = d / "train1"
    shutil.rmtree(run, ignore_errors=True)
    res["train"] = measure(acdeploy("train", "student", "--no-kd", "--data", str(data), "--config", str(cfg),
                                    "--out", str(run)), d / "train1.log", env)
    res["train"].update(_epoch(run))
    train_fold = res["train"]["n_train"] + res["train"]["n_val"]
    res["train"]["dcase2022_epoch_minutes"] = round(res["train"]["epoch_seconds"] * DCASE2022_TRAIN / train_fold / 60, 1)
    return res


def two_workers(n: int, root: Path, env: dict) -> dict:
    d = root / f"n{n}"
    ports = []
    socks = [socket.socket() for _ in range(2)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    cluster = ",".join(f"127.0.0.1:{p}" for p in ports)
    run = d / "train2"
    shutil.rmtree(run, ignore_errors=True)
    out: dict = {}
    threads = []

    def worker(i: int) -> None:
        cmd = acdeploy("train", "student", "--no-kd", "--data", str(d / "data"), "--config", str(d / "scale.yaml"),
                       "--out", str(run), "--cluster", cluster, "--task", str(i))
        out[f"worker{i}"] = measure(cmd, d / f"train2_worker{i}.log", env)

    for i in range(2):
        threads.append(threading.Thread(target=worker, args=(i,)))
        threads[-1].start()
    for t in threads:
        t.join()
    out.update(_epoch(run))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--out", type=Path, default=Path("/tmp/acdeploy-scale"))
    ap.add_argument("--two-workers", action="store_true", help="also train the smallest set on two local workers")
    args = ap.parse_args()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    results_path = args.out / "scale.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    for n in args.clips:
        results[str(n)] = one_size(n, args.out, env)
        results_path.write_text(json.dumps(results, indent=2))
        print(json.dumps(results[str(n)]), file=sys.stderr, flush=True)
    if args.two_workers:
        n = min(args.clips)
        results[f"{n}_two_workers"] = two_workers(n, args.out, env)
        results_path.write_text(json.dumps(results, indent=2))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}\n")
    print("| clips | features: s | clips/s | peak RSS MB (own / largest) | cache MB | epoch s | samples/s | train peak RSS MB | DCASE 2022 epoch (min) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in sorted(int(k) for k in results if k.isdigit()):
        r = results[str(n)]
        f, t = r["features"], r["train"]
        print(f"| {n:,} | {f['seconds']} | {f['clips_per_s']} | {f['own_rss_mb']} / {f['max_rss_mb']} | {f['cache_mb']} "
              f"| {t['epoch_seconds']} | {t['samples_per_s']} | {t['own_rss_mb']} | {t['dcase2022_epoch_minutes']} |")
    for k, r in results.items():
        if k.endswith("_two_workers"):
            print(f"\ntwo workers ({k.split('_')[0]} clips): epoch {r['epoch_seconds']} s, {r['samples_per_s']} samples/s; "
                  f"peak RSS {r['worker0']['own_rss_mb']} / {r['worker1']['own_rss_mb']} MB")


if __name__ == "__main__":
    main()
