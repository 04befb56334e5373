"""`acdeploy pipeline` end to end on configs/tiny.yaml: real training, lottery ticket, int8, host
engines, firmware in QEMU and the report, then skip on rerun, resume after `--until lth` and after
a SIGKILL. One finished run (tests/pipeline_run.py) serves every check."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from pipeline_run import REPO, TINY, TRAINED, check, mtimes, pipeline, tiny_run

from acdeploy.native_log import NATIVE_LOG_LINE
from acdeploy.pipeline import STAGE_NAMES

pytestmark = pytest.mark.slow  # trains models or runs QEMU: `make test-fast` leaves it out

CFG = yaml.safe_load(TINY.read_text())


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_run(tmp_path_factory.getbasetemp())


def _json(p: Path) -> dict:
    return json.loads(p.read_text())


def _chance(m: dict) -> float:
    return 1.0 / len(m["classes"]) if "classes" in m else 0.1


def _skipped(log: str) -> set[str]:
    return set(re.findall(r"\[\d+/\d+\] (\w+): [^\n]*\(done, skipped\)", log))


def _ran(log: str) -> set[str]:
    return set(re.findall(r"\[\d+/\d+\] (\w+): ", log)) - _skipped(log)


def test_every_stage_recorded_done(run):
    state = _json(run.root / "pipeline.json")
    assert list(state["stages"]) == STAGE_NAMES
    assert all(s["status"] == "done" for s in state["stages"].values())
    assert state["identity"]["name"] == CFG["pipeline"]["name"]


def test_teacher_learns_above_chance(run):
    m = _json(run.root / "teacher_0" / "metrics.json")
    assert m["n"] >= 30  # enough evaluate clips for 1.5x chance to mean something
    assert m["accuracy"] > 1.5 * _chance(m), m["accuracy"]


def test_int8_model_learns_above_chance(run):
    """The deployed model (KD student, pruned, int8) scored by TFLM on the evaluate fold, and
    re-scored from its per-clip predictions against the dataset's labels."""
    m = _json(run.root / "eval" / "tflm.json")
    assert m["accuracy"] > 1.5 * _chance(m), m["accuracy"]
    cm = np.asarray(m["confusion"])
    assert cm.sum() == m["n"] == len(m["predictions"])
    assert np.trace(cm) / cm.sum() == pytest.approx(m["accuracy"])


def test_level_sparsity_matches_schedule(run):
    """Every layer pruned at rate p (first/last_layer_rate 1 in the config): level k's sparsity is
    1-(1-p)^k. Read from level k itself: which level the ticket rule picks depends on accuracy,
    which drifts between CPUs."""
    lth = _json(run.root / "lth" / "summary.json")
    p, k = CFG["lth"]["prune_fraction"], CFG["lth"]["levels"]
    levels = {r["level"]: r for r in lth["levels"]}
    assert sorted(levels) == list(range(k + 1))
    for j, r in levels.items():
        assert r["sparsity"] == pytest.approx(1 - (1 - p) ** j, abs=0.005), r["name"]
        with np.load(run.root / "lth" / r["name"] / "mask.npz") as mask:  # counted from the mask file
            kept = sum(int(mask[n].sum()) for n in mask.files)
            total = sum(mask[n].size for n in mask.files)
        assert 1 - kept / total == pytest.approx(r["sparsity"], abs=1e-9), r["name"]


def test_int8_model_keeps_the_ticket_zeros(run):
    """Zero weights in the int8 model's kernels, counted independently from the file by LiteRT,
    against the sparsity of whichever level became the ticket."""
    from ai_edge_litert.interpreter import Interpreter

    ticket = _json(run.root / "lth" / "ticket" / "metrics.json")
    it = Interpreter(model_path=str(run.root / "model_int8.tflite"))
    zeros = total = 0
    for d in it.get_tensor_details():
        if d["dtype"] == np.int8 and len(d["shape"]) >= 2:
            try:
                w = it.get_tensor(d["index"])
            except ValueError:  # an activation: no data before allocation
                continue
            zeros, total = zeros + int((w == 0).sum()), total + w.size
    assert total == ticket["prunable"]
    # int8 rounding may zero a few more small weights, never fewer
    assert ticket["sparsity"] - 0.005 <= zeros / total <= ticket["sparsity"] + 0.02


def test_budget_verdict_and_firmware_equal_host(run):
    rep = _json(run.root / "build" / "report.json")
    names = {b["name"]: b for b in rep["budgets"]}
    for b in CFG["pipeline"]["budgets"]:
        assert isinstance(names[b]["ok"], bool) and names[b]["checks"]
    assert names["dcase2022"]["ok"] is True
    fw = rep["firmware"]
    assert fw["ran"] and fw["passed"] is True and fw["mismatches"] == 0 and fw["vectors"] > 0


def test_dense_student_and_ticket_side_by_side_on_the_device(run):
    """The build stage also builds the dense student's int8 firmware; report.md sets both side by side."""
    dense = _json(run.root / "dense" / "build" / "report.json")
    assert dense["firmware"]["passed"] is True
    md = (run.root / "report.md").read_text()
    section = md.split("## Dense student and ticket on the device", 1)[1].split("\n## ", 1)[0]
    cells = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in section.splitlines() if ln.startswith("| ")]
    rows = {c[0]: c[1:] for c in cells}
    for label in ("firmware flash (bytes)", "firmware RAM (bytes)", "instructions per inference"):
        a, b, ratio = rows[label]
        assert int(a.replace(",", "")) > 0 and int(b.replace(",", "")) > 0 and ratio.endswith("x"), (label, rows[label])
    assert rows["instructions per inference"][0] == f"{dense['firmware']['instructions_per_inference']:,}"


def test_host_engines_agree(run):
    """The generated C network on the host and the TFLM interpreter: the same prediction on every clip."""
    tflm = _json(run.root / "eval" / "tflm.json")
    c = _json(run.root / "eval" / "c.json")
    assert len(tflm["predictions"]) == tflm["n"] > 0
    assert c["predictions"] == tflm["predictions"]
    assert c["accuracy"] == tflm["accuracy"]


def test_report_references_existing_pngs(run):
    md = (run.root / "report.md").read_text()
    html = (run.root / "report.html").read_text()
    md_imgs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    html_imgs = re.findall(r'<img src="([^"]+)"', html)
    assert md_imgs and sorted(md_imgs) == sorted(html_imgs)
    assert "lth/lth.png" in md_imgs
    for rel in md_imgs:
        assert (run.root / rel).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", rel
    assert "int8 (tflm)" in md and "budget dcase2022" in md


def test_until_lth_then_resume_keeps_training(run):
    assert _ran(run.until_lth_log) == {"data", "features", "teacher", "student", "lth"}
    assert _skipped(run.resume_log) == {"data", "features", "teacher", "student", "lth"}
    assert _ran(run.resume_log) == {"quantize", "eval", "build", "report"}
    assert mtimes(run.root, TRAINED) == run.trained_mtimes


def test_terminal_shows_only_acdeploy_lines(run):
    """TensorFlow's native notices (oneDNN, CUDA stubs, cuInit) stay hidden without --debug."""
    for log in (run.until_lth_log, run.resume_log):
        assert "[1/9] data" in log
        assert not [ln for ln in log.splitlines() if re.match(NATIVE_LOG_LINE.decode(), ln)]
        assert "oneDNN" not in log and "cuInit" not in log


def test_second_run_is_a_noop(run):
    files = [p for p in run.root.rglob("*") if p.is_file()]
    before = {p: p.stat().st_mtime_ns for p in files}
    log = check(pipeline(run.root)).stderr
    assert _skipped(log) == set(STAGE_NAMES) and not _ran(log)
    assert {p: p.stat().st_mtime_ns for p in files} == before
    assert sorted(p for p in run.root.rglob("*") if p.is_file()) == sorted(files)


def test_sigkill_mid_stage_then_resume(run):
    """A real kill during the quantize stage (after training), then the same command finishes the run."""
    root = run.after_lth
    trained = mtimes(root, TRAINED)
    cmd = [sys.executable, "-m", "acdeploy", "pipeline", "--config", str(TINY), "--out", str(root)]
    proc = subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if "] quantize:" in line and "skipped" not in line:
                time.sleep(2.0)  # inside the stage's command
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "".join(seen[-20:])
    state = _json(root / "pipeline.json")
    assert state["stages"]["quantize"]["status"] == "started"
    log = check(pipeline(root)).stderr
    assert _skipped(log) == {"data", "features", "teacher", "student", "lth"}
    assert _ran(log) == {"quantize", "eval", "build", "report"}
    assert mtimes(root, TRAINED) == trained
    assert all(s["status"] == "done" for s in _json(root / "pipeline.json")["stages"].values())
    assert (root / "model_int8.tflite").read_bytes() == (run.root / "model_int8.tflite").read_bytes()
