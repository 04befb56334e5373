"""acdeploy's cmsis_compiler.h (firmware_stub/frontend): CMSIS-DSP's DSP intrinsics mapped onto gcc's
ACLE intrinsics for cores with the DSP extension. Each intrinsic, run as its instruction on the
Cortex-M4 in QEMU, gives bit for bit what CMSIS-DSP's portable C (Include/dsp/none.h, the build
without CMSIS-Core) gives on the host, over edge and random operands."""

from __future__ import annotations

import importlib.resources
import subprocess
from pathlib import Path

import pytest
from conftest import require_tools

from acdeploy.deploy import firmware, frontend_step
from acdeploy.deploy.targets import get_target

CHECK = Path(__file__).with_name("cmsis_glue_check.c")


def lines(text: str) -> dict[str, str]:
    assert text.rstrip().endswith("DONE"), text[-500:]
    return dict(ln.split() for ln in text.splitlines() if ln and ln != "DONE")


@pytest.mark.slow
def test_glue_intrinsics_on_the_m4_equal_cmsis_portable_c(tmp_path):
    require_tools("gcc", "arm-none-eabi-gcc", "qemu-system-arm")
    root = frontend_step.cmsis_root()
    fw = firmware.install_project(tmp_path / "fw")
    glue = tmp_path / "glue"
    glue.mkdir()
    stub = importlib.resources.files("acdeploy.firmware_stub") / "frontend" / "cmsis_compiler.h"
    (glue / "cmsis_compiler.h").write_bytes(stub.read_bytes())
    inc = [f"-I{root / 'Include'}", f"-I{root / 'PrivateInclude'}"]

    host = tmp_path / "check_host"
    subprocess.run(["gcc", "-std=c99", "-O2", "-fwrapv", "-DAC_HOST", "-D__GNUC_PYTHON__", *inc, str(CHECK),
                    "-o", str(host)], check=True, capture_output=True)
    want = lines(subprocess.run([str(host)], check=True, capture_output=True, text=True).stdout)

    t = get_target("cortex-m4")
    elf = tmp_path / "check.elf"
    board = fw / "board"
    subprocess.run(["arm-none-eabi-gcc", "-std=c99", "-O2", f"-mcpu={t.cpu}", *t.cflags, f"-I{glue}", *inc,
                    f"-I{board}", "-DAC_CPU_CLOCK_HZ=25000000ull", str(CHECK), str(board / "startup_cortexm.c"),
                    str(board / "board_cortexm.c"), "-nostartfiles", f"-T{board / 'mps2_an386.ld'}", f"-L{board}",
                    "-Wl,--defsym=STACK_SIZE=8192", "-Wl,--gc-sections", "-o", str(elf)],
                   check=True, capture_output=True)
    # the glue path, not the portable one: the intrinsics are the DSP instructions
    asm = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], check=True, capture_output=True, text=True).stdout
    assert all(op in asm for op in ("qadd16", "shsax", "smuadx", "smlald", "pkhbt", "ssat"))
    run = subprocess.run(firmware.qemu_command(elf, t.qemu_machine), capture_output=True, text=True, timeout=120)
    got = lines(run.stdout + run.stderr)  # semihosting writes to stderr
    assert len(got) == len(want) == 32
    assert [k for k in want if got.get(k) != want[k]] == []
