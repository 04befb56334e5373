"""`acdeploy report`: parameter counts against LiteRT's view of the buffers, budgets, outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from deploy_models import model_zoo

from acdeploy.cli import main
from acdeploy.deploy.build import load_model
from acdeploy.deploy.report import analyze

NAMES = ["mixed", "floatio", "mnv2"]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return model_zoo(tmp_path_factory.getbasetemp() / "deploy_models", NAMES)


def _litert_param_counts(path) -> tuple[int, int, int]:
    """(params, non-zero, non-zero bytes) read through LiteRT: inputs 1 and 2 of conv/dw/FC ops."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    seen, n, nz, nzb = set(), 0, 0, 0
    for op in it._get_ops_details():
        if op["op_name"] not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        for idx in list(op["inputs"])[1:3]:
            if idx < 0 or idx in seen:
                continue
            seen.add(idx)
            a = it.get_tensor(int(idx))
            n += a.size
            nz += int(np.count_nonzero(a))
            nzb += int(np.count_nonzero(a)) * a.itemsize
    return n, nz, nzb


@pytest.mark.parametrize("name", NAMES)
def test_param_counts_match_litert(zoo, name):
    data, g, info = load_model(zoo[name])
    t = analyze(g, zoo[name], len(data)).to_dict()["totals"]
    assert (t["params"], t["nonzero_params"], t["nonzero_param_bytes"]) == _litert_param_counts(zoo[name])
    if name == "mixed":  # half of the first conv's weights were zeroed before conversion
        assert t["nonzero_params"] < t["params"]


def test_report_files_and_json(zoo, tmp_path, capsys):
    out, js = tmp_path / "rep", tmp_path / "r.json"
    code = main(["report", str(zoo["mixed"]), "--target", "cortex-m4", "--budget", "dcase2021",
                 "--budget", "dcase2022", "--out", str(out), "--json", str(js)])
    assert code == 0
    rep = json.loads((out / "report.json").read_text())
    assert json.loads(js.read_text())["totals"] == rep["totals"]
    for key in ("params", "nonzero_params", "param_bytes", "nonzero_param_bytes", "macs", "arena_bytes",
                "c_arena_bytes", "flash_bytes", "c_flash_bytes", "activation_peak_bytes"):
        assert isinstance(rep["totals"][key], int) and rep["totals"][key] > 0, key
    assert [b["name"] for b in rep["budgets"]] == ["dcase2021", "dcase2022", "board:cortex-m4"]
    assert all(b["ok"] and b["checks"] for b in rep["budgets"])
    assert len(rep["layers"]) == 11 and sum(r["macs"] for r in rep["layers"]) == rep["totals"]["macs"]
    assert (out / "report_layers.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    assert "report_layers.png" in md and "dcase2021" in md
    assert "CONV_2D" in capsys.readouterr().out


def test_budget_verdicts_and_exit_3(zoo, tmp_path, capsys):
    # MobileNetV2(0.35) has ~400 K int8 parameters: over dcase2021/2022, under the M7 board
    out = tmp_path / "rep"
    code = main(["report", str(zoo["mnv2"]), "--budget", "dcase2021", "--budget", "dcase2022",
                 "--budget", "dcase2024", "--target", "cortex-m7", "--out", str(out)])
    assert code == 3
    err = capsys.readouterr().err
    assert err.startswith("error:") and "dcase2021: non-zero parameter bytes" in err
    rep = json.loads((out / "report.json").read_text())  # still written
    verdict = {b["name"]: b["ok"] for b in rep["budgets"]}
    assert verdict == {"dcase2021": False, "dcase2022": False, "dcase2024": False, "board:cortex-m7": True}
    params = next(c for b in rep["budgets"] if b["name"] == "dcase2022" for c in b["checks"] if c["key"] == "params")
    assert params == {"name": "parameters", "key": "params", "value": rep["totals"]["params"],
                      "limit": 128_000, "ok": False}


def test_yaml_budget(zoo, tmp_path):
    rep = analyze(*load_model(zoo["mixed"])[1:2], zoo["mixed"], 1).to_dict()  # totals to pick limits around
    macs = rep["totals"]["macs"]
    ok, bad = tmp_path / "ok.yaml", tmp_path / "tight.yaml"
    ok.write_text(f"name: mine\nmax_macs: {macs}\nmax_params: 100000\n")
    bad.write_text(f"max_macs: {macs - 1}\n")
    assert main(["report", str(zoo["mixed"]), "--budget", str(ok)]) == 0
    assert main(["report", str(zoo["mixed"]), "--budget", str(bad)]) == 3


@pytest.mark.parametrize("content,match", [
    ("max_macs: [1, 2\n", "not valid YAML"),
    ("max_bogus: 3\n", "unknown key 'max_bogus'"),
    ("max_macs: lots\n", "key 'max_macs' must be a non-negative number"),
    ("- 1\n- 2\n", "mapping of limits"),
])
def test_malformed_budget_yaml(zoo, tmp_path, capsys, content, match):
    f = tmp_path / "b.yaml"
    f.write_text(content)
    assert main(["report", str(zoo["mixed"]), "--budget", str(f)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(f) in err and match in err


def test_unknown_budget_and_target(zoo, capsys):
    assert main(["report", str(zoo["mixed"]), "--budget", "dcase1999"]) == 1
    assert "unknown budget 'dcase1999'" in capsys.readouterr().err
    assert main(["report", str(zoo["mixed"]), "--target", "cortex-a53"]) == 1
    assert "unknown target 'cortex-a53'" in capsys.readouterr().err


def test_dcase_format(zoo, capsys):
    assert main(["report", str(zoo["mixed"]), "--format", "dcase"]) == 0
    block = yaml.safe_load(capsys.readouterr().out)["system"]["complexity"]
    _, g, _ = load_model(zoo["mixed"])
    t = analyze(g, zoo["mixed"], 1).to_dict()["totals"]
    assert block["total_parameters"] == t["params"]
    assert block["total_parameters_non_zero"] == t["nonzero_params"]
    assert block["macs"] == t["macs"]
    assert block["model_size"] == pytest.approx(t["nonzero_param_bytes"] / 1024, abs=1e-3)


def test_macs_per_second_from_model_info(zoo, tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(zoo["mixed"].read_bytes())
    # a 16-frame input at hop 441 / 44.1 kHz would be 0.16 s: per inference; at hop 27563: 10 s
    info = {"input_shape": [16, 16, 3], "feature_config": {"n_mels": 40, "hop_length": 27563, "sample_rate": 44100}}
    (tmp_path / "m.model_info.json").write_text(json.dumps(info))
    data, g, inf = load_model(model)
    t = analyze(g, model, len(data), info=inf).to_dict()["totals"]
    assert t["input_seconds"] == pytest.approx(10.0, abs=0.01)
    assert t["macs_per_second"] == -(-t["macs"] * 44100 // (16 * 27563))


def test_report_and_build_never_import_tensorflow(zoo, tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from acdeploy.cli import main\n"
        f"assert main(['report', {str(zoo['mixed'])!r}, '--out', {str(tmp_path / 'r')!r}]) == 0\n"
        f"assert main(['build', '--model', {str(zoo['mixed'])!r}, '--out', {str(tmp_path / 'b')!r}]) == 0\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras', 'keras'))\n"
        "assert not heavy, heavy\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
