"""`acdeploy build --run` end to end on a real int8 model (tf_keras + TFLiteConverter, every
supported layer kind): the generated network cross-compiled for Cortex-M4 and Cortex-M55, run in
QEMU, equal to TFLite Micro's outputs and to the host build; DSP vs portable kernels; the
report's firmware object; over-budget, timeout and missing-toolchain paths."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import require_tools
from deploy_models import model_zoo

from acdeploy.cli import main
from acdeploy.deploy import firmware
from acdeploy.deploy.targets import TARGETS

pytestmark = [pytest.mark.toolchain, pytest.mark.slow]
RUN_TARGETS = ("cortex-m4", "cortex-m55")


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return model_zoo(tmp_path_factory.getbasetemp() / "deploy_models", ("mixed", "floatio"))


@pytest.fixture(scope="module")
def built(zoo, tmp_path_factory):
    require_tools("arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm", "gcc", "make")
    root = tmp_path_factory.mktemp("fw_e2e")
    for t in RUN_TARGETS:
        assert main(["build", "--target", t, "--model", str(zoo["mixed"]), "--out", str(root / t), "--run"]) == 0
    return root


def _report(d) -> dict:
    return json.loads((d / "report.json").read_text())


def _qemu_outputs(d, target) -> np.ndarray:
    log = (d / "firmware" / "build" / target / "run.log").read_text()
    return firmware.parse_output(log).outputs


@pytest.mark.parametrize("target", RUN_TARGETS)
def test_report_has_the_firmware_object(built, target):
    rep = _report(built / target)
    fw, totals = rep["firmware"], rep["totals"]
    assert fw["target"] == target and fw["machine"] == TARGETS[target].qemu_machine
    assert fw["passed"] is True and fw["mismatches"] == 0 and fw["vectors"] >= 1
    # Every MAC needs at least a fraction of an instruction even with 4-way SMLAD packing.
    assert fw["instructions_per_inference"] > totals["macs"] / 4
    assert fw["instructions_per_mac"] == pytest.approx(fw["instructions_per_inference"] / totals["macs"], abs=1e-3)
    size = fw["size"]
    assert fw["flash_bytes"] == size["code"] + size["weights"]
    assert fw["ram_bytes"] == size["arena"] + size["stack"] + size["data"] + size["bss"]
    assert size["weights"] >= totals["param_bytes"]  # weights and biases, plus requantisation tables
    assert size["arena"] >= totals["c_arena_bytes"]
    assert fw["stack_used"] < size["stack"]
    check = next(b for b in rep["budgets"] if b["name"] == f"firmware:{target}")
    assert check["ok"]
    md = (built / target / "report.md").read_text()
    assert "## Firmware" in md and f"{fw['instructions_per_inference']:,}" in md


def test_qemu_outputs_equal_host_build_and_tflm(built):
    host = firmware.run_host(built / "cortex-m4", sanitize=True)
    assert host.passed  # the host build reproduces TFLM's vectors too
    for t in RUN_TARGETS:
        np.testing.assert_array_equal(_qemu_outputs(built / t, t), host.outputs)


@pytest.mark.parametrize("target", ["cortex-m7", "cortex-m33"])
def test_other_cores_run_the_same_project(built, target):
    # The firmware project of a build dir is target-independent: `make TARGET=...` picks the core.
    run = firmware.run_qemu(firmware.build_firmware(built / "cortex-m4", target), TARGETS[target].qemu_machine)
    assert run.passed
    np.testing.assert_array_equal(run.outputs, _qemu_outputs(built / "cortex-m4", "cortex-m4"))


def test_dsp_and_portable_kernels_agree(built):
    d = built / "cortex-m4"
    portable = firmware.run_qemu(firmware.build_firmware(d, "cortex-m4", dsp=False), "mps2-an386")
    assert portable.passed
    np.testing.assert_array_equal(portable.outputs, _qemu_outputs(d, "cortex-m4"))
    dsp_count = _report(d)["firmware"]["instructions_per_inference"]
    assert portable.instructions != dsp_count  # the flag really selected other kernels


def test_instruction_count_is_deterministic(built):
    d = built / "cortex-m4"
    again = firmware.run_qemu(d / _report(d)["firmware"]["elf"], "mps2-an386")
    assert again.instructions == _report(d)["firmware"]["instructions_per_inference"]


def test_float_io_model_runs(zoo, tmp_path):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    assert main(["build", "--target", "cortex-m4", "--model", str(zoo["floatio"]), "--out", str(tmp_path / "b"),
                 "--run"]) == 0
    assert _report(tmp_path / "b")["firmware"]["passed"] is True


def test_build_only_core_reports_sizes(zoo, tmp_path):
    require_tools("arm-none-eabi-gcc", "arm-none-eabi-size")
    assert main(["build", "--target", "cortex-m0plus", "--model", str(zoo["mixed"]), "--out", str(tmp_path / "b"),
                 "--run"]) == 0
    fw = _report(tmp_path / "b")["firmware"]
    assert fw["ran"] is False and "no board" in fw["note"] and fw["flash_bytes"] > fw["size"]["weights"] > 0


def test_image_over_the_board_ram_exits_3(zoo, tmp_path, monkeypatch, capsys):
    require_tools("arm-none-eabi-gcc", "arm-none-eabi-size")
    # A board with the M4's core but 12 KB of RAM: the model's arena (6 KB) fits, arena + stack does not.
    tiny = dataclasses.replace(TARGETS["cortex-m4"], name="tiny-m4", ram_bytes=12 * 1024)
    monkeypatch.setitem(TARGETS, "tiny-m4", tiny)
    out = tmp_path / "b"
    assert main(["build", "--target", "tiny-m4", "--model", str(zoo["mixed"]), "--out", str(out), "--run"]) == 3
    err = capsys.readouterr().err
    assert "firmware:tiny-m4: RAM (firmware: arena + stack + data)" in err and "12,288" in err
    fw = _report(out)["firmware"]  # the report is still written
    assert fw["ran"] is False and fw["ram_bytes"] > 12 * 1024


def test_qemu_timeout_leaves_the_old_build_dir(zoo, built, tmp_path, capsys):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    out = tmp_path / "b"
    out.mkdir()
    (out / "keep.txt").write_text("old build")
    code = main(["build", "--target", "cortex-m4", "--model", str(zoo["mixed"]), "--out", str(out), "--run",
                 "--timeout", "0.01"])
    assert code == 1
    assert "QEMU did not finish within 0.01 s" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_missing_toolchain_is_one_line_naming_the_packages(zoo, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "acdeploy", "build", "--target", "cortex-m4", "--model", str(zoo["mixed"]),
         "--out", str(tmp_path / "b"), "--run"],
        capture_output=True, text=True, env={"PATH": str(tmp_path), "HOME": str(tmp_path)})
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: 'arm-none-eabi-gcc' not found on PATH: install the Debian packages "
        "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"]
    assert not (tmp_path / "b").exists()
