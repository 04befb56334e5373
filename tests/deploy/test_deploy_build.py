"""`acdeploy build`: the TFLM C array compiles (C and C++) and holds the file's bytes; budgets;
bad inputs give one line, exit 1 (3 only over budget) and no output dir."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import require_tools
from deploy_models import model_zoo

from acdeploy.cli import main
from acdeploy.deploy.ops import registry

NAMES = ["mixed", "floatio", "tanh", "dilated", "float", "hybrid", "twosig"]

DUMP_C = r"""
#include <stdint.h>
#include <stdio.h>
#include "model_data.h"
#include "model_settings.h"
int main(int argc, char **argv) {
  static const int shape[] = ACDEPLOY_INPUT_SHAPE;
  FILE *f = fopen(argv[1], "wb");
  if (!f || argc < 2) return 2;
  if (((uintptr_t)g_model) % 16 != 0) return 3;
  if (fwrite(g_model, 1, g_model_len, f) != g_model_len) return 4;
  fclose(f);
  printf("%d %d %d %u\n", ACDEPLOY_OP_COUNT, ACDEPLOY_TENSOR_ARENA_SIZE, shape[1], ACDEPLOY_MODEL_ARRAY##_size);
  return 0;
}
"""


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return model_zoo(tmp_path_factory.getbasetemp() / "deploy_models", NAMES)


@pytest.fixture(scope="module")
def built(zoo, tmp_path_factory):
    out = tmp_path_factory.mktemp("build") / "cortex-m"
    assert main(["build", "--target", "cortex-m", "--model", str(zoo["mixed"]), "--out", str(out)]) == 0
    return out


def test_build_dir_contents(built):
    for f in ("model_data.c", "model_data.h", "model_settings.h", "report.json", "report.md", "report_layers.png"):
        assert (built / f).is_file(), f
    assert not [p for p in built.parent.iterdir() if p.name.startswith(".")]  # temp dir renamed away
    rep = json.loads((built / "report.json").read_text())
    # cortex-m is the family default: the Cortex-M4 board
    assert rep["target"]["name"] == "cortex-m4" and rep["budgets"][0]["name"] == "board:cortex-m4"
    assert "alignas(16)" in (built / "model_data.c").read_text()
    assert "const unsigned char g_mixed_model_data[]" in (built / "model_data.c").read_text()


@pytest.mark.parametrize("compiler,std", [("gcc", "-std=c99"), ("gcc", "-std=c11"), ("g++", "-std=c++11")])
def test_c_array_compiles_and_holds_the_file(zoo, built, tmp_path, compiler, std):
    require_tools(compiler)
    lang = ["-x", "c++"] if compiler == "g++" else []
    src = tmp_path / "dump.c"
    src.write_text(DUMP_C.replace("ACDEPLOY_MODEL_ARRAY##_size", "g_mixed_model_data_size"))
    exe = tmp_path / "dump"
    subprocess.run([compiler, std, "-Wall", "-Wextra", "-Werror", "-I", str(built), *lang, str(src),
                    str(built / "model_data.c"), "-o", str(exe)], check=True, capture_output=True)
    out = tmp_path / "bytes.bin"
    r = subprocess.run([str(exe), str(out)], capture_output=True, text=True, check=True)
    assert out.read_bytes() == zoo["mixed"].read_bytes()
    ops, arena, h, size = (int(x) for x in r.stdout.split())
    rep = json.loads((built / "report.json").read_text())
    assert ops == len({layer["op"] for layer in rep["layers"]})
    assert arena == rep["totals"]["arena_bytes"] and h == 16 and size == len(out.read_bytes())


def test_settings_resolver_and_features(zoo, tmp_path):
    model = tmp_path / "asc.tflite"
    model.write_bytes(zoo["floatio"].read_bytes())
    info = {"classes": ["airport", "bus"], "standardize": {"mean": -4.5, "std": 2.0},
            "feature_config": {"sample_rate": 44100, "n_fft": 2048, "hop_length": 882, "n_mels": 40,
                               "fmin": 0.0, "window": "hamming"}, "input_shape": [16, 16, 3]}
    (tmp_path / "asc.model_info.json").write_text(json.dumps(info))
    out = tmp_path / "b"
    assert main(["build", "--target", "cortex-m33", "--model", str(model), "--out", str(out)]) == 0
    h = (out / "model_settings.h").read_text()
    for line in ("#define ACDEPLOY_FEATURE_SAMPLE_RATE 44100", "#define ACDEPLOY_FEATURE_HOP_LENGTH 882",
                 "#define ACDEPLOY_STANDARDIZE_MEAN -4.5f", '#define ACDEPLOY_CLASS_LABELS {"airport", "bus"}',
                 "(resolver).AddQuantize();", "(resolver).AddDequantize();", "#define ACDEPLOY_INPUT_TYPE_FLOAT32 1"):
        assert line in h, line
    assert "g_asc_model_data" in (out / "model_data.h").read_text()
    assert all(o.resolver.startswith("Add") for d in registry() for o in d.opcodes)


def test_over_budget_keeps_build_dir(zoo, tmp_path, capsys):
    budget = tmp_path / "tiny.yaml"
    budget.write_text("max_flash_bytes: 1000\nmax_ram_bytes: 100\n")
    out = tmp_path / "b"
    assert main(["build", "--model", str(zoo["mixed"]), "--out", str(out), "--budget", str(budget)]) == 3
    err = capsys.readouterr().err
    assert "tiny: flash (TFLM)" in err and "> 1,000" in err
    rep = json.loads((out / "report.json").read_text())
    assert [b["ok"] for b in rep["budgets"]] == [False, True]
    assert (out / "model_data.c").is_file()


def _bad(tmp_path, name: str, content: bytes):
    p = tmp_path / name
    p.write_bytes(content)
    return p


@pytest.mark.parametrize("case,match", [
    ("text", "not a TFLite model"),
    ("truncated", "truncated"),
    ("tanh", "/Tanh' (TANH #1): operator TANH is not supported"),
    ("dilated", "SPACE_TO_BATCH_ND"),
    ("float", "the model is float, not full-integer int8"),
    ("hybrid", "the model is float, not full-integer int8"),
    ("twosig", "2 subgraphs"),
    ("missing", "model file not found"),
])
def test_bad_models(zoo, tmp_path, capsys, case, match):
    if case == "text":
        model = _bad(tmp_path, "notes.tflite", b"hello, this is not a flatbuffer")
    elif case == "truncated":
        model = _bad(tmp_path, "cut.tflite", zoo["mixed"].read_bytes()[:3000])
    elif case == "missing":
        model = tmp_path / "nope.tflite"
    else:
        model = zoo[case]
    out = tmp_path / "out"
    for argv in (["build", "--model", str(model), "--out", str(out)], ["report", str(model), "--out", str(out)]):
        assert main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and err.count("\n") == 0 and "Traceback" not in err
        assert match in err and str(model) in err
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_unknown_target_and_budget_make_nothing(zoo, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["build", "--target", "cortex-m99", "--model", str(zoo["mixed"]), "--out", str(out)]) == 1
    assert "unknown target 'cortex-m99'" in capsys.readouterr().err
    assert main(["build", "--budget", "dcase2030", "--model", str(zoo["mixed"]), "--out", str(out)]) == 1
    assert "unknown budget 'dcase2030'" in capsys.readouterr().err
    assert not out.exists()
