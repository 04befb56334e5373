"""The CI size-budget check of issue 7: the tiny pipeline's int8 ticket must fit DCASE 2022 on a
Cortex-M4 (`acdeploy build ... --budget dcase2022` exits 0), and a budget smaller than the model
must fail the build with exit code 3 while the report is still written."""

from __future__ import annotations

import json

import pytest
from pipeline_run import tiny_run

from acdeploy.cli import main

pytestmark = pytest.mark.slow  # trains models or runs QEMU: `make test-fast` leaves it out


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_run(tmp_path_factory.getbasetemp()).root / "model_int8.tflite"


def _build(model, out, *budgets) -> tuple[int, dict]:
    args = ["build", "--target", "cortex-m4", "--model", str(model), "--out", str(out)]
    for b in budgets:
        args += ["--budget", str(b)]
    code = main(args)
    return code, json.loads((out / "report.json").read_text())


@pytest.fixture(scope="module")
def within(model, tmp_path_factory):
    return _build(model, tmp_path_factory.mktemp("size_budget") / "build", "dcase2022")


def test_ticket_within_dcase2022_budget(within):
    code, rep = within
    assert code == 0
    verdicts = {b["name"]: b["ok"] for b in rep["budgets"]}
    assert verdicts["dcase2022"] is True and verdicts["board:cortex-m4"] is True  # DCASE rule and board flash/RAM
    budget = next(b for b in rep["budgets"] if b["name"] == "dcase2022")
    params = next(c for c in budget["checks"] if c["key"] == "params")
    assert 0 < params["value"] <= params["limit"] == 128000


def test_over_budget_exits_3_and_keeps_report(model, within, tmp_path, capfd):
    params = within[1]["totals"]["params"]
    small = tmp_path / "small.yaml"
    small.write_text(f"name: too-small\nmax_params: {params - 1}\n")
    out = tmp_path / "over"
    capfd.readouterr()
    code, rep = _build(model, out, small)
    err = capfd.readouterr().err
    assert code == 3 and "Traceback" not in err
    assert any(ln.startswith("error:") for ln in err.splitlines())
    verdicts = {b["name"]: b["ok"] for b in rep["budgets"]}
    assert False in verdicts.values()
    over = next(b for b in rep["budgets"] if not b["ok"])
    assert over["name"] == "too-small"
    check = next(c for c in over["checks"] if c["key"] == "params")
    assert check["value"] == params and check["limit"] == params - 1 and check["ok"] is False
    assert (out / "model_data.c").exists()  # the build dir is kept for inspection
