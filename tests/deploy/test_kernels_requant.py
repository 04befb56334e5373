"""ac_requant_fast (one SMLAL, an add and a shift) and ac_rq64 (ADD, any shift <= 0) equal TFLM's double-rounding
MultiplyByQuantizedMultiplier (ac_requant: SaturatingRoundingDoublingHighMul + RoundingDivideByPOT)
wherever the kernels use it: multiplier in [2^30, 2^31), shift <= -2, any int32 input.

A host C program (ASan + UBSan) compares the two over edge values (INT32 extremes, powers of two
and their neighbours, exact rounding ties) and millions of random inputs; a Python model of
TFLM's arithmetic checks the C reference on a sample, so the comparison is not circular.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from kernel_harness import CFLAGS, kernels_dir

from acdeploy.deploy.quant import multiply_by_quantized_multiplier

PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include "ac_fixedpoint.h"

static uint64_t state = 0x9E3779B97F4A7C15ull;
static uint32_t next(void) {
    state ^= state << 13; state ^= state >> 7; state ^= state << 17;
    return (uint32_t)(state >> 16);
}

static long bad = 0, checked = 0;
static void check(int32_t x, int32_t m, int32_t shift) {
    const int32_t r = -shift - 1, rnd = 1 << (r - 1);
    const int32_t want = ac_requant(x, m, shift), got = ac_requant_fast(x, m, r, rnd);
    ++checked;
    if (want != got && bad++ < 10) {
        printf("MISMATCH x=%ld m=%ld shift=%ld want=%ld got=%ld\n", (long)x, (long)m, (long)shift,
               (long)want, (long)got);
    }
}

/* ac_rq64 (ADD): every shift in [-31, 0]. */
static void check64(int32_t x, int32_t m, int32_t shift) {
    const ac_rq64 q = ac_rq64_make(m, shift);
    const int32_t want = ac_requant(x, m, shift), got = ac_rq64_apply(&q, x);
    ++checked;
    if (want != got && bad++ < 10) {
        printf("MISMATCH64 x=%ld m=%ld shift=%ld want=%ld got=%ld\n", (long)x, (long)m, (long)shift,
               (long)want, (long)got);
    }
}

int main(int argc, char **argv) {
    static const int32_t ms[] = {1073741824, 1073741825, 1518500250, 2147483646, 2147483647};
    int32_t shift, i, k, n = argc > 1 ? atoi(argv[1]) : 1000000;
    for (shift = -31; shift <= -2; ++shift) {
        for (i = 0; i < (int32_t)(sizeof ms / sizeof ms[0]); ++i) {
            for (k = 0; k < 31; ++k) {
                const int32_t p = (int32_t)(1u << k);
                check(p, ms[i], shift); check(-p, ms[i], shift);
                check(p - 1, ms[i], shift); check(-p + 1, ms[i], shift);
                check(p + 1, ms[i], shift); check(-p - 1, ms[i], shift);
            }
            check(INT32_MIN, ms[i], shift); check(INT32_MAX, ms[i], shift);
            check(INT32_MIN + 1, ms[i], shift); check(0, ms[i], shift);
            for (k = -4096; k <= 4096; ++k) {
                check(k, ms[i], shift); /* m = 2^30: x * m / 2^31 is an exact half: ties */
            }
        }
    }
    for (shift = -31; shift <= 0; ++shift) {
        for (i = 0; i < (int32_t)(sizeof ms / sizeof ms[0]); ++i) {
            for (k = -70000; k <= 70000; k += 7) {
                check64(k * 1024, ms[i], shift); /* ADD: (q + offset) << 20 and sums of those */
                check64(k, ms[i], shift);
            }
            check64(INT32_MAX, ms[i], shift); check64(INT32_MIN, ms[i], shift);
        }
        check64(12345, 0, shift); /* QuantizeMultiplier's (0, 0) for tiny multipliers */
    }
    for (i = 0; i < n; ++i) {
        const int32_t m = (int32_t)(0x40000000u | (next() & 0x3FFFFFFFu));
        check64((int32_t)next(), m, -(int32_t)(next() % 32u));
        const int32_t sh = -2 - (int32_t)(next() % 30u);
        const uint32_t raw = next();
        /* Small accumulators (as in the kernels) and the full int32 range. */
        const int32_t x = (i & 1) ? (int32_t)raw : (int32_t)(raw % 2000001u) - 1000000;
        check(x, m, sh);
    }
    printf("checked=%ld bad=%ld ok=%d %d\n", checked, bad,
           ac_requant_fast_ok(ms, (const int32_t[]){-2, -3, -31, -9, -2}, 5),
           ac_requant_fast_ok((const int32_t[]){1073741823}, (const int32_t[]){-5}, 1) +
               ac_requant_fast_ok(ms, (const int32_t[]){-1}, 1));
    /* Reference values for the Python cross-check: x m shift ac_requant. */
    for (i = 0; i < 200; ++i) {
        const int32_t m = (int32_t)(0x40000000u | (next() & 0x3FFFFFFFu));
        const int32_t sh = -2 - (int32_t)(next() % 30u);
        const int32_t x = (int32_t)next();
        printf("REF %ld %ld %ld %ld\n", (long)x, (long)m, (long)sh, (long)ac_requant(x, m, sh));
    }
    return bad != 0;
}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("requant")
    (work / "requant.c").write_text(PROGRAM)
    exe = work / "requant"
    cc = subprocess.run(["gcc", *[f for f in CFLAGS if f != "-Wconversion"], "-I", str(kernels_dir()),
                         str(work / "requant.c"), "-o", str(exe)], capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr[-3000:]
    proc = subprocess.run([str(exe), "2000000"], capture_output=True, text=True, timeout=300)
    return proc


def test_fast_requant_equals_tflm_double_rounding(run):
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    summary = next(line for line in run.stdout.splitlines() if line.startswith("checked="))
    fields = dict(kv.split("=") for kv in summary.split()[:3])
    assert int(fields["bad"]) == 0
    assert int(fields["checked"]) > 2_000_000


def test_fast_path_guard(run):
    """ac_requant_fast_ok accepts shift <= -2 with m >= 2^30 and rejects anything else."""
    summary = next(line for line in run.stdout.splitlines() if line.startswith("checked="))
    accepted, rejected = summary.split("ok=")[1].split()
    assert accepted == "1" and rejected == "0"


def test_c_reference_matches_python_model_of_tflm(run):
    rows = [line.split()[1:] for line in run.stdout.splitlines() if line.startswith("REF ")]
    assert len(rows) == 200
    for x, m, s, want in (map(int, r) for r in rows):
        assert multiply_by_quantized_multiplier(x, m, s) == want, (x, m, s)
    assert np.unique([int(r[2]) for r in rows]).size > 10
