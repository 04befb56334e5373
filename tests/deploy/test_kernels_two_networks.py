"""Two different generated networks (prefixes net_a and net_b), each its own translation unit,
linked into one host binary with ASan/UBSan against one kernel library: both stay bit-exact with
TFLM, and each invoke reports a NULL buffer through its status."""

from __future__ import annotations

import subprocess

from kernel_cases import cases
from kernel_harness import CFLAGS, build_and_run, mismatches, prepare


def _two():
    conv = cases("conv_fast", 1, 11)[0]
    chain = cases("chain", 1, 11)[0]
    return prepare([conv, chain], n_vectors=3, seed=11, names=["net_a", "net_b"])


def test_two_networks_in_one_binary_bit_exact_with_tflm(tmp_path):
    nets = _two()
    assert nets[0].model != nets[1].model
    for dsp in (False, True):
        got, _ = build_and_run(nets, tmp_path / str(dsp), dsp_emulate=dsp, one_unit=False)
        assert mismatches(nets, got) == []


NULL_MAIN = """#include <stdio.h>
#include "net_a.h"
#include "net_b.h"
int main(void)
{
    static int8_t a_in[NET_A_INPUT_SIZE], a_out[NET_A_OUTPUT_SIZE], b_in[NET_B_INPUT_SIZE];
    printf("%d %d %d %d\\n", net_a_invoke(NULL, a_out), net_a_invoke(a_in, NULL), net_b_invoke(b_in, NULL),
           net_a_invoke(a_in, a_out));
    return 0;
}
"""


def test_invoke_reports_a_null_buffer(tmp_path):
    nets = _two()
    build_and_run(nets, tmp_path, one_unit=False)  # writes the sources
    (tmp_path / "null_main.c").write_text(NULL_MAIN)
    kernels = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "kernels").glob("*.c"))
    cc = subprocess.run(["gcc", *CFLAGS, "-I.", "null_main.c", "net_a.c", "net_b.c", *kernels, "-o", "null"],
                        cwd=tmp_path, capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr[-3000:]
    run = subprocess.run(["./null"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["1", "1", "1", "0"]
