"""Parameters kept compact in flash and expanded into the arena at run time
(firmware_stub/kernels/ac_params.c, chosen per layer by deploy/weight_formats.py `expand_pays`):
the expanded requantisation rows and ADD tables equal, bit for bit, the flash tables the generator
emits under objective speed (random conv, depthwise, sparse conv and ADD layers, one ASan/UBSan
host binary); whole networks under balanced and size equal the TFLM runtime (portable and DSP
loops); the default student under balanced runs on the Cortex-M4 in QEMU and equals TFLM."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from kernel_cases import cases, chain_case, prune
from kernel_harness import CFLAGS, build_and_run, kernels_dir, mismatches, prepare

from acdeploy.deploy import weight_formats as wf
from acdeploy.deploy.codegen import generate
from acdeploy.deploy.memory_plan import check_plan, plan_memory
from acdeploy.deploy.tflite_reader import read_tflite

SEED = 16
GOLDEN = Path(__file__).resolve().parent / "golden" / "mixed.tflite"


def _models() -> list[tuple[bytes, str]]:
    """(model, --weights mode): dense conv / depthwise / ADD layers and pruned convs (sparse rows)."""
    dense = [*cases("conv_fast", 6, SEED), *cases("depthwise_fast", 6, SEED), *cases("add", 8, SEED),
             GOLDEN.read_bytes()]
    sparse = [prune(m, s, seed=i) for i, (m, s) in enumerate(zip(cases("conv_fast", 6, SEED + 1),
                                                              (0.5, 0.75, 0.9, 0.5, 0.75, 0.9), strict=True))]
    return [(m, "auto") for m in dense] + [(m, "sparse") for m in sparse]


def _check_program(pairs: list[tuple[str, str, list]]) -> str:
    """main(): each expanded layer's rows / tables against the flash ones, one line per mismatch."""
    body = []
    for flash, ram, expanded in pairs:
        for x in expanded:
            i = f"{x.index:02d}"
            if x.what == "ADD input tables":
                body.append(f"    ac_add_expand_tables(&{ram}_l{i}_params, buf, buf + 256);\n"
                            f"    bad += check(\"{ram} {i} in1\", buf, {flash}_l{i}_in1_table, 256);\n"
                            f"    bad += check(\"{ram} {i} in2\", buf + 256, {flash}_l{i}_in2_table, 256);\n")
            else:
                fn = "ac_requant_expand_sparse" if f"{ram}_l{i}_pairs" in _SOURCES[ram] else "ac_requant_expand"
                body.append(f"    {fn}(&{ram}_l{i}_requant_c, buf);\n"
                            f"    bad += check(\"{ram} {i} rows\", buf, {flash}_l{i}_requant, "
                            f"(int)(sizeof({flash}_l{i}_requant) / sizeof(int32_t)));\n")
    return ("#include <stdio.h>\n#include <string.h>\n" + "".join(f'#include "{n}.c"\n' for n in _SOURCES)
            + "static int check(const char *what, const int32_t *got, const int32_t *want, int n)\n{\n"
              "    int k;\n    for (k = 0; k < n; ++k) {\n        if (got[k] != want[k]) {\n"
              "            printf(\"%s [%d]: %d != %d\\n\", what, k, (int)got[k], (int)want[k]);\n"
              "            return 1;\n        }\n    }\n    return 0;\n}\n\n"
              "int main(void)\n{\n    static int32_t buf[4096];\n    int bad = 0;\n"
            + "".join(body) + "    printf(\"checked\\n\");\n    return bad != 0;\n}\n")


_SOURCES: dict[str, str] = {}


def test_expanded_tables_equal_the_flash_tables(tmp_path):
    pairs, kinds = [], set()
    for k, (model, weights) in enumerate(_models()):
        g = read_tflite(model)
        plan = plan_memory(g)
        flash = generate(g, plan, prefix=f"f{k}", weights=weights, objective="speed")
        ram = generate(g, plan, prefix=f"r{k}", weights=weights, objective="size")
        assert flash.expanded == []
        for name, net in ((f"f{k}", flash), (f"r{k}", ram)):
            _SOURCES[name] = net.source
            (tmp_path / f"{name}.c").write_text(net.source)
            (tmp_path / f"{name}.h").write_text(net.header)
        for x in ram.expanded:
            # The compact form keeps no flash table, and its RAM range is clear of every tensor
            # live during the layer.
            assert f"r{k}_l{x.index:02d}_requant[" not in ram.source
            assert f"r{k}_l{x.index:02d}_in1_table[" not in ram.source
            busy = [(plan.offsets[t], plan.offsets[t] + g.tensor(t).nbytes) for t, (a, b) in plan.lifetimes.items()
                    if a <= x.index <= b]
            assert all(e <= x.ram_offset or s >= x.ram_offset + x.table_bytes for s, e in busy), (k, x)
            assert x.ram_offset + x.table_bytes <= ram.arena_bytes
            kinds.add((x.op, x.what, f"r{k}_l{x.index:02d}_pairs" in ram.source))
        pairs.append((f"f{k}", f"r{k}", ram.expanded))
    # Every kind of expansion is reached: conv and depthwise rows, sparse rows, ADD tables.
    assert {("CONV_2D", "requantisation rows", False), ("DEPTHWISE_CONV_2D", "requantisation rows", False),
            ("CONV_2D", "requantisation rows", True), ("ADD", "ADD input tables", False)} <= kinds, kinds
    (tmp_path / "check.c").write_text(_check_program(pairs))
    srcs = ["check.c", *sorted(str(p) for p in kernels_dir().glob("*.c"))]
    cc = subprocess.run(["gcc", *CFLAGS, "-I.", f"-I{kernels_dir().parent}", *srcs, "-o", "check"], cwd=tmp_path,
                        capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr[-4000:]
    run = subprocess.run(["./check"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip().endswith("checked"), run.stdout[-2000:] + run.stderr[-2000:]


@pytest.mark.parametrize("objective", ["balanced", "size"])
def test_networks_with_expanded_parameters_equal_tflm(objective, tmp_path):
    rng = np.random.default_rng(SEED)
    models = [GOLDEN.read_bytes(), *(chain_case(rng) for _ in range(6)), *cases("add", 4, SEED + 2),
              prune(GOLDEN.read_bytes(), 0.9)]
    nets = prepare(models, n_vectors=3, seed=SEED, objective=objective)
    # balanced expands only where the plan leaves a gap (small random networks have few).
    assert sum(len(n.code.expanded) for n in nets) >= (3 if objective == "balanced" else 10)
    if objective == "balanced":
        # balanced takes no RAM beyond the memory plan's arena.
        assert all(n.code.arena_bytes == max(16, plan_memory(n.graph).arena_bytes) for n in nets)
    for n in nets:
        check_plan(n.graph, plan_memory(n.graph))
    for dsp in (False, True):
        got, _ = build_and_run(nets, tmp_path / ("dsp" if dsp else "portable"), dsp_emulate=dsp)
        assert mismatches(nets, got) == []


def test_expand_pays_follows_the_objective():
    assert not wf.expand_pays("speed", 1000, 10)
    assert wf.expand_pays("size", 1, 10 ** 9)
    assert wf.expand_pays("balanced", 700, 1000)
    assert not wf.expand_pays("balanced", 700, 1000, ram_added=16)  # balanced adds no RAM
    assert not wf.expand_pays("balanced", 10, wf.BYTE_WORTH * 10)  # too many instructions per byte
    assert not wf.expand_pays("size", 0, 0)


@pytest.mark.slow
@pytest.mark.toolchain
def test_student_under_balanced_on_the_cortex_m4(tmp_path):
    """The default student (width 1, random weights, int8) built with objective balanced runs on
    the Cortex-M4 in QEMU with its parameters expanded at run time and equals TFLM; its .weights
    section is smaller than under speed and its RAM is the same."""
    import tf_keras as keras
    from conftest import require_tools

    from acdeploy.compress.quantize import convert_int8
    from acdeploy.deploy.build import BuildOptions, build
    from acdeploy.train.config import ModelConfig
    from acdeploy.train.models import build_model, inference_model

    require_tools("arm-none-eabi-gcc", "qemu-system-arm", "make")
    shape = (40, 51, 1)
    keras.utils.set_random_seed(0)
    model = inference_model(build_model(ModelConfig(), shape, 10))
    path = tmp_path / "student.tflite"
    path.write_bytes(convert_int8(model, np.random.default_rng(0).normal(0, 1, (8, *shape)).astype(np.float32)))
    reports = {obj: build(path, "cortex-m4", tmp_path / obj, options=BuildOptions(run=True, objective=obj, timeout=600))
               for obj in ("speed", "balanced")}
    bal, speed = reports["balanced"], reports["speed"]
    assert bal.firmware.passed and bal.firmware.mismatches == 0 and bal.firmware.vectors >= 4
    assert speed.network.expanded_params == []
    expanded = bal.network.expanded_params
    assert {x["op"] for x in expanded} >= {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD"}
    saved = sum(x["table_bytes"] - x["flash_bytes"] for x in expanded)
    assert speed.firmware.size["weights"] - bal.firmware.size["weights"] >= saved
    assert bal.firmware.size["arena"] == speed.firmware.size["arena"]


def test_report_lists_the_expanded_layers_and_reads_older_reports(tmp_path):
    """report.json's network.expanded_params (balanced expands the golden model's depthwise rows);
    a report.json written before the key existed still reads."""
    import json

    from acdeploy.deploy.build import BuildOptions, build
    from acdeploy.deploy.report_data import Report

    rep = build(GOLDEN, "cortex-m4", tmp_path / "b", options=BuildOptions(objective="balanced"))
    d = json.loads((tmp_path / "b" / "report.json").read_text())
    assert d["network"]["expanded_params"] == rep.network.expanded_params != []
    assert "Parameters expanded at run time" in (tmp_path / "b" / "report.md").read_text()
    del d["network"]["expanded_params"]
    assert Report.from_dict(d, "old report.json").network.expanded_params is None
