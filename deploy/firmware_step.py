"""The firmware steps of `acdeploy build`: install the firmware project (main.c, Makefile, board/)
next to the generated network, and with `--run` cross-compile it, size it against the target
board, run it in QEMU and add the report's `firmware` object and report.md section.

The firmware's flash and RAM join the report's budgets as `firmware:<target>`, so an image that
does not fit its board fails the build with exit 3 after the build dir is written (build.py's
verdict). Outputs that differ from TFLite Micro's are checked by `check_passed` after the build
dir is written, so its run log stays for inspection.
"""

from __future__ import annotations

from pathlib import Path

from acdeploy.deploy import firmware
from acdeploy.deploy.budgets import Budget, Limit, evaluate
from acdeploy.deploy.targets import Target

from acdeploy import fileio
from acdeploy.errors import ToolchainError


def run_firmware(build_dir: str | Path, target: Target, macs: int, run: bool = True,
                 timeout: float = firmware.DEFAULT_QEMU_TIMEOUT, dsp: bool | None = None) -> dict:
    """Build (and with run=True, run) the firmware of a build dir; returns the `firmware` object.

    Cortex-M targets with a QEMU machine run there; build-only cores report sizes; `host` runs the
    native build. The run log is written next to the binary; paths are relative to the build dir.
    """
    build_dir = Path(build_dir)
    binary = firmware.build_firmware(build_dir, target, dsp=dsp)
    fw = {
        "target": target.name,
        "machine": target.qemu_machine,
        "dsp": target.dsp if dsp is None else dsp,
        "elf": str(binary.relative_to(build_dir)),
        "ran": False,
        "passed": None,
        "macs": macs,
        "board_flash_bytes": target.flash_bytes,
        "board_ram_bytes": target.ram_bytes,
        "flash_bytes": None,
        "ram_bytes": None,
        "size": None,
    }
    if target.cross:
        size = firmware.firmware_size(binary)
        fw.update(flash_bytes=size.flash_bytes, ram_bytes=size.ram_bytes, size=size.to_dict())
    if not run or (target.cross and target.qemu_machine is None):
        fw["note"] = "build only: QEMU models no board with this core" if run else "build only"
        return fw
    if not _fits(fw):  # an image the board cannot hold is not worth running
        fw["note"] = "not run: the image does not fit the board"
        return fw
    if target.cross:
        result = firmware.run_qemu(binary, target.qemu_machine, timeout=timeout)
    else:
        result = firmware.run_host(build_dir, timeout=timeout)
    log = binary.parent / "run.log"
    fileio.write_text(log, result.log)
    fw.update(
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
    return fw


# --- build steps (deploy/build.py) ---------------------------------------------------------------


def install_step(ctx) -> None:
    """Every build dir gets a complete firmware project: `make TARGET=...` works in it."""
    firmware.install_project(ctx.out / firmware.FIRMWARE_DIR)


def run_step(ctx) -> None:
    """With --run: compile, size, run; the figures go into the report and its budgets."""
    if not ctx.options.get("run"):
        return
    fw = run_firmware(ctx.out, ctx.target, ctx.report["totals"]["macs"],
                      timeout=ctx.options.get("timeout") or firmware.DEFAULT_QEMU_TIMEOUT)
    ctx.report["firmware"] = fw
    check = board_check(fw, ctx.target) if fw["flash_bytes"] is not None else None
    if check is not None:
        ctx.report["budgets"].append(check)


def markdown_step(ctx) -> None:
    """Append the firmware section to report.md (after the report files are written)."""
    if "firmware" in ctx.report:
        md = ctx.out / "report.md"
        fileio.write_text(md, md.read_text() + "\n" + markdown(ctx.report["firmware"]))


def _fits(fw: dict) -> bool:
    return ((fw["board_flash_bytes"] is None or fw["flash_bytes"] <= fw["board_flash_bytes"])
            and (fw["board_ram_bytes"] is None or fw["ram_bytes"] <= fw["board_ram_bytes"]))


def board_check(fw: dict, target: Target) -> dict | None:
    """The firmware image against the target board, as a report budget entry."""
    if target.flash_bytes is None or target.ram_bytes is None:
        return None
    return evaluate(Budget(f"firmware:{target.name}", (
        Limit("flash (firmware: code + weights)", "flash_bytes", target.flash_bytes),
        Limit("RAM (firmware: arena + stack + data)", "ram_bytes", target.ram_bytes),
    ), f"the linked image (arm-none-eabi-size) on {target.board}"), fw)


def check_passed(report: dict, build_dir: str | Path) -> None:
    """Raise when the firmware ran and its outputs differ from TFLite Micro's."""
    fw = report.get("firmware")
    if fw and fw["ran"] and not fw["passed"]:
        raise ToolchainError(
            f"firmware on {fw['machine'] or 'the host'} did not reproduce TFLite Micro's outputs "
            f"({fw['mismatches']} of {fw['vectors']} vectors differ, exit {fw['exit_code']}); "
            f"see {Path(build_dir) / fw['run_log']}")


def markdown(fw: dict) -> str:
    """The report.md section for the firmware object."""
    rows = [
        ("target / QEMU machine", f"{fw['target']} / {fw['machine'] or 'none'}"),
        ("kernels", "DSP (ACLE SMLAD)" if fw["dsp"] else "portable C"),
    ]
    s = fw["size"]
    if s is not None:
        board_flash = f" (board {fw['board_flash_bytes']:,} B)" if fw["board_flash_bytes"] else ""
        board_ram = f" (board {fw['board_ram_bytes']:,} B)" if fw["board_ram_bytes"] else ""
        rows += [
            ("flash", f"{fw['flash_bytes']:,} B = code {s['code']:,} + weights {s['weights']:,}{board_flash}"),
            ("RAM", f"{fw['ram_bytes']:,} B = arena {s['arena']:,} + stack {s['stack']:,} + data/bss "
                    f"{s['data'] + s['bss']:,}{board_ram}"),
            ("test vectors in the image", f"{s['test_data']:,} B (not counted above)"),
        ]
    if fw["ran"]:
        rows.append(("outputs equal TFLite Micro",
                     f"{'yes' if fw['passed'] else '**NO**'} ({fw['vectors'] - fw['mismatches']}/{fw['vectors']} vectors)"))
        if fw["instructions_per_inference"] is not None:
            rows += [
                ("instructions per inference", f"{fw['instructions_per_inference']:,} (QEMU -icount: instructions, not cycles)"),
                ("instructions per MAC", f"{fw['instructions_per_mac']} ({fw['macs']:,} MACs)"),
                ("stack used", f"{fw['stack_used']:,} B of {s['stack']:,} B"),
            ]
        rows.append(("run log", f"`{fw['run_log']}`"))
    else:
        rows.append(("run", fw.get("note", "not run")))
    lines = ["## Firmware", "", "| | |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines) + "\n"
