"""The firmware steps of `acdeploy build`: install the firmware project (main.c, Makefile, board/)
next to the generated network, and with `--run` cross-compile it, size it against the target
board, run it in QEMU; the run step returns the report's firmware section (deploy/report_data.py).

The firmware's flash and RAM join the report's budgets as `firmware:<target>`, so an image that
does not fit its board fails the build with exit 3 after the build dir is written (build.py's
verdict). Outputs that differ from TFLite Micro's are checked by `check_passed` after the build
dir is written, so its run log stays for inspection.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from acdeploy import artifacts, fileio
from acdeploy.deploy import firmware
from acdeploy.deploy.budgets import Budget, Limit, evaluate
from acdeploy.deploy.report_data import FirmwareResult, FirmwareSection, Report
from acdeploy.deploy.targets import Target
from acdeploy.errors import ToolchainError


def run_firmware(build_dir: str | Path, target: Target, macs: int, run: bool = True,
                 timeout: float = firmware.DEFAULT_QEMU_TIMEOUT, dsp: bool | None = None) -> FirmwareResult:
    """Build (and with run=True, run) the firmware of a build dir.

    Cortex-M targets with a QEMU machine run there; build-only cores report sizes; `host` runs the
    native build. The run log is written next to the binary; paths are relative to the build dir.
    """
    build_dir = Path(build_dir)
    binary = firmware.build_firmware(build_dir, target, dsp=dsp)
    fw = FirmwareResult(
        target=target.name, machine=target.qemu_machine, dsp=target.dsp if dsp is None else dsp,
        elf=str(binary.relative_to(build_dir)), ran=False, passed=None, macs=macs,
        board_flash_bytes=target.flash_bytes, board_ram_bytes=target.ram_bytes,
        flash_bytes=None, ram_bytes=None, size=None,
    )
    if target.cross:
        size = firmware.firmware_size(binary)
        fw = replace(fw, flash_bytes=size.flash_bytes, ram_bytes=size.ram_bytes, size=size.to_dict())
    if not run or (target.cross and target.qemu_machine is None):
        return replace(fw, note="build only: QEMU models no board with this core" if run else "build only")
    if not _fits(fw):  # an image the board cannot hold is not worth running
        return replace(fw, note="not run: the image does not fit the board")
    if target.cross:
        result = firmware.run_qemu(binary, target.qemu_machine, timeout=timeout)
    else:
        result = firmware.run_host(build_dir, timeout=timeout)
    log = binary.parent / artifacts.RUN_LOG
    fileio.write_text(log, result.log)
    return replace(
        fw,
        ran=True,
        passed=result.passed,
        exit_code=result.exit_code,
        vectors=result.result["vectors"],
        mismatches=result.result["mismatches"],
        instructions_per_inference=result.instructions if target.cross else None,
        instructions_per_mac=round(result.instructions / macs, 3) if target.cross and macs else None,
        stack_used=result.result["stack_used"] if target.cross else None,
        run_log=str(log.relative_to(build_dir)),
    )


# --- build steps (deploy/build.py) ---------------------------------------------------------------


def install_step(ctx) -> None:
    """Every build dir gets a complete firmware project: `make TARGET=...` works in it."""
    firmware.install_project(ctx.out / firmware.FIRMWARE_DIR)


def run_step(ctx) -> FirmwareSection | None:
    """With --run: compile, size, run; returns the figures and their verdict against the board."""
    if not ctx.options.run:
        return None
    fw = run_firmware(ctx.out, ctx.target, ctx.analysis.totals.macs,
                      timeout=ctx.options.timeout or firmware.DEFAULT_QEMU_TIMEOUT)
    return FirmwareSection(fw, board_check(fw, ctx.target) if fw.flash_bytes is not None else None)


def _fits(fw: FirmwareResult) -> bool:
    return ((fw.board_flash_bytes is None or fw.flash_bytes <= fw.board_flash_bytes)
            and (fw.board_ram_bytes is None or fw.ram_bytes <= fw.board_ram_bytes))


def board_check(fw: FirmwareResult, target: Target) -> dict | None:
    """The firmware image against the target board, as a report budget entry."""
    if target.flash_bytes is None or target.ram_bytes is None:
        return None
    return evaluate(Budget(f"firmware:{target.name}", (
        Limit("flash (firmware: code + weights)", "flash_bytes", target.flash_bytes),
        Limit("RAM (firmware: arena + stack + data)", "ram_bytes", target.ram_bytes),
    ), f"the linked image (arm-none-eabi-size) on {target.board}"), fw.to_dict())


def check_passed(report: Report, build_dir: str | Path) -> None:
    """Raise when the firmware ran and its outputs differ from TFLite Micro's."""
    fw = report.firmware
    if fw is not None and fw.ran and not fw.passed:
        raise ToolchainError(
            f"firmware on {fw.machine or 'the host'} did not reproduce TFLite Micro's outputs "
            f"({fw.mismatches} of {fw.vectors} vectors differ, exit {fw.exit_code}); "
            f"see {Path(build_dir) / fw.run_log}")
