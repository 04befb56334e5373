"""The kernel-variant declaration in the generated header (AC_NET_TABLES, AC_NET_FULL_RANGE:
kernels/ac_fixedpoint.h), which leaves unused DSP loops out of the firmware.

The generator must declare exactly what its conv/depthwise layers have, and a build that leaves
variants out must stay bit-exact with TFLM even for layers outside the declaration (they fall
back to the portable loops): here random conv/depthwise models (some without the requantisation
table, some with clamps narrower than int8) run in DSP builds declared too narrow.
"""

from __future__ import annotations

import re

import pytest
from kernel_cases import cases
from kernel_harness import build_and_run, mismatches, prepare

COUNTS = {"conv": 12, "depthwise": 12, "conv_fast": 24, "depthwise_fast": 24}
SEED = 6


@pytest.fixture(scope="module")
def nets():
    models = [m for fam, n in COUNTS.items() for m in cases(fam, n, SEED)]
    return prepare(models, n_vectors=2, seed=SEED)


def _declared(header: str, name: str) -> int:
    return int(re.search(rf"#define {name} (\d)", header).group(1))


def test_declaration_matches_the_layers(nets):
    kinds = set()
    for n in nets:
        no_table = ".requant = NULL" in n.code.source
        narrow = re.search(r"\.act_min = (?!-128,)|\.act_max = (?!127,)", n.code.source) is not None
        tables, full = _declared(n.code.header, "AC_NET_TABLES"), _declared(n.code.header, "AC_NET_FULL_RANGE")
        assert tables == (not no_table), n.name
        assert full == (tables and not narrow), n.name
        kinds.add((tables, full))
    # Every combination occurs, so the builds below run layers outside their declaration.
    assert kinds == {(0, 0), (1, 0), (1, 1)}


@pytest.mark.parametrize("tables,full", [(1, 1), (1, 0)])
def test_narrow_declaration_stays_bit_exact(nets, tmp_path, tables, full):
    got, _ = build_and_run(nets, tmp_path, dsp_emulate=True,
                           extra_flags=(f"-DAC_NET_TABLES={tables}", f"-DAC_NET_FULL_RANGE={full}"))
    assert mismatches(nets, got) == []
