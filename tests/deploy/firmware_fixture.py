"""A hand-written stand-in for the generated network, for the firmware tests: an int8 fully
connected layer (weights [OUT, IN], input zero point, right shift, clamp) that honours the acnet.h
contract. Its expected outputs come from numpy, independently of the C code."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from acdeploy import fileio
from acdeploy.deploy.firmware import install_project

N_IN, N_OUT, INPUT_ZP, SHIFT = 64, 10, -3, 10


def _c_array(values: np.ndarray) -> str:
    if values.ndim == 1:
        return ", ".join(str(int(v)) for v in values)
    return ", ".join("{" + _c_array(row) + "}" for row in values)


def reference(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    acc = (x.astype(np.int32) - INPUT_ZP) @ weights.astype(np.int32).T
    return np.clip(acc >> SHIFT, -128, 127).astype(np.int8)


def write_fixture(fw_dir: Path, n_vectors: int = 4, seed: int = 0, spin: bool = False,
                  corrupt: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Write acnet.c/.h, test_vectors.h and the firmware project into `fw_dir`.

    spin: acnet_invoke never returns (timeout tests); corrupt: one expected output is off by one.
    Returns (weights, inputs).
    """
    rng = np.random.default_rng(seed)
    w = rng.integers(-128, 128, size=(N_OUT, N_IN), dtype=np.int8)
    x = rng.integers(-128, 128, size=(n_vectors, N_IN), dtype=np.int8)
    y = reference(w, x)
    if corrupt:
        y[0, 0] = y[0, 0] + 1 if y[0, 0] < 127 else 126
    fileio.write_text(fw_dir / "acnet.h", f"""#ifndef ACNET_H
#define ACNET_H
#include <stdint.h>
#define ACNET_INPUT_SIZE {N_IN}
#define ACNET_OUTPUT_SIZE {N_OUT}
#define ACNET_ARENA_SIZE {4 * N_OUT}
#define ACNET_MACS {N_IN * N_OUT}
int acnet_invoke(const int8_t *input, int8_t *output);
#endif
""")
    spin_loop = "for (volatile int forever = 1; forever;) {}" if spin else ""
    # Laid out like the generator's output: a comment before each layer, the copy to `output` last.
    fileio.write_text(fw_dir / "acnet.c", f"""#include <string.h>
#include "acnet.h"
static const int8_t weights[{N_OUT}][{N_IN}] = {{{_c_array(w)}}};
static int32_t arena[{N_OUT}];
static int8_t result[{N_OUT}];
int acnet_invoke(const int8_t *input, int8_t *output) {{
    {spin_loop}
    /* layer 0: FULLY_CONNECTED 'dot' */
    for (int o = 0; o < {N_OUT}; o++) {{
        int32_t acc = 0;
        for (int i = 0; i < {N_IN}; i++) {{
            acc += (input[i] - ({INPUT_ZP})) * weights[o][i];
        }}
        arena[o] = acc >> {SHIFT};
    }}
    /* layer 1: CLAMP 'clamp' */
    for (int o = 0; o < {N_OUT}; o++) {{
        int32_t v = arena[o] < -128 ? -128 : arena[o] > 127 ? 127 : arena[o];
        result[o] = (int8_t)v;
    }}
    memcpy(output, result, {N_OUT});
    return 0;
}}
""")
    fileio.write_text(fw_dir / "test_vectors.h", f"""#include <stdint.h>
#define ACNET_NUM_VECTORS {n_vectors}
static const int8_t acnet_test_input[{n_vectors}][{N_IN}] = {{{_c_array(x)}}};
static const int8_t acnet_test_expected[{n_vectors}][{N_OUT}] = {{{_c_array(y)}}};
""")
    install_project(fw_dir)
    return w, x
