"""CMSIS-DSP's FFTs on a core in QEMU: instructions of one call each, built the Python way (portable C,
-D__GNUC_PYTHON__, as the firmware's front end builds CMSIS-DSP) and with acdeploy's cmsis_compiler.h
(firmware_stub/frontend: the DSP intrinsics as instructions, ARM_MATH_DSP on).

    .venv/bin/python benchmarks/bench_fft.py [--target cortex-m4] [--n-fft 1024 2048]

The driver is benchmarks/fft_calls.c: arm_rfft_fast_f32, arm_rfft_q15 and arm_rfft_q31 at n_fft
real points, arm_cfft_f32 / _q15 / _q31 at n_fft / 2 complex points (a real FFT's core), on noise.
The float FFTs do not use the DSP intrinsics: their two columns agree.
"""

from __future__ import annotations

import argparse
import importlib.resources
import re
import subprocess
import tempfile
from pathlib import Path

from acdeploy.deploy import firmware, frontend_step
from acdeploy.deploy.targets import get_target

SOURCES = tuple(f"Source/TransformFunctions/{n}.c" for n in (
    "arm_rfft_fast_f32", "arm_rfft_fast_init_f32", "arm_cfft_f32", "arm_cfft_init_f32", "arm_cfft_radix8_f32",
    "arm_bitreversal2", "arm_bitreversal", "arm_rfft_q15", "arm_rfft_init_q15", "arm_cfft_q15", "arm_cfft_init_q15",
    "arm_cfft_radix4_q15", "arm_rfft_q31", "arm_rfft_init_q31", "arm_cfft_q31", "arm_cfft_init_q31",
    "arm_cfft_radix4_q31")) + ("Source/BasicMathFunctions/arm_shift_q15.c", "Source/BasicMathFunctions/arm_shift_q31.c",
                                "Source/CommonTables/arm_common_tables.c", "Source/CommonTables/arm_const_structs.c",
                                "Source/CommonTables/arm_mve_tables.c")


def measure(target: str, n_fft: int, glue: bool) -> dict[str, int]:
    t = get_target(target)
    root = frontend_step.cmsis_root()
    with tempfile.TemporaryDirectory() as tmp:
        fw = firmware.install_project(Path(tmp) / "fw")
        board = fw / "board"
        if glue:
            stub = importlib.resources.files("acdeploy.firmware_stub") / "frontend" / "cmsis_compiler.h"
            (Path(tmp) / "cmsis_compiler.h").write_bytes(stub.read_bytes())
            mode = [f"-I{tmp}"]
        else:
            mode = ["-D__GNUC_PYTHON__"]
        elf = Path(tmp) / "fft.elf"
        cmd = ["arm-none-eabi-gcc", "-std=c99", "-O2", "-ffp-contract=fast", "-w", f"-mcpu={t.cpu}", *t.cflags, *mode,
               f"-I{root / 'Include'}", f"-I{root / 'PrivateInclude'}", f"-I{board}", f"-DN_FFT={n_fft}",
               f"-DN_CFFT={n_fft // 2}", "-DAC_CPU_CLOCK_HZ=25000000ull", str(Path(__file__).with_name("fft_calls.c")),
               str(board / "startup_cortexm.c"), str(board / "board_cortexm.c"), *(str(root / s) for s in SOURCES),
               "-nostartfiles", f"-T{board / 'mps2_an386.ld'}", f"-L{board}", "-Wl,--defsym=STACK_SIZE=8192",
               "-Wl,--gc-sections", "-o", str(elf)]
        subprocess.run(cmd, check=True, capture_output=True)
        run = subprocess.run(firmware.qemu_command(elf, t.qemu_machine or "mps2-an386"), capture_output=True,
                             text=True, timeout=300)
        return {name: int(v) for name, v in re.findall(r"^FFT (\w+) (\d+)$", run.stdout + run.stderr, re.M)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="cortex-m4")
    ap.add_argument("--n-fft", type=int, nargs="+", default=[1024])
    args = ap.parse_args()
    print(f"| FFT ({args.target}) | points | portable C (-D__GNUC_PYTHON__) | DSP intrinsics (cmsis_compiler.h) |")
    print("| --- | ---: | ---: | ---: |")
    for n in args.n_fft:
        portable, dsp = measure(args.target, n, glue=False), measure(args.target, n, glue=True)
        for name in portable:
            points = n // 2 if "cfft" in name else n
            print(f"| {name} | {points} | {portable[name]:,} | {dsp.get(name, 0):,} |", flush=True)


if __name__ == "__main__":
    main()
