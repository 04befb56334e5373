"""Compile many generated networks into ONE host test binary (gcc, ASan + UBSan) and run it.

Each network gets its own symbol prefix (n0, n1, ...); main.c runs every network on its test
vectors and prints the int8 outputs (and, for float-I/O networks, the bit patterns of the
float outputs), which the tests compare with the TFLM Python runtime and LiteRT.
"""

from __future__ import annotations

import importlib.resources
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acdeploy.deploy.codegen import GeneratedNetwork, generate, test_vectors_header
from acdeploy.deploy.ir import Graph
from acdeploy.deploy.memory_plan import plan_memory
from acdeploy.deploy.tflite_reader import read_tflite
from acdeploy.deploy.vectors import make_vectors, tflm_interpreter

SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
CFLAGS = ["-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-Wconversion", *SANITIZE]


@dataclass
class Net:
    name: str
    model: bytes
    graph: Graph
    code: GeneratedNetwork
    inputs: np.ndarray  # int8 [n, in]
    expected: np.ndarray  # TFLM int8 [n, out]
    float_inputs: np.ndarray | None = None
    float_expected: np.ndarray | None = None


def kernels_dir() -> Path:
    return Path(str(importlib.resources.files("acdeploy.firmware_stub") / "kernels"))


def tflm_float_outputs(model: bytes, graph: Graph, xs: np.ndarray) -> np.ndarray:
    interp = tflm_interpreter(model, graph)
    out = []
    for x in xs:
        interp.set_input(x, 0)
        interp.invoke()
        out.append(np.asarray(interp.get_output(0), np.float32).reshape(-1))
    return np.stack(out)


def prepare(models: list[bytes], n_vectors: int = 3, seed: int = 0, inputs: list | None = None,
            names: list[str] | None = None, reference: bool = False, weights: str = "auto",
            objective: str = "speed") -> list[Net]:
    """Generate each model (prefix `names[i]`, default n<i>; reference: the reference kernels;
    weights, objective: the weight formats, deploy/weight_formats.py)."""
    nets = []
    for i, model in enumerate(models):
        g = read_tflite(model)
        name = names[i] if names is not None else f"n{i}"
        code = generate(g, plan_memory(g), prefix=name, source_name=f"test case {i}", reference=reference,
                        weights=weights, objective=objective)
        given = None if inputs is None else inputs[i]
        x, y = make_vectors(model, inputs=given, n=n_vectors, seed=seed + i, graph=g)
        net = Net(name, model, g, code, x, y)
        if code.float_io:
            gin = g.tensor(g.inputs[0])
            q = g.tensor(code.input_tensor).quant
            lo = (-128 - int(q.zero_point[0])) * float(q.scale[0])
            hi = (127 - int(q.zero_point[0])) * float(q.scale[0])
            rng = np.random.default_rng(seed + 1000 + i)
            span = hi - lo
            xf = rng.uniform(lo - 0.1 * span, hi + 0.1 * span, size=(n_vectors, *gin.shape)).astype(np.float32)
            net.float_inputs = xf
            net.float_expected = tflm_float_outputs(model, g, xf)
        nets.append(net)
    return nets


def _main_c(nets: list[Net]) -> str:
    """A table of networks and one loop: keeps main.c small however many networks there are."""
    lines = ["#include <stdio.h>", "#include <string.h>", "#include <stdint.h>"]
    for n in nets:
        lines += [f'#include "{n.name}.h"', f'#include "{n.name}_vectors.h"']
    lines += [
        "",
        "typedef struct {",
        "    const char *name;",
        "    int (*invoke)(const int8_t *, int8_t *);",
        "    const int8_t *inputs;",
        "    int n, in_size, out_size;",
        "    int (*invoke_float)(const float *, float *);",
        "    const float *float_inputs;",
        "    int n_float;",
        "} net_t;",
        "",
        "static const net_t nets[] = {",
    ]
    for n in nets:
        P = n.name.upper()
        if n.float_inputs is not None:
            fl = f"{n.name}_invoke_float, &{n.name}_float_input[0][0], {len(n.float_inputs)}"
        else:
            fl = "NULL, NULL, 0"
        lines.append(f'    {{"{n.name}", {n.name}_invoke, &{n.name}_test_input[0][0], {P}_NUM_VECTORS, '
                     f"{P}_INPUT_SIZE, {P}_OUTPUT_SIZE, {fl}}},")
    lines += [
        "};",
        "",
        "int main(void)",
        "{",
        "    static int8_t out[1 << 16];",
        "    static float fout[1 << 16];",
        "    size_t k;",
        "    int v, i;",
        "    for (k = 0; k < sizeof(nets) / sizeof(nets[0]); ++k) {",
        "        const net_t *t = &nets[k];",
        "        for (v = 0; v < t->n; ++v) {",
        "            if (t->invoke(t->inputs + v * t->in_size, out) != 0) return 2;",
        '            printf("%s %d", t->name, v);',
        '            for (i = 0; i < t->out_size; ++i) printf(" %d", out[i]);',
        '            printf("\\n");',
        "        }",
        "        for (v = 0; v < t->n_float; ++v) {",
        "            if (t->invoke_float(t->float_inputs + v * t->in_size, fout) != 0) return 2;",
        '            printf("%s_f %d", t->name, v);',
        "            for (i = 0; i < t->out_size; ++i) {",
        "                uint32_t b;",
        "                memcpy(&b, &fout[i], sizeof(b));",
        '                printf(" %u", (unsigned)b);',
        "            }",
        '            printf("\\n");',
        "        }",
        "    }",
        "    return 0;",
        "}",
        "",
    ]
    return "\n".join(lines)


def _float_vectors(n: Net) -> str:
    P = n.name.upper()
    rows = ",\n".join("    {" + ", ".join(f"{float(v):.9e}f" for v in x.reshape(-1)) + "}" for x in n.float_inputs)
    return (f"static const float {n.name}_float_input[{len(n.float_inputs)}][{P}_INPUT_SIZE] = {{\n{rows}\n}};\n")


def write_sources(nets: list[Net], work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    shutil.copytree(kernels_dir(), work / "kernels", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    for n in nets:
        (work / f"{n.name}.c").write_text(n.code.source)
        (work / f"{n.name}.h").write_text(n.code.header)
        vec = test_vectors_header(n.inputs, n.expected, prefix=n.name)
        if n.float_inputs is not None:
            vec = vec.replace(f"#endif /* {n.name.upper()}_TEST_VECTORS_H */", _float_vectors(n) + f"\n#endif /* {n.name.upper()}_TEST_VECTORS_H */")
        (work / f"{n.name}_vectors.h").write_text(vec)
    (work / "main.c").write_text(_main_c(nets))
    # One translation unit for all networks (their symbols are prefixed): one compiler process
    # instead of hundreds keeps the sanitizer build to seconds.
    (work / "all_nets.c").write_text("".join(f'#include "{n.name}.c"\n' for n in nets))


def build_and_run(nets: list[Net], work: Path, dsp_emulate: bool = False, extra_flags: tuple[str, ...] = (),
                  one_unit: bool = True) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Compile main.c + all networks + kernels; return int8 outputs and float-output bit patterns per net.

    one_unit: the networks as one translation unit (fast); else each its own, linked together."""
    write_sources(nets, work)
    exe = work / ("run_dsp" if dsp_emulate else "run")
    units = ["all_nets.c"] if one_unit else [f"{n.name}.c" for n in nets]
    srcs = ["main.c", *units, *sorted(str(p.relative_to(work)) for p in (work / "kernels").glob("*.c"))]
    flags = [*CFLAGS, *(["-DAC_DSP_EMULATE"] if dsp_emulate else []), *extra_flags]
    cc = subprocess.run(["gcc", *flags, "-I.", *srcs, "-o", exe.name], cwd=work, capture_output=True, text=True)
    if cc.returncode != 0:
        raise AssertionError(f"gcc failed:\n{cc.stderr[-4000:]}")
    run = subprocess.run([f"./{exe.name}"], cwd=work, capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        raise AssertionError(f"test binary failed ({run.returncode}):\n{run.stderr[-4000:]}")
    ints: dict[str, list] = {}
    floats: dict[str, list] = {}
    for line in run.stdout.splitlines():
        name, _, *vals = line.split()
        if name.endswith("_f"):
            floats.setdefault(name[:-2], []).append(np.array([int(v) for v in vals], np.uint32).view(np.float32))
        else:
            ints.setdefault(name, []).append(np.array([int(v) for v in vals], np.int8))
    return ({k: np.stack(v) for k, v in ints.items()}, {k: np.stack(v) for k, v in floats.items()})


def litert_outputs(model: bytes, xs: np.ndarray) -> np.ndarray:
    """LiteRT with its reference kernels (BUILTIN_REF)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    din, dout = it.get_input_details()[0], it.get_output_details()[0]
    out = []
    for x in xs:
        it.set_tensor(din["index"], x.reshape(din["shape"]).astype(din["dtype"]))
        it.invoke()
        out.append(it.get_tensor(dout["index"]).reshape(-1))
    return np.stack(out)


def mismatches(nets: list[Net], got: dict[str, np.ndarray]) -> list[str]:
    bad = []
    for n in nets:
        g = got.get(n.name)
        if g is None or g.shape != n.expected.shape or not np.array_equal(g, n.expected):
            diff = "missing" if g is None else f"{int(np.sum(g != n.expected)) if g.shape == n.expected.shape else 'shape'} differing"
            ops = ",".join(op.opcode for op in n.graph.operators)
            bad.append(f"{n.name} ({ops}): {diff}")
    return bad
