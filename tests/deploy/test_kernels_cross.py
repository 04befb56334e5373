"""The kernels and a generated network cross-compile warning-free for Cortex-M0+ (no DSP) and
Cortex-M4 (DSP), and the M4 build really uses the ACLE DSP instructions (SMLAD, SXTAB16)
unless AC_NO_DSP forces the portable loops. Bit-exactness of the real intrinsics is checked
end to end in QEMU by the firmware tests; the DSP loops themselves run bit-exact on the host
through the emulated intrinsics (test_kernels_ops.py)."""

from __future__ import annotations

import subprocess

import pytest
from conftest import require_tools
from kernel_cases import cases
from kernel_harness import prepare, write_sources

from acdeploy.deploy.targets import get_target

WARN = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-ffunction-sections", "-fdata-sections"]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    require_tools("arm-none-eabi-gcc", "arm-none-eabi-objdump")
    work = tmp_path_factory.mktemp("kernels_cross")
    # A float-I/O chain (quantize, conv, reshape, FC, softmax, dequantize) plus one of each op.
    models = cases("float_io", 1, 3) + [cases(f, 1, 3)[0] for f in
                                         ("depthwise", "pool", "mean", "add", "pad", "concat")]
    write_sources(prepare(models, n_vectors=1), work)
    return work


def _compile(work, target: str, *extra: str):
    t = get_target(target)
    flags = [f"-mcpu={t.cpu}", *t.cflags, *WARN, *extra, "-I."]
    objs = []
    for src in [*sorted(p.relative_to(work) for p in (work / "kernels").glob("*.c")), "all_nets.c"]:
        obj = f"{str(src).replace('/', '_')}.{target}{''.join(extra)}.o"
        r = subprocess.run(["arm-none-eabi-gcc", *flags, "-c", str(src), "-o", obj], cwd=work,
                           capture_output=True, text=True)
        assert r.returncode == 0, f"{src} for {target}:\n{r.stderr[-3000:]}"
        objs.append(obj)
    return objs


def _disassembly(work, objs) -> str:
    r = subprocess.run(["arm-none-eabi-objdump", "-d", *objs], cwd=work, capture_output=True, text=True, check=True)
    return r.stdout


@pytest.mark.toolchain
def test_cortex_m0plus_portable(sources):
    text = _disassembly(sources, _compile(sources, "cortex-m0plus"))
    assert "smlad" not in text


@pytest.mark.toolchain
def test_cortex_m4_uses_dsp_instructions(sources):
    text = _disassembly(sources, _compile(sources, "cortex-m4"))
    assert "smlad" in text and "sxtab16" in text
    assert "smlabb" in text  # the depthwise 4-channel loop


@pytest.mark.toolchain
def test_ac_no_dsp_forces_portable_path(sources):
    text = _disassembly(sources, _compile(sources, "cortex-m4", "-DAC_NO_DSP"))
    assert "smlad" not in text and "sxtab16" not in text


@pytest.mark.toolchain
def test_cortex_m55_compiles_the_helium_kernels(sources):
    """Warning-free with MVE; the Helium kernels replace the DSP ones (by symbol: this objdump does not
    decode MVE), and AC_NO_MVE brings the DSP kernels back."""
    objs = _compile(sources, "cortex-m55")
    syms = subprocess.run(["arm-none-eabi-nm", *objs], cwd=sources, capture_output=True, text=True, check=True).stdout
    assert "ac_depthwise_tables_mve" in syms
    assert "ac_conv2d_1x1_tables_w16" not in syms  # the DSP pointwise kernel is replaced
    text = _disassembly(sources, _compile(sources, "cortex-m55", "-DAC_NO_MVE"))
    assert "smlad" in text  # AC_NO_MVE: the DSP kernels on the MVE core


@pytest.mark.toolchain
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
def test_kernels_compile_unoptimised(sources, target):
    """`make OPT=-O0` (a debug build): the assembly blocks that need an optimised register allocation
    (depthwise 3x3, the Helium dot product) give way to their C forms instead of failing to compile."""
    _compile(sources, target, "-O0")
