"""Security issue #12: names and strings from a model or its model_info.json reach generated C,
Markdown and HTML only through acdeploy/textsafe.py.

Defect 1: a tensor name `x*` + backslash + CR + `/ <C code> /*` closed codegen's comment (GCC
joins lines at backslash-CR) and a constructor in it ran on the build host during
`acdeploy build --target host --run`. Defect 2: class labels and the window name went into
model_settings.h unescaped (raw `#error` lines, unterminated strings).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import flatbuffers
import pytest
from acdeploy.deploy import c_array, codegen
from acdeploy.deploy.memory_plan import plan_memory
from acdeploy.deploy.tflite_reader import read_tflite
from conftest import require_tools
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

from acdeploy.cli import main

GOLDEN_MODEL = Path(__file__).resolve().parent / "golden" / "mixed.tflite"
CONV0_FILTER = 9  # mixed.tflite: the first conv's filter, named in exactly one comment of acnet.c
MARK = "acdeploy_pwn"  # an identifier that only the payload contains


def payload(marker_file: Path) -> str:
    """The reported exploit: a constructor that creates `marker_file` when the program starts."""
    return ("x*\\\r/ extern int system(const char *); __attribute__((constructor)) static void "
            f"{MARK}(void) {{ system(\"touch '{marker_file}'\"); }} /*")


HOSTILE = [  # one per tensor, cycled
    "a/*b", "c*/d", 'q"u\'o"te', "new\nline #error injected", "cr\rlf\r\n", "nul\0byte",
    "caf\u00e9 \u4e2d\u6587 \U0001f600", "trail\\", "tri??/", "??=define X", "/", "*", "//line",
    "\\\r\n#error spliced", "-- <b>&amp;</b> | `x` [l](u) _e_ *s*",
]


def _renamed(model: bytes, names: dict[int, str]) -> bytes:
    m = fb.ModelT.InitFromPackedBuf(model, 0)
    for i, t in enumerate(m.subgraphs[0].tensors):
        if i in names:
            t.name = names[i].encode("utf-8")
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _hostile_model(marker_file: Path | None) -> bytes:
    data = GOLDEN_MODEL.read_bytes()
    n = len(read_tflite(data).tensors)
    names = {i: f"{HOSTILE[i % len(HOSTILE)]}{i}" for i in range(n)}
    if marker_file is not None:
        names[CONV0_FILTER] = payload(marker_file)
    return _renamed(data, names)


def _payload_only_model(marker_file: Path) -> bytes:
    return _renamed(GOLDEN_MODEL.read_bytes(), {CONV0_FILTER: payload(marker_file)})


def _gcc(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(["gcc", *args], capture_output=True, text=True, cwd=cwd)


def _firmware_dir() -> Path:
    import acdeploy.firmware_stub as stub

    return Path(stub.__file__).parent


def _tokens_outside_comments(path: Path, include: Path) -> str:
    """The preprocessed translation unit (comments gone, only the file's own lines)."""
    r = _gcc("-std=c99", "-E", "-P", "-I", str(include), "-I", str(_firmware_dir()), str(path))
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture()
def generated(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    marker = tmp_path / "pwned"
    g = read_tflite(_hostile_model(marker))
    net = codegen.generate(g, plan_memory(g), source_name="x*\\\r/ int evil; /*.tflite")
    (tmp_path / "acnet.c").write_text(net.source)
    (tmp_path / "acnet.h").write_text(net.header)
    return tmp_path, marker, net


def test_hostile_names_compile_and_inject_nothing(generated):
    d, marker, net = generated
    obj = d / "acnet.o"
    r = _gcc("-std=c99", "-Wall", "-Wextra", "-Werror", "-Wcomment", "-Wtrigraphs", "-c", "-I", str(d),
             "-I", str(_firmware_dir()), str(d / "acnet.c"), "-o", str(obj))
    assert r.returncode == 0, r.stderr
    pre = _tokens_outside_comments(d / "acnet.c", d)
    for token in (MARK, "system", "constructor", "evil", "injected", "spliced"):
        assert token not in pre, token
    assert not marker.exists()
    # the text around names stays the generator's: one line per comment, printable ASCII
    assert all(c == "\n" or " " <= c <= "~" for c in net.source + net.header)
    assert "\r" not in net.source and "\\" not in "".join(re.findall(r"/\*.*?\*/", net.source, re.S))


def test_payload_in_a_tensor_name_does_not_run_on_the_build_host(tmp_path, capsys):
    """The reported attack, end to end: build for the host and run the firmware."""
    require_tools("gcc", "make")
    marker = tmp_path / "pwned"
    model = tmp_path / "evil.tflite"
    model.write_bytes(_payload_only_model(marker))
    out = tmp_path / "build"
    assert main(["build", "--target", "host", "--run", "--model", str(model), "--out", str(out)]) == 0, \
        capsys.readouterr().err
    assert not marker.exists()
    src = (out / "firmware" / "acnet.c").read_text()
    assert MARK in src  # the name is still there, as comment text
    assert MARK not in _tokens_outside_comments(out / "firmware" / "acnet.c", out / "firmware")
    rep = json.loads((out / "report.json").read_text())
    assert rep["firmware"]["passed"]


def test_hostile_names_build_end_to_end(tmp_path, capsys):
    """Every kind of hostile name at once through `acdeploy build --run`: -Werror firmware build,
    report.md with one table row per layer."""
    require_tools("gcc", "make")
    model = tmp_path / "hostile.tflite"
    model.write_bytes(_hostile_model(tmp_path / "pwned"))
    out = tmp_path / "build"
    assert main(["build", "--target", "host", "--run", "--model", str(model), "--out", str(out)]) == 0, \
        capsys.readouterr().err
    assert not (tmp_path / "pwned").exists()
    md = (out / "report.md").read_text()
    layers = md.split("## Layers")[1].split("\n\n")[1].splitlines()
    assert len(layers) == 2 + 11  # header, rule, one row per layer
    for row in layers:
        assert len(re.split(r"(?<!\\)\|", row)) == 12, row  # 10 cells, no cell split by a name
    assert "<b>" not in md and "\r" not in md and "\0" not in md


LABELS = ['air"port', "back\\slash", "new\nline\n#error injected", "??=trigraph??/", "%s%n", "caf\u00e9 \u4e2d",
          "*/ /* //", "", "tab\there", "x\\\r\n#define ACDEPLOY_NUM_CLASSES 99", "\u00ff\u0001\u007f"]
WINDOW = 'hann"\n#error window'

PRINT_LABELS = r"""
#include <stdio.h>
#include "model_settings.h"
static const char *const labels[] = ACDEPLOY_CLASS_LABELS;
int main(void) {
  unsigned i;
  const unsigned char *p;
  printf("%d\n", ACDEPLOY_NUM_CLASSES);
  for (i = 0; i < sizeof labels / sizeof labels[0]; i++) {
    for (p = (const unsigned char *)labels[i]; *p; p++) printf("%02x", *p);
    printf("\n");
  }
  for (p = (const unsigned char *)ACDEPLOY_FEATURE_WINDOW; *p; p++) printf("%02x", *p);
  printf("\n");
  return 0;
}
"""


def _settings(info: dict) -> str:
    g = read_tflite(GOLDEN_MODEL.read_bytes())
    return c_array.model_settings_h(g, "g_model_data", ["AddConv2D"], 1024, info)


@pytest.mark.parametrize("compiler,std", [("gcc", "-std=c99"), ("g++", "-std=c++11"), ("g++", "-std=c++17")])
def test_class_labels_and_window_round_trip(tmp_path, compiler, std):
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} not installed")
    info = {"classes": LABELS, "feature_config": {"window": WINDOW, "sample_rate": 16000}}
    (tmp_path / "model_settings.h").write_text(_settings(info))
    (tmp_path / "labels.c").write_text(PRINT_LABELS)
    exe = tmp_path / "labels"
    lang = ["-x", "c++"] if compiler == "g++" else []
    r = subprocess.run([compiler, std, "-Wall", "-Wextra", "-Werror", "-Wtrigraphs", "-trigraphs", *lang,
                        "-I", str(tmp_path), str(tmp_path / "labels.c"), "-o", str(exe)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()
    assert int(lines[0]) == len(LABELS)
    assert [bytes.fromhex(x).decode() for x in lines[1:-1]] == LABELS
    assert bytes.fromhex(lines[-1]).decode() == WINDOW


def test_settings_header_lines_are_its_own(tmp_path):
    """Each line of model_settings.h is a comment, a directive or a continuation of one: no
    label can start a line of its own."""
    h = _settings({"classes": LABELS, "feature_config": {"window": WINDOW}})
    assert all(c == "\n" or " " <= c <= "~" for c in h)
    directives = [ln for ln in h.splitlines() if ln.startswith("#")]
    assert not [ln for ln in directives if ln.startswith(("#error", "#include"))]
    assert sum(ln.startswith("#define ACDEPLOY_NUM_CLASSES ") for ln in directives) == 1


@pytest.mark.parametrize("key,value", [
    ("n_fft", float("nan")), ("sample_rate", "16000; int evil"), ("hop_length", 2 ** 40),
    ("fmin", float("inf")), ("log_offset", [1e-6]), ("n_mels", True), ("fmax", 1e300),
])
def test_non_numbers_in_model_info_are_a_one_line_error(tmp_path, capsys, key, value):
    model = tmp_path / "asc.tflite"
    model.write_bytes(GOLDEN_MODEL.read_bytes())
    (tmp_path / "asc.model_info.json").write_text(json.dumps({"classes": ["a"], "feature_config": {key: value}}))
    out = tmp_path / "b"
    assert main(["build", "--target", "cortex-m4", "--model", str(model), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"model_info.json: feature_config.{key} is " in err and "not a finite number" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_standardize_must_be_a_finite_number(tmp_path):
    from acdeploy.errors import ModelError

    with pytest.raises(ModelError, match=r"model_info.json: standardize.mean is nan"):
        _settings({"standardize": {"mean": float("nan"), "std": 1.0}})
    assert "#define ACDEPLOY_STANDARDIZE_STD 2.0f" in _settings({"standardize": {"mean": 0, "std": 2}})


def test_array_name_is_ascii(tmp_path):
    assert c_array.c_name("caf\u00e9-model.v2.tflite") == "g_caf__model_model_data"
    assert c_array.c_name("1st.tflite") == "g__1st_model_data"
