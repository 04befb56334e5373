"""The Ethos-U targets: Arm Vela (the real ethos-u-vela) on the golden fixture, a float-I/O model
and a default-student-like model; the report's `ethos_u` section, the build dir (Vela's model as the
TFLM C array, AddEthosU, the Corstone-300 project compiled with arm-none-eabi-gcc as far as it can
be without TFLM and the Ethos-U driver), and the one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from acdeploy import artifacts
from acdeploy.cli import main
from acdeploy.deploy import ethos_step
from acdeploy.deploy.build import load_model
from acdeploy.deploy.macs import vela_macs
from acdeploy.deploy.report_data import Report
from acdeploy.deploy.targets import get_target
from acdeploy.deploy.tflite_reader import read_tflite
from acdeploy.deploy.vela import compile_model
from acdeploy.errors import ModelError

HERE = Path(__file__).parent
GOLDEN = HERE / "golden" / "mixed.tflite"
FLOAT_IO = HERE.parent / "fuzz" / "seeds" / "float_io_0.tflite"
REGRESSIONS = HERE.parent / "fuzz" / "regressions"


@pytest.fixture(scope="module")
def student(tmp_path_factory) -> Path:
    """The registry's default student (width 1, 40 mels x 51 frames), int8 with random weights."""
    import tf_keras as keras

    from acdeploy.compress.quantize import convert_int8
    from acdeploy.train.config import ModelConfig
    from acdeploy.train.models import build_model, inference_model

    shape = (40, 51, 1)
    keras.utils.set_random_seed(0)
    model = inference_model(build_model(ModelConfig(), shape, 10))
    path = tmp_path_factory.mktemp("ethos") / "student.tflite"
    path.write_bytes(convert_int8(model, np.random.default_rng(0).normal(0, 1, (8, *shape)).astype(np.float32)))
    return path


def _result(path: Path, target: str = "ethos-u55-128"):
    data, graph, _ = load_model(path)
    return graph, *ethos_step.ethos_result(data, graph, get_target(target), str(path))


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u65-256"])
def test_vela_output_structure_on_golden(target):
    graph, res, out = _result(GOLDEN, target)
    assert (res.accelerator, res.vela_version[:2]) == (target, "5.")
    assert res.system_config == get_target(target).npu.system_config
    assert res.total_cycles >= res.npu_cycles > 0 and res.inferences_per_second > 0
    assert res.macs == sum(vela_macs(graph))  # Vela's total, as deploy/macs.py counts it
    assert sum(r["macs"] for r in res.layers) >= res.macs
    assert res.npu_operations == len(res.layers) > len(graph.operators)  # softmax splits into many NPU ops
    assert res.cpu_operations == 0 and res.cpu_layers == []
    # Every row belongs to one of our layers: the one whose output it writes, or the lowered layer it
    # is a step of. PAD 4 folds into conv 5; AVERAGE_POOL_2D 6 writes straight into CONCATENATION 7's output.
    assert {r["layer"] for r in res.layers} == {0, 1, 2, 3, 5, 7, 8, 9, 10}
    assert [r["layer"] for r in res.layers].count(10) > 10  # SOFTMAX: many NPU steps
    assert sum(r["cycles"] for r in res.layers) == res.total_cycles
    assert sum(r["npu_cycles"] for r in res.layers) == res.npu_cycles
    conv = next(r for r in res.layers if r["layer"] == 0 and r["npu_op"] == "Conv2D")
    assert conv["macs"] == 16 * 16 * 8 * 3 * 3 * 3 and conv["cycles"] > 0
    assert res.weights_bytes > 0 and (res.sram_bytes > 0 if target == "ethos-u55-128" else res.dram_bytes > 0)
    compiled = read_tflite(out.compiled)
    assert [op.opcode for op in compiled.operators] == [ethos_step.ETHOS_U_OP]  # everything on the NPU
    assert [compiled.tensor(i).shape for i in compiled.inputs] == [graph.tensor(i).shape for i in graph.inputs]


def test_ops_left_on_the_cpu_are_listed():
    graph, res, out = _result(FLOAT_IO)
    cpu = {c["op"]: c for c in res.cpu_layers}
    assert set(cpu) == {"QUANTIZE", "DEQUANTIZE"} and res.cpu_operations == 2
    assert cpu["QUANTIZE"]["index"] == 0 and cpu["DEQUANTIZE"]["index"] == len(graph.operators) - 1
    assert "Float32" in cpu["QUANTIZE"]["reason"] and cpu["DEQUANTIZE"]["reason"]
    compiled = read_tflite(out.compiled)
    assert [op.opcode for op in compiled.operators] == ["QUANTIZE", ethos_step.ETHOS_U_OP, "DEQUANTIZE"]
    assert ethos_step.resolver_calls(compiled) == ["AddQuantize", "AddEthosU", "AddDequantize"]


def test_report_cli_adds_the_ethos_section(tmp_path, capsys):
    assert main(["report", str(GOLDEN), "--target", "ethos-u55-128", "--out", str(tmp_path / "r")]) == 0
    printed = capsys.readouterr().out
    assert "Ethos-U (Vela estimates, not measured: QEMU has no NPU, so this target is build only)" in printed
    rep = Report.read(tmp_path / "r" / artifacts.REPORT_JSON)  # the section round-trips through the validator
    e = rep.ethos_u
    assert e is not None and e.compiled_model is None and e.total_cycles > 0 and "build only" in e.note
    assert json.loads((tmp_path / "r" / artifacts.REPORT_JSON).read_text())["ethos_u"]["layers"][0]["target"] == "NPU"
    md = (tmp_path / "r" / artifacts.REPORT_MD).read_text()
    assert "## Ethos-U (Vela estimates)" in md and "QEMU models no Ethos-U NPU" in md
    assert f"| {e.total_cycles:,} (" in md or f"{e.total_cycles:,}" in md


def _compile_check(fw_dir: Path) -> set[str]:
    """`make check` of the generated project: the C that needs neither TFLM nor the driver."""
    assert shutil.which("arm-none-eabi-gcc"), "arm-none-eabi-gcc is a test dependency (Debian gcc-arm-none-eabi)"
    r = subprocess.run(["make", "-C", str(fw_dir), "check"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "-mcpu=cortex-m55" in r.stdout
    # the layout link: vector table at the ITCM's start, the model in DDR where the NPU reads it
    nm = subprocess.run(["arm-none-eabi-nm", str(fw_dir / "build" / "layout.elf")], capture_output=True, text=True)
    symbols = {line.split()[-1]: int(line.split()[0], 16) for line in nm.stdout.splitlines() if len(line.split()) == 3}
    assert symbols["vector_table"] == 0x10000000
    model = [a for name, a in symbols.items() if name.endswith("_model_data")]
    assert len(model) == 1 and 0x70000000 <= model[0] < 0x70000100 and model[0] % 16 == 0
    assert 0x30000000 < symbols["__stack_top__"] <= 0x30080000
    return {p.name for p in (fw_dir / "build").glob("*.o")}


@pytest.mark.toolchain
def test_build_golden_for_u55(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["build", "--target", "ethos-u55-128", "--model", str(GOLDEN), "--out", str(out)]) == 0
    assert "ethos-u55-128: build only: QEMU models no Ethos-U NPU" in capsys.readouterr().out
    compiled = (out / ethos_step.VELA_MODEL).read_bytes()
    assert ethos_step.ETHOS_U_OP in {op.opcode for op in read_tflite(compiled).operators}
    data_c = (out / artifacts.MODEL_DATA_C).read_text()
    assert f"_size = {len(compiled)}u;" in data_c
    hexed = bytes(int(h, 16) for h in data_c.split("= {", 1)[1].split("};", 1)[0].replace(",", " ").split())
    assert hexed == compiled  # the C array is Vela's model, not the input
    settings = (out / artifacts.MODEL_SETTINGS_H).read_text()
    assert "(resolver).AddEthosU();" in settings and "#define ACDEPLOY_OP_COUNT 1" in settings
    fw = out / "firmware"
    assert "#define ACDEPLOY_NPU_FAST_MEMORY_SIZE 0" in (fw / ethos_step.NPU_SETTINGS_H).read_text()
    rep = Report.read(out / artifacts.REPORT_JSON)
    # Shared_Sram: the arena holds Vela's scratch area (the SRAM it reports) and the graph's input and output.
    mem = ethos_step.npu_memory(read_tflite(compiled), 0)
    assert mem.arena_bytes == -(-(rep.ethos_u.sram_bytes + 16 * 16 * 3 + 10) // 16) * 16 and mem.fast_memory_bytes == 0
    arena = ethos_step.npu_memory(read_tflite(compiled), rep.totals.tflm_arena_tail_bytes).arena_bytes
    assert arena >= mem.arena_bytes + rep.totals.tflm_arena_tail_bytes
    assert f"#define ACDEPLOY_TENSOR_ARENA_SIZE {arena}" in (out / artifacts.MODEL_SETTINGS_H).read_text()
    assert 'REGION_ALIAS("ARENA", ISRAM)' in (fw / ethos_step.ARENA_REGION_LD).read_text()
    assert "ACDEPLOY_REGISTER_OPS(resolver);" in (fw / "main.cc").read_text()  # AddEthosU via model_settings.h
    assert not (fw / "acnet.c").exists()  # no generated C network: the NPU runs the model
    assert rep.ethos_u.compiled_model == ethos_step.VELA_MODEL and rep.firmware is None
    assert _compile_check(fw) == {"startup_corstone300.o", "uart.o", "model_data.o"}
    nm = subprocess.run(["arm-none-eabi-nm", str(fw / "build" / "model_data.o")], capture_output=True, text=True)
    assert "g_mixed_model_data" in nm.stdout


@pytest.mark.toolchain
def test_build_student_for_u65(student, tmp_path):
    out = tmp_path / "b"
    assert main(["build", "--target", "ethos-u65-256", "--model", str(student), "--out", str(out)]) == 0
    rep = Report.read(out / artifacts.REPORT_JSON)
    e = rep.ethos_u
    assert (e.system_config, e.memory_mode) == ("Ethos_U65_High_End", "Dedicated_Sram")
    assert e.macs == rep.totals.macs and e.cpu_operations == 0 and e.total_cycles > 0
    ops_ = {r["original_op"] for r in e.layers}
    assert {"Conv2D", "DepthwiseConv2D", "Add"} <= ops_
    fw = out / "firmware"
    settings = (fw / ethos_step.NPU_SETTINGS_H).read_text()
    # U65, Dedicated_Sram: the SRAM is the NPU's cache, Vela's fast scratch tensor, as big as the SRAM it reports
    assert f"#define ACDEPLOY_NPU_FAST_MEMORY_SIZE {-(-e.sram_bytes // 16) * 16}\n" in settings and e.sram_bytes > 0
    assert 'REGION_ALIAS("ARENA", DDR)' in (fw / ethos_step.ARENA_REGION_LD).read_text()
    assert "model_data.o" in _compile_check(fw)


def test_student_report_on_u55(student, capsys):
    assert main(["report", str(student), "--target", "ethos-u55-128"]) == 0
    printed = capsys.readouterr().out
    assert "operations on the NPU / left on the CPU" in printed and "/ 0" in printed


def test_run_is_refused_in_one_line(tmp_path, capsys):
    code = main(["build", "--target", "ethos-u55-128", "--model", str(GOLDEN), "--out", str(tmp_path / "b"), "--run"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "\n" not in err and "build only" in err and "--run" in err
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("command", ["report", "build"])
def test_vela_missing_is_one_line(tmp_path, command):
    # The import system's own way of saying "not installed": a None entry in sys.modules.
    args = ([command, str(GOLDEN), "--target", "ethos-u55-128"] if command == "report"
            else [command, "--target", "ethos-u55-128", "--model", str(GOLDEN), "--out", str(tmp_path / "b")])
    code = ("import sys\nsys.modules['ethosu'] = None\nfrom acdeploy.cli import main\n"
            f"sys.exit(main({args!r}))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    err = r.stderr.strip()
    assert "\n" not in err and "Traceback" not in err and "pip install 'acdeploy[ethos-u]'" in err
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("name, how", [
    ("internal-error-report-93eaae32616c.tflite", "exited 1"),  # no operators: Vela raises
    ("internal-error-report-f67b37da09c3.tflite", "killed by signal"),  # Vela's C++ core crashes
])
def test_a_model_vela_rejects_is_one_line(name, how):
    # Models our own gate refuses first (load_model), given to Vela directly: its failures, even a
    # crash of its native core, must come back as one ModelError line.
    with pytest.raises(ModelError) as e:
        compile_model((REGRESSIONS / name).read_bytes(), get_target("ethos-u55-128").npu, name)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{name}: Vela 5.") and how in msg and "rejected" in msg


def test_no_tensorflow_and_no_vela_in_process(tmp_path):
    # Vela runs as its own process; the CLI's report and build stay free of TensorFlow.
    code = (
        "import sys\n"
        "from acdeploy.cli import main\n"
        f"assert main(['report', {str(GOLDEN)!r}, '--target', 'ethos-u55-128']) == 0\n"
        f"assert main(['build', '--target', 'ethos-u65-256', '--model', {str(GOLDEN)!r}, '--out', "
        f"{str(tmp_path / 'b')!r}]) == 0\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras', 'keras', 'ethosu'))\n"
        "assert not heavy, heavy\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
