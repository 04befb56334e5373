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
from conftest import require_tools
from kernel_cases import ModelBuilder, _opts
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

from acdeploy.cli import main
from acdeploy.deploy import c_array, codegen
from acdeploy.deploy.memory_plan import plan_memory
from acdeploy.deploy.tflite_reader import read_tflite
from acdeploy.model_info import ModelInfo

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
    _check_report_md((out / "report.md").read_text())


def _check_report_md(md: str) -> None:
    layers = md.split("## Layers")[1].split("\n\n")[1].splitlines()
    assert len(layers) == 2 + 11  # header, rule, one row per layer
    for row in layers:
        assert len(re.split(r"(?<!\\)\|", row)) == 12, row  # 10 cells, no cell split by a name
    assert not re.search(r"(?<!\\)[<>`\[\]]", md.split("![MACs")[0])
    assert "\r" not in md and "\0" not in md


def test_report_md_escapes_names(tmp_path):
    model = tmp_path / "x`<b>|[y].tflite"
    model.write_bytes(_hostile_model(None))
    assert main(["report", str(model), "--budget", "dcase2021", "--out", str(tmp_path / "rep")]) == 0
    md = (tmp_path / "rep" / "report.md").read_text()
    _check_report_md(md)
    assert md.startswith("# Deployment report: x\\`\\<b\\>\\|\\[y\\].tflite\n")


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
    return c_array.model_settings_h(g, "g_model_data", ["AddConv2D"], 1024, ModelInfo.from_dict(info))


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
    assert c_array.c_name("1st.tflite") == "g_1st_model_data"  # no "__": reserved in C++


PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def _hostile_run(root: Path) -> None:
    """A pipeline run dir whose names (teacher dir, devices, levels, budgets, stages) are hostile."""
    devices = {"a|b": {"accuracy": 0.5}, "<script>alert(1)</script>": {"accuracy": 0.4},
               "new\nline": {"accuracy": 0.3}, "`x` [l](u)": {"accuracy": 0.2}}
    metrics = {"accuracy": 0.5, "macro_accuracy": 0.5, "log_loss": 1.0, "per_device": devices}
    teacher = root / "teacher_<img src=x onerror=alert(1)> (a)|b"
    teacher.mkdir(parents=True)
    (teacher / "metrics.json").write_text(json.dumps(metrics))
    (teacher / "curves.png").write_bytes(PNG)
    (root / "lth").mkdir()
    level = {"name": "level_00 | <b>x</b>", "sparsity": 0.5, "nonzero_params": 10, "nonzero_bytes_int8": 10,
             "accuracy": 0.5, "log_loss": 1.0}
    (root / "lth" / "summary.json").write_text(json.dumps(
        {"levels": [level], "ticket": "level_00 | <b>x</b>", "rule": "*rule*\n# heading"}))
    (root / "build").mkdir()
    (root / "build" / "report.json").write_text(json.dumps(
        {"totals": {"params": 10}, "budgets": [{"name": "evil</td><script>|", "ok": True}],
         "firmware": {"target": "host|x", "machine": "<m>"}}))
    (root / "build" / "chart (1)[x].png").write_bytes(PNG)
    (root / "pipeline.json").write_text(json.dumps({"stages": {"st|age\n": {"seconds": 1.0}}}))


def test_pipeline_report_escapes_names(tmp_path):
    from urllib.parse import unquote

    from acdeploy.pipeline_report import MODEL_HEADER, write_report

    root = tmp_path / "run <i>|"
    root.mkdir()
    _hostile_run(root)
    write_report(root)
    md = (root / "report.md").read_text()
    html_text = (root / "report.html").read_text()
    # Markdown: every table row has its header's number of cells
    for block in md.split("\n\n"):
        rows = [r for r in block.splitlines() if r.startswith("|")]
        if rows:
            widths = {len(re.split(r"(?<!\\)\|", r)) for r in rows}
            assert len(widths) == 1, block
    assert len(re.split(r"(?<!\\)\|", md.split("\n\n")[2].splitlines()[0])) == len(MODEL_HEADER) + 2
    assert not re.search(r"(?<!\\)[<>]", md)  # every angle bracket escaped: no tag
    # HTML: no tag from a name, every row of a table as wide as its header
    for tag in ("<script", "<img src=x", "<b>", "<i>", "<m>", "</td><script"):
        assert tag not in html_text, tag
    for table in re.findall(r"<table>(.*?)</table>", html_text, re.S):
        rows = re.findall(r"<tr>(.*?)</tr>", table)
        assert len({r.count("<t") for r in rows}) == 1, table
    # images: Markdown and HTML point at the same existing files
    md_imgs = [unquote(m) for m in re.findall(r"!\[(?:[^\]\\]|\\.)*\]\(([^)\s]+)\)", md)]
    html_imgs = [unquote(m) for m in re.findall(r'<img src="([^"]+)"', html_text)]
    assert len(md_imgs) == 2 and sorted(md_imgs) == sorted(html_imgs)
    assert all((root / p).is_file() for p in md_imgs)


def test_tex_in_a_file_name_is_not_parsed_by_the_chart(tmp_path):
    model = tmp_path / "$\\undefinedcmd{$.tflite"  # mathtext would raise ParseFatalException
    model.write_bytes(GOLDEN_MODEL.read_bytes())
    assert main(["report", str(model), "--out", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "report_layers.png").read_bytes()[:4] == b"\x89PNG"


def test_report_and_cli_errors_show_no_escape_sequences(tmp_path, capsys):
    """A layer name with terminal escapes in `acdeploy report`'s table, and a file name with
    them in a one-line error."""
    m = ModelBuilder()
    x = m.tensor((1, 4), scale=0.1, zp=0, name="input\x1b[31m")
    y = m.tensor((1, 4), scale=1.0 / 256, zp=-128, name="out\x1b]0;title\x07")
    m.op("SOFTMAX", [x], [y], _opts("SoftmaxOptionsT", beta=1.0))
    path = tmp_path / "m.tflite"
    path.write_bytes(m.build([x], [y]))
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "out?]0" in out and "\x1b" not in out
    bad = tmp_path / "evil\x1b[2J.tflite"
    bad.write_bytes(b"junk")
    assert main(["report", str(bad)]) == 1
    cap = capsys.readouterr()
    assert "\x1b" not in cap.out + cap.err and "\x07" not in cap.out + cap.err
    assert "evil?[2J.tflite" in cap.err
