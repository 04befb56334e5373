"""Firmware project on a hand-written fixture network: host build, every QEMU machine, sizes,
instruction counts, exit status, timeout and missing-toolchain paths. The expected outputs come
from numpy (firmware_fixture.reference), independently of the C code."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_tools
from firmware_fixture import N_IN, N_OUT, reference, write_fixture

from acdeploy.deploy import firmware
from acdeploy.deploy.targets import TARGETS
from acdeploy.errors import ToolchainError

QEMU_TARGETS = [name for name, t in TARGETS.items() if t.qemu_machine and name != "cortex-m"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    fw = tmp_path_factory.mktemp("fixture") / "firmware"
    w, x = write_fixture(fw)
    return fw, reference(w, x), w


@pytest.fixture(scope="module")
def host_run(project):
    require_tools("gcc", "make")
    return firmware.run_host(project[0], sanitize=True)


def test_host_build_matches_numpy(project, host_run):
    assert host_run.passed and host_run.exit_code == 0
    np.testing.assert_array_equal(host_run.outputs, project[1])
    assert [v["class"] for v in host_run.vectors] == list(project[1].argmax(axis=1))
    assert host_run.result["instructions"] == 0  # no counter on the host


@pytest.mark.slow
@pytest.mark.toolchain
@pytest.mark.parametrize("target", QEMU_TARGETS)
def test_qemu_run_matches_host(project, host_run, target):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    t = TARGETS[target]
    elf = firmware.build_firmware(project[0], target)
    run = firmware.run_qemu(elf, t.qemu_machine, timeout=60)
    assert run.passed and run.exit_code == 0
    np.testing.assert_array_equal(run.outputs, host_run.outputs)
    # Plausible: at least a load and a multiply-accumulate per MAC in this plain C loop.
    assert N_IN * N_OUT < run.instructions < 50 * N_IN * N_OUT
    assert run.result["stack_used"] < run.result["stack_size"]


@pytest.mark.slow
@pytest.mark.toolchain
def test_instruction_count_is_deterministic(project):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    elf = firmware.build_firmware(project[0], "cortex-m4")
    a = firmware.run_qemu(elf, "mps2-an386")
    b = firmware.run_qemu(elf, "mps2-an386")
    assert a.instructions == b.instructions > 0
    # Every vector takes the same path through this data-independent loop.
    assert len({v["instructions"] for v in a.vectors}) == 1


@pytest.mark.slow
@pytest.mark.toolchain
def test_mismatch_fails_with_exit_status_1(tmp_path):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    write_fixture(tmp_path, corrupt=True)
    run = firmware.run_qemu(firmware.build_firmware(tmp_path, "cortex-m4"), "mps2-an386")
    assert run.exit_code == 1 and not run.passed
    assert run.result["mismatches"] == 1
    assert [v["match"] for v in run.vectors] == [0, 1, 1, 1]
    assert run.vectors[0]["max_abs_diff"] == 1


@pytest.mark.slow
@pytest.mark.toolchain
def test_qemu_timeout_is_a_toolchain_error(tmp_path):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    write_fixture(tmp_path, spin=True)
    elf = firmware.build_firmware(tmp_path, "cortex-m4")
    with pytest.raises(ToolchainError, match="QEMU did not finish within 1 s"):
        firmware.run_qemu(elf, "mps2-an386", timeout=1)


@pytest.mark.toolchain
def test_sizes_split_weights_arena_and_code(project):
    require_tools("arm-none-eabi-gcc", "arm-none-eabi-size")
    size = firmware.firmware_size(firmware.build_firmware(project[0], "cortex-m0plus"))
    assert size.weights == N_IN * N_OUT  # the fixture's const int8 weights[N_OUT][N_IN]
    assert 5 * N_OUT <= size.arena < 5 * N_OUT + 8  # its int32 arena and int8 result (+ alignment)
    assert size.test_data == 4 * (N_IN + N_OUT)  # 4 vectors in, 4 expected out
    assert 0 < size.code < 16 * 1024  # no printf, no heap: startup + main + memset/memcpy
    assert size.stack == 8192
    assert size.flash_bytes == size.code + size.weights
    assert size.ram_bytes == size.data + size.arena + size.bss + size.stack


def test_host_network_streams_inputs(project):
    require_tools("gcc", "make")
    fw, _, w = project
    x = np.random.default_rng(1).integers(-128, 128, size=(50, N_IN), dtype=np.int8)
    np.testing.assert_array_equal(firmware.run_host_network(fw, x), reference(w, x))


def test_missing_toolchain_names_the_packages(project, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no make, no gcc, no qemu
    with pytest.raises(ToolchainError, match="gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"):
        firmware.build_firmware(project[0], "cortex-m4")
    with pytest.raises(ToolchainError, match="'qemu-system-arm' not found"):
        firmware.run_qemu(project[0] / "firmware.elf", "mps2-an386")


def test_targets_mk_covers_the_target_table():
    mk = firmware.targets_mk()
    for name, t in TARGETS.items():
        assert f"{name}_CFLAGS := {' '.join(t.cflags)}" in mk
        assert f"{name}_DSP := {int(t.dsp)}" in mk


@pytest.mark.slow
@pytest.mark.toolchain
def test_layer_profile_adds_up(project):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    run, layers = firmware.profile_layers(project[0], "cortex-m4")
    assert run.passed and len(layers) == 2
    assert layers[0] > N_IN * N_OUT > layers[1] > 0  # the dot product dominates the clamp
    # The marks cost a few dozen instructions each on top of the layers themselves.
    assert 0 <= run.instructions - sum(layers) < 200
