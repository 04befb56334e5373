"""The `--run` step of `acdeploy build`: cross-compile the firmware project of a build dir, size it
against the target board, run it in QEMU, and summarise it as the report's `firmware` object.

Failures are decided by the caller after the report is written: `verdict(fw, target)` raises
OverBudget (exit 3) when the image does not fit the board, or ToolchainError when the firmware's
outputs differ from TFLite Micro's.
"""

from __future__ import annotations

from pathlib import Path

from acdeploy.deploy import firmware
from acdeploy.deploy.targets import Target

from acdeploy import fileio
from acdeploy.errors import OverBudget, ToolchainError


def run_firmware(build_dir: str | Path, target: Target, macs: int, run: bool = True,
                 timeout: float = firmware.DEFAULT_QEMU_TIMEOUT, dsp: bool | None = None) -> dict:
    """Build (and with run=True and a QEMU machine, run) the firmware; returns the `firmware` object.

    The run log is written next to the ELF as run.log. Sizes are relative to the build dir.
    """
    build_dir = Path(build_dir)
    elf = firmware.build_firmware(build_dir, target, dsp=dsp)
    size = firmware.firmware_size(elf)
    fw = {
        "target": target.name,
        "machine": target.qemu_machine,
        "dsp": target.dsp if dsp is None else dsp,
        "elf": str(elf.relative_to(build_dir)),
        "ran": False,
        "passed": None,
        "flash_bytes": size.flash_bytes,
        "ram_bytes": size.ram_bytes,
        "size": size.to_dict(),
        "board_flash_bytes": target.flash_bytes,
        "board_ram_bytes": target.ram_bytes,
        "macs": macs,
    }
    if not run or target.qemu_machine is None:
        fw["note"] = ("build only: no QEMU machine models this core" if target.qemu_machine is None
                      else "build only (run with --run to execute in QEMU)")
        return fw
    if not _fits(fw):  # an image the board cannot hold is not worth running
        fw["note"] = "not run: the image does not fit the board"
        return fw
    result = firmware.run_qemu(elf, target.qemu_machine, timeout=timeout)
    fileio.write_text(elf.parent / "run.log", result.log)
    fw.update(
        ran=True,
        passed=result.passed,
        exit_code=result.exit_code,
        vectors=result.result["vectors"],
        mismatches=result.result["mismatches"],
        instructions_per_inference=result.instructions,
        instructions_per_mac=round(result.instructions / macs, 3) if macs else None,
        stack_used=result.result["stack_used"],
        run_log=str((elf.parent / "run.log").relative_to(build_dir)),
    )
    return fw


def _fits(fw: dict) -> bool:
    return ((fw["board_flash_bytes"] is None or fw["flash_bytes"] <= fw["board_flash_bytes"])
            and (fw["board_ram_bytes"] is None or fw["ram_bytes"] <= fw["board_ram_bytes"]))


def verdict(fw: dict, build_dir: str | Path) -> None:
    """Raise for a firmware that does not fit its board (exit 3) or whose outputs are wrong."""
    if not _fits(fw):
        raise OverBudget(
            f"firmware for {fw['target']} does not fit the board: flash {fw['flash_bytes']} B "
            f"(code {fw['size']['code']} + weights {fw['size']['weights']}) of {fw['board_flash_bytes']} B, "
            f"RAM {fw['ram_bytes']} B (arena {fw['size']['arena']} + stack {fw['size']['stack']} + "
            f"data/bss {fw['size']['data'] + fw['size']['bss']}) of {fw['board_ram_bytes']} B")
    if fw["ran"] and not fw["passed"]:
        raise ToolchainError(
            f"firmware on {fw['machine']} did not reproduce TFLite Micro's outputs "
            f"({fw['mismatches']} of {fw['vectors']} vectors differ, exit {fw['exit_code']}); "
            f"see {Path(build_dir) / fw['run_log']}")


def markdown(fw: dict) -> str:
    """The report.md section for the firmware object."""
    s = fw["size"]
    rows = [
        ("target / QEMU machine", f"{fw['target']} / {fw['machine'] or 'none (build only)'}"),
        ("kernels", "DSP (ACLE SMLAD)" if fw["dsp"] else "portable C"),
        ("flash", f"{fw['flash_bytes']:,} B = code {s['code']:,} + weights {s['weights']:,}"
                  + (f" (board {fw['board_flash_bytes']:,} B)" if fw["board_flash_bytes"] else "")),
        ("RAM", f"{fw['ram_bytes']:,} B = arena {s['arena']:,} + stack {s['stack']:,} + data/bss "
                f"{s['data'] + s['bss']:,}" + (f" (board {fw['board_ram_bytes']:,} B)" if fw["board_ram_bytes"] else "")),
        ("test vectors in the image", f"{s['test_data']:,} B (not counted above)"),
    ]
    if fw["ran"]:
        rows += [
            ("outputs equal TFLite Micro", f"{'yes' if fw['passed'] else 'NO'} ({fw['vectors'] - fw['mismatches']}"
                                           f"/{fw['vectors']} vectors)"),
            ("instructions per inference", f"{fw['instructions_per_inference']:,} (QEMU -icount, not cycles)"),
            ("instructions per MAC", f"{fw['instructions_per_mac']} ({fw['macs']:,} MACs)"),
            ("stack used", f"{fw['stack_used']:,} B of {s['stack']:,} B"),
        ]
    else:
        rows.append(("run", fw.get("note", "not run")))
    lines = ["## Firmware", "", "| | |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines) + "\n"
