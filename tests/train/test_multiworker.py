"""Multi-worker training (train/distribute.py) with real workers: two `acdeploy` processes on
127.0.0.1 running MultiWorkerMirroredStrategy over gRPC, against a one-process run.

The two-worker runs are small (the tiny config's student, 160 synthetic clips, a few epochs) and
bounded: every process has a timeout and is killed on failure. The workers share the machine's
cores, so nothing here measures speed.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from acdeploy.errors import ConfigError
from acdeploy.train import distribute

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs" / "tiny.yaml"
TIMEOUT = 240  # seconds per command; a tiny run takes well under a minute
# Dropout off so the two runs differ only where multi-worker training must differ: batch-norm
# statistics come from each worker's half of the batch, and all-reduce sums in another order.
COMMON = ["--config", str(TINY), "--set", "student.dropout=0", "--set", "train.verbose=false"]
# Tolerance between the two-worker and the one-process run, per epoch: the training loss and the
# validation log loss may differ by this much (measured here: up to 0.1 and 0.04 over 4 epochs).
TOLERANCE = 0.25


# -- the cluster description (no TensorFlow) ------------------------------------------------------

def test_cli_cluster_names_worker_and_chief():
    c = distribute.cluster_from_cli("127.0.0.1:2222, 127.0.0.1:2223", 1)
    assert c.workers == ("127.0.0.1:2222", "127.0.0.1:2223") and c.num_workers == 2 and not c.is_chief
    assert distribute.cluster_from_cli("h:1,h:2", 0).is_chief
    back = distribute.parse_tf_config(c.tf_config())
    assert back == c


def test_tf_config_with_a_chief_task():
    text = json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]}, "task": {"type": "worker", "index": 0}})
    c = distribute.parse_tf_config(text)
    assert c.num_workers == 3 and not c.is_chief
    assert distribute.parse_tf_config(text.replace('"type": "worker"', '"type": "chief"')).is_chief


@pytest.mark.parametrize(("cluster", "task", "says"), [
    ("127.0.0.1:2222,127.0.0.1:2223", 2, "--task: 2"),
    ("127.0.0.1:2222,127.0.0.1:2223", None, "--task"),
    ("127.0.0.1,127.0.0.1:2223", 0, "HOST:PORT"),
    ("h:1,h:1", 0, "twice"),
])
def test_bad_cli_cluster_is_one_line(cluster, task, says):
    with pytest.raises(ConfigError, match=says):
        distribute.cluster_from_cli(cluster, task)


@pytest.mark.parametrize(("text", "says"), [
    ("{not json", "not valid JSON"),
    ('{"cluster": {"ps": ["a:1"], "worker": ["b:1"]}, "task": {"type": "worker", "index": 0}}', "cluster.ps"),
    ('{"cluster": {"worker": ["b:1"]}, "task": {"type": "worker", "index": 3}}', "task.index"),
    ('{"cluster": {"worker": ["b:1"]}, "task": {"type": "evaluator"}}', "task.type"),
])
def test_bad_tf_config_is_one_line(text, says):
    with pytest.raises(ConfigError, match=says):
        distribute.parse_tf_config(text)


def test_cli_refuses_task_without_cluster(capsys):
    from acdeploy.cli import main

    rc = main(["train", "teacher", "--out", "/nonexistent/x", "--task", "1"])
    err = capsys.readouterr().err
    assert rc == 1 and "--task: only with --cluster" in err and "Traceback" not in err


# -- real workers ---------------------------------------------------------------------------------

def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _env(scratch: Path) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", ACDEPLOY_SCRATCH=str(scratch))
    env.pop("TF_CONFIG", None)
    return env


def _acdeploy(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "acdeploy", *args], env=env, cwd=ROOT,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def _kill(p: subprocess.Popen) -> None:
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
    p.wait(timeout=30)


def _finish(procs: list[subprocess.Popen], logs: list[Path]) -> None:
    """Wait for every process (bounded); on a failure or timeout kill them all and show the logs."""
    deadline = time.monotonic() + TIMEOUT
    try:
        for p in procs:
            p.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    codes = [p.poll() for p in procs]
    for p in procs:
        _kill(p)
    if codes != [0] * len(procs):
        tails = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in logs)
        pytest.fail(f"exit codes {codes} (None = timed out after {TIMEOUT} s)\n{tails}")


def _workers(cmd: list[str], tmp: Path, tag: str) -> tuple[list[subprocess.Popen], list[Path]]:
    cluster = ",".join(f"127.0.0.1:{p}" for p in _free_ports(2))
    logs = [tmp / f"{tag}_worker{i}.log" for i in range(2)]
    procs = [_acdeploy([*cmd, "--cluster", cluster, "--task", str(i)], _env(tmp / "scratch"), logs[i]) for i in range(2)]
    return procs, logs


def _history(run: Path) -> list[dict]:
    with (run / "history.csv").open() as f:
        return list(csv.DictReader(f))


def _state(run: Path) -> dict:
    return json.loads((run / "checkpoints" / "state.json").read_text())


def _one_set_of_artifacts(run: Path, scratch: Path) -> None:
    names = {p.name for p in run.iterdir()}
    assert names == {"model.keras", "model_info.json", "config.yaml", "metrics.json", "history.csv",
                     "curves.png", "confusion.png", "checkpoints"}, names
    work = sorted(p.name for p in (run / "checkpoints").iterdir())
    state = _state(run)
    assert work == sorted({"state.json", "history.csv", "run_config.yaml", state["checkpoint"], state["best_weights"]}), work
    assert not scratch.exists() or not any(scratch.iterdir()), "a worker left its scratch copy behind"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("mw") / "data"
    env = _env(d.parent / "scratch")
    for args in (["data", "synth", str(d)], ["data", "features", str(d)]):
        subprocess.run([sys.executable, "-m", "acdeploy", *args, "--config", str(TINY)], env=env, cwd=ROOT,
                       check=True, timeout=TIMEOUT, capture_output=True)
    return d


@pytest.mark.slow
def test_two_workers_match_one_process(dataset, tmp_path):
    epochs = "4"
    train = ["train", "student", "--no-kd", "--data", str(dataset), "--epochs", epochs, *COMMON]
    procs, logs = _workers([*train, "--out", str(tmp_path / "two")], tmp_path, "two")
    one_log = tmp_path / "one.log"
    _finish(procs, logs)
    one = _acdeploy([*train, "--out", str(tmp_path / "one")], _env(tmp_path / "scratch"), one_log)
    _finish([one], [one_log])

    two_h, one_h = _history(tmp_path / "two"), _history(tmp_path / "one")
    assert [r["epoch"] for r in two_h] == [r["epoch"] for r in one_h] == ["1", "2", "3", "4"]
    for a, b in zip(two_h, one_h, strict=True):
        assert abs(float(a["loss"]) - float(b["loss"])) <= TOLERANCE, (a, b)
        assert abs(float(a["val_log_loss"]) - float(b["val_log_loss"])) <= TOLERANCE, (a, b)
    assert _state(tmp_path / "two")["workers"] == 2 and "workers" not in _state(tmp_path / "one")
    _one_set_of_artifacts(tmp_path / "two", tmp_path / "scratch")
    # both workers printed the same metrics table: they trained one model
    tables = []
    for log in logs:
        lines = log.read_text().splitlines()
        end = next(i for i, line in enumerate(lines) if "best epoch" in line)
        tables.append(lines[end - 8:end])
    assert tables[0] == tables[1] and any("overall" in line or "seen" in line for line in tables[0])


@pytest.mark.slow
def test_killed_worker_resumes_without_redoing_epochs(dataset, tmp_path):
    run = tmp_path / "run"
    train = ["train", "student", "--no-kd", "--data", str(dataset), "--epochs", "6", "--out", str(run), *COMMON]
    procs, logs = _workers(train, tmp_path, "first")
    state_file = run / "checkpoints" / "state.json"
    deadline = time.monotonic() + TIMEOUT
    try:
        while not (state_file.exists() and json.loads(state_file.read_text())["epochs_done"] >= 2):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                pytest.fail("the workers ended or stalled before epoch 2 was committed:\n"
                            + "\n".join(log.read_text(errors="replace")[-2000:] for log in logs))
            time.sleep(0.05)
        _kill(procs[1])  # the non-chief worker dies mid-run; the chief then cannot go on
    finally:
        for p in procs:
            _kill(p)
    before = _state(run)
    assert 2 <= before["epochs_done"] < 6, "the kill came too late to test a resume"

    procs, logs = _workers(train, tmp_path, "second")
    _finish(procs, logs)
    after = _state(run)
    assert after["epochs_done"] == 6
    # the epochs committed before the kill are kept as they were (a redone epoch has a new row)
    assert after["history"][: before["epochs_done"]] == before["history"]
    assert [r["epoch"] for r in after["history"]] == [1, 2, 3, 4, 5, 6]
    _one_set_of_artifacts(run, tmp_path / "scratch")


@pytest.mark.slow
def test_lth_levels_and_pqat_on_two_workers(dataset, tmp_path):
    dense = tmp_path / "dense"
    one_log = tmp_path / "dense.log"
    one = _acdeploy(["train", "student", "--no-kd", "--data", str(dataset), "--epochs", "2", "--out", str(dense), *COMMON],
                    _env(tmp_path / "scratch"), one_log)
    _finish([one], [one_log])
    run = tmp_path / "lth"
    lth = ["compress", "lth", "--model", str(dense), "--data", str(dataset), "--out", str(run), "--levels", "1",
           "--epochs", "2", "--set", "lth.rewind_epoch=1", "--set", "train.verbose=false"]
    procs, logs = _workers(lth, tmp_path, "lth")
    _finish(procs, logs)

    names = {p.name for p in run.iterdir()}
    assert {"level_00", "level_01", "rewind.npz", "summary.json", "ticket.json", "run_config.yaml"} <= names, names
    assert not [n for n in names if n.endswith((".tmp", ".old"))] and not any((run / ".work").glob("*"))
    summary = json.loads((run / "summary.json").read_text())
    assert [r["name"] for r in summary["levels"]] == ["level_00", "level_01"]
    assert 0.4 < summary["levels"][1]["sparsity"] < 0.6  # tiny config: prune_fraction 0.5
    history = (run / "level_01" / "metrics.json").read_text()
    assert json.loads(history)["level"] == 1
    assert not (tmp_path / "scratch").exists() or not any((tmp_path / "scratch").iterdir())
    # both workers printed the same summary table: one run, not two
    tails = [log.read_text().split("ticket:")[0].splitlines()[-3:] for log in logs]
    assert tails[0] == tails[1]

    # prune-preserving QAT of the ticket, fine-tuned on both workers; only the chief writes the .tflite
    q = tmp_path / "int8"
    procs, logs = _workers(["compress", "quantize", "--model", str(run / "ticket"), "--data", str(dataset),
                            "--out", str(q / "model_int8.tflite"), "--mode", "pqat"], tmp_path, "pqat")
    _finish(procs, logs)
    assert sorted(p.name for p in q.iterdir()) == ["model_int8.json", "model_int8.model_info.json", "model_int8.tflite"]
    report = json.loads((q / "model_int8.json").read_text())
    assert report["mode"] == "pqat" and report["zero_check"]["ok"]
    assert not (tmp_path / "scratch").exists() or not any((tmp_path / "scratch").iterdir())


@pytest.mark.slow
def test_mirrored_strategy_still_trains(dataset, tmp_path):
    run = tmp_path / "mirrored"
    log = tmp_path / "mirrored.log"
    p = _acdeploy(["train", "student", "--no-kd", "--data", str(dataset), "--epochs", "1", "--out", str(run), *COMMON,
                   "--set", "train.strategy=mirrored"], _env(tmp_path / "scratch"), log)
    _finish([p], [log])
    assert _state(run)["epochs_done"] == 1 and "workers" not in _state(run)
    _one_set_of_artifacts(run, tmp_path / "scratch")
