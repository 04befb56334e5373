"""`acdeploy pipeline` on bad input: one `error:` line naming the file or key, exit code 1, no
traceback (without --debug), and a failed stage leaves the finished ones recorded so the rerun
after the fix resumes. Only the cheap first stages run here (no training)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pipeline_run import TINY

from acdeploy.cli import main


def _run(capfd, *args) -> tuple[int, list[str]]:
    code = main(["pipeline", "--config", str(TINY), *map(str, args)])
    err = capfd.readouterr().err
    assert "Traceback" not in err
    return code, [ln for ln in err.splitlines() if ln.startswith("error:")]


def _state(root: Path) -> dict:
    return json.loads((root / "pipeline.json").read_text())


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A small synthetic DCASE-layout dataset (3 clips per class) at the tiny config's rate."""
    d = tmp_path_factory.mktemp("bad_input") / "ds"
    assert main(["data", "synth", str(d), "--config", str(TINY), "--set", "data.clips_per_class=3"]) == 0
    return d


def test_unknown_section_names_the_key(tmp_path, capfd):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text((TINY.read_text()) + "prune:\n  levels: 2\n")
    code = main(["pipeline", "--config", str(cfg), "--out", str(tmp_path / "run")])
    err = capfd.readouterr().err
    assert code == 1 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "'prune'" in lines[0] and "bad.yaml" in lines[0]
    assert not (tmp_path / "run" / "pipeline.json").exists()


def test_dataset_not_in_dcase_layout_names_the_file(tmp_path, capfd):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, errors = _run(capfd, "--out", tmp_path / "run", "--set", f"data.path={empty}")
    assert code == 1
    assert len(errors) == 1 and str(empty / "meta.csv") in errors[0]


def test_run_dir_of_another_config_needs_force(dataset, tmp_path, capfd):
    run = tmp_path / "run"
    base = ("--out", run, "--until", "data", "--set", f"data.path={dataset}")
    assert _run(capfd, *base)[0] == 0
    first = _state(run)
    for other in ("pipeline.name=other", "data.seed=7"):
        code, errors = _run(capfd, *base, "--set", other)
        assert code == 1 and len(errors) == 1
        assert str(run) in errors[0] and "--force" in errors[0]
        assert _state(run) == first  # refused before touching the run dir
    code, _ = _run(capfd, *base, "--set", "pipeline.name=other", "--force")
    assert code == 0
    assert _state(run)["identity"]["name"] == "other"


@pytest.mark.slow
def test_stage_failing_midway_keeps_earlier_stages_and_resumes(dataset, tmp_path, capfd):
    data = tmp_path / "ds"
    shutil.copytree(dataset, data)
    wav = sorted((data / "audio").glob("*.wav"))[0]
    good = wav.read_bytes()
    wav.write_bytes(b"RIFF\x00\x00not a wave file")
    run = tmp_path / "run"
    args = ("--out", run, "--until", "features", "--set", f"data.path={data}")
    code, errors = _run(capfd, *args)
    assert code == 1
    assert errors and wav.name in errors[0]
    stages = _state(run)["stages"]
    assert stages["data"]["status"] == "done" and stages["features"]["status"] == "started"

    wav.write_bytes(good)
    code = main(["pipeline", "--config", str(TINY), *map(str, args)])
    err = capfd.readouterr().err
    assert code == 0, err
    assert "data: dataset (synthetic unless data.path is set) (done, skipped)" in err
    assert "features: log-mel features (cached)\n" in err
    assert {k: v["status"] for k, v in _state(run)["stages"].items()} == {"data": "done", "features": "done"}


@pytest.mark.parametrize("text", ["[1, 2]", '"state"', "3", '{"stages": [1]}', '{"identity": {}, "stages": {"data": 1}}'])
def test_pipeline_json_that_is_not_a_state_object_names_the_file(tmp_path, capfd, text):
    run = tmp_path / "run"
    run.mkdir()
    (run / "pipeline.json").write_text(text)
    code, errors = _run(capfd, "--out", run, "--until", "data")
    assert code == 1 and len(errors) == 1, errors
    assert str(run / "pipeline.json") in errors[0] and "internal error" not in errors[0]
    assert (run / "pipeline.json").read_text() == text  # refused before touching the run dir
