"""Deployment targets: compiler flags, the board budget the report checks, and the QEMU machine
that runs the firmware. One table, so a new board is one entry."""

from __future__ import annotations

from dataclasses import dataclass

from acdeploy.errors import ConfigError

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class Npu:
    """An Arm Ethos-U NPU beside the core: what Vela compiles for (deploy/vela.py). The system
    config and memory mode are sections of Vela's own Arm/vela.ini."""

    accelerator: str  # Vela --accelerator-config
    system_config: str
    memory_mode: str


@dataclass(frozen=True)
class Target:
    name: str
    board: str  # the reference board whose flash/RAM is the budget
    cpu: str  # gcc -mcpu value ("" for the host)
    cflags: tuple[str, ...]  # code generation flags (float ABI, FPU)
    flash_bytes: int | None  # None: no board budget (host)
    ram_bytes: int | None
    qemu_machine: str | None  # None: build only
    dsp: bool  # ACLE DSP intrinsics (__smlad, __sxtb16) available
    npu: Npu | None = None  # Ethos-U: the model runs as Vela's custom op; build only (QEMU has no NPU)

    @property
    def cross(self) -> bool:
        return self.name != "host"


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("cortex-m4", "STM32L476 (Cortex-M4F, 80 MHz)", "cortex-m4",
               ("-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"), 1 * MiB, 128 * KiB, "mps2-an386", True),
        Target("cortex-m0plus", "RP2040 (Cortex-M0+, 133 MHz, 2 MB QSPI flash)", "cortex-m0plus",
               ("-mthumb", "-mfloat-abi=soft"), 2 * MiB, 264 * KiB, None, False),
        Target("cortex-m7", "STM32F746 (Cortex-M7, 216 MHz)", "cortex-m7",
               ("-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"), 1 * MiB, 320 * KiB, "mps2-an500", True),
        Target("cortex-m33", "nRF5340 application core (Cortex-M33, 128 MHz)", "cortex-m33",
               ("-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"), 1 * MiB, 512 * KiB, "mps2-an505", True),
        Target("cortex-m55", "Corstone-300 / MPS3 AN547 (Cortex-M55)", "cortex-m55",
               ("-mthumb", "-mfloat-abi=hard"), 2 * MiB, 512 * KiB, "mps3-an547", True),
        *(Target(f"ethos-u{u}-{macs}", f"Corstone-300 (Cortex-M55 + Ethos-U{u}-{macs})", "cortex-m55",
                 ("-mthumb", "-mfloat-abi=hard"), 2 * MiB, 512 * KiB, None, True,
                 Npu(f"ethos-u{u}-{macs}", system, memory))
          for u, macs, system, memory in (
              ("55", 128, "Ethos_U55_High_End_Embedded", "Shared_Sram"),
              ("55", 256, "Ethos_U55_High_End_Embedded", "Shared_Sram"),
              ("65", 256, "Ethos_U65_High_End", "Dedicated_Sram"),
              ("65", 512, "Ethos_U65_High_End", "Dedicated_Sram"))),
        Target("host", "this machine (gcc, native)", "", (), None, None, None, False),
    )
}
# `cortex-m` is the family default: the Cortex-M4 board, the most common DSP-capable core.
TARGETS["cortex-m"] = TARGETS["cortex-m4"]


@dataclass(frozen=True)
class Machine:
    """How the firmware is linked and counted on one QEMU machine (or build-only layout)."""

    name: str
    linker_script: str  # in firmware_stub/board/
    cpu_clock_hz: int  # SysTick clock: with -icount shift=0 one tick = 1e9 / clock instructions


MACHINES: dict[str, Machine] = {
    m.name: m
    for m in (
        Machine("mps2-an386", "mps2_an386.ld", 25_000_000),
        Machine("mps2-an500", "mps2_an386.ld", 25_000_000),  # same memory map as AN386
        Machine("mps2-an505", "mps2_an505.ld", 20_000_000),
        Machine("mps3-an547", "mps3_an547.ld", 32_000_000),
    )
}
# Build-only targets (no QEMU machine) link with the AN386 layout: only their sizes are reported.
BUILD_ONLY_MACHINE = MACHINES["mps2-an386"]


def machine_for(target: Target) -> Machine:
    return MACHINES[target.qemu_machine] if target.qemu_machine else BUILD_ONLY_MACHINE


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise ConfigError(f"unknown target '{name}'; choose one of: {', '.join(TARGETS)}") from None
