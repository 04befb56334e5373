"""Ethos-U benchmark: Arm Vela's estimates (NPU cycles, inferences per second at the system config's
clock, SRAM / DRAM / off-chip flash, weights as encoded for the NPU) on ethos-u55-128 and
ethos-u65-256, through the same code as `acdeploy report --target ethos-u55-128`.

Models, int8 with random initial weights on 40x51x1 log-mels (one 1 s DCASE 2022 clip):
- the registry's default student (benchmarks/bench_firmware.py `student_model`, width 1, depth 1);
- the same student with 80 % of each conv / depthwise / dense kernel zeroed by magnitude (what a
  lottery ticket looks like to Vela, whose weight encoder compresses runs of zeros);
- the registry's `dcase2022_baseline` at full width (train/models.py).
Cycles and memory depend on shapes; encoded weight bytes (and through them the flash-bound
cycles) also depend on the weight values, so a trained model's figures differ a little.
QEMU has no NPU: these are Vela's performance-model estimates, not measurements.

    .venv/bin/python benchmarks/bench_ethos.py [--out runs/bench_ethos] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np
from bench_firmware import student_model

TARGETS = ("ethos-u55-128", "ethos-u65-256")
SHAPE = (40, 51, 1)
SPARSITY = 0.8


def _int8(model, path: Path) -> Path:
    from acdeploy import fileio
    from acdeploy.compress.quantize import convert_int8

    rep = np.random.default_rng(0).normal(0, 1, (32, *SHAPE)).astype(np.float32)
    fileio.write_bytes(path, convert_int8(model, rep))
    return path


def baseline_model(path: Path) -> Path:
    """The registry's DCASE 2022 baseline at full width, int8, cached at `path`."""
    if path.exists():
        return path
    import tf_keras as keras

    from acdeploy.train.config import ModelConfig
    from acdeploy.train.models import build_model, inference_model

    keras.utils.set_random_seed(0)
    return _int8(inference_model(build_model(ModelConfig(name="dcase2022_baseline"), SHAPE, 10)), path)


def pruned_student(path: Path) -> Path:
    """The default student with SPARSITY of every kernel's weights set to zero (smallest magnitudes)."""
    if path.exists():
        return path
    import tf_keras as keras

    from acdeploy.train.config import ModelConfig
    from acdeploy.train.models import build_model, inference_model

    keras.utils.set_random_seed(0)
    model = build_model(ModelConfig(), SHAPE, 10)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D | keras.layers.Dense):
            w = layer.get_weights()
            w[0][np.abs(w[0]) < np.quantile(np.abs(w[0]), SPARSITY)] = 0
            layer.set_weights(w)
    return _int8(inference_model(model), path)


def measure(name: str, model_path: Path) -> dict:
    from acdeploy.deploy.build import load_model
    from acdeploy.deploy.ethos_step import ethos_result
    from acdeploy.deploy.report import analyze
    from acdeploy.deploy.targets import get_target

    data, graph, _ = load_model(model_path)
    totals = analyze(graph, model_path, len(data)).totals
    res = {"model": name, "path": str(model_path), "macs": totals.macs, "params": totals.params,
           "nonzero_params": totals.nonzero_params, "model_bytes": len(data), "layers": totals.layers,
           "targets": {}}
    for target in TARGETS:
        e, _ = ethos_result(data, graph, get_target(target), str(model_path))
        res["targets"][target] = e.to_dict()
        print(f"{name} {target}: {e.total_cycles:,} cycles, {e.inferences_per_second:,} inferences/s",
              file=sys.stderr)
    return res


def _by_layer(e: dict) -> list[tuple[int | None, str, int, int, int]]:
    """(layer, original op, cycles, NPU cycles, MACs) per layer, Vela's operations summed."""
    rows: dict[int | None, list] = {}
    for r in e["layers"]:
        row = rows.setdefault(r["layer"], [r["layer"], r["original_op"], 0, 0, 0])
        row[2] += r["cycles"]
        row[3] += r["npu_cycles"]
        row[4] += r["macs"]
    return [tuple(r) for r in rows.values()]


def markdown(results: list[dict], command: str) -> str:
    first = results[0]["targets"][TARGETS[0]]
    lines = [
        f"Command: `{command}` (machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}; Arm Vela {first['vela_version']} with its own Arm/vela.ini: "
        "ethos-u55-128 as Ethos_U55_High_End_Embedded / Shared_Sram (500 MHz, weights in off-chip flash, "
        "feature maps in SRAM), ethos-u65-256 as Ethos_U65_High_End / Dedicated_Sram (1 GHz, weights and "
        "feature maps in DRAM, the SRAM its cache)).",
        "Models: int8, random initial weights, 40x51x1 input (one 1 s clip). Figures are Vela's "
        "performance-model estimates: QEMU has no NPU, so the Ethos-U targets are build only and nothing "
        "here was run.",
        "",
        "| model | MACs | target | cycles / inference | NPU compute cycles | cycles / MAC | inferences / s | "
        "SRAM | DRAM | off-chip flash | weights as encoded | Vela's .tflite (C array) | ops on CPU |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for res in results:
        for target, e in res["targets"].items():
            lines.append(
                f"| {res['model']} | {res['macs']:,} | {target} | {e['total_cycles']:,} | {e['npu_cycles']:,} | "
                f"{e['total_cycles'] / res['macs']:.3f} | {e['inferences_per_second']:,.0f} | {e['sram_bytes']:,} | "
                f"{e['dram_bytes']:,} | {e['off_chip_flash_bytes']:,} | {e['weights_bytes']:,} | "
                f"{e['compiled_model_bytes']:,} (input {res['model_bytes']:,}) | {e['cpu_operations']} |")
    student = results[0]["targets"][TARGETS[0]]
    lines += ["", f"Per layer, default student on {TARGETS[0]} (Vela's operations of a layer summed; "
              "cycles include memory access; MAC utilisation = MACs / (cycles x 128)):", "",
              "| layer | op | MACs | cycles | NPU compute cycles | MAC utilisation |",
              "| ---: | --- | ---: | ---: | ---: | ---: |"]
    for layer, op, cycles, npu, macs in _by_layer(student):
        util = f"{100 * macs / (cycles * 128):.1f} %" if cycles and macs else "-"
        lines.append(f"| {layer} | {op} | {macs:,} | {cycles:,} | {npu:,} | {util} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/bench_ethos"))
    ap.add_argument("--markdown", action="store_true", help="print the docs/BENCHMARKS.md section")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    models = [("default student", student_model(args.out / "student_int8.tflite")),
              (f"default student, {SPARSITY:.0%} of weights zero", pruned_student(args.out / "student_pruned_int8.tflite")),
              ("dcase2022_baseline (width 1)", baseline_model(args.out / "dcase2022_baseline_int8.tflite"))]
    results = [measure(name, path) for name, path in models]
    from acdeploy import fileio

    fileio.write_json(args.out / "results.json", results)
    if args.markdown:
        print(markdown(results, ".venv/bin/python benchmarks/bench_ethos.py --markdown"))
    else:
        print(json.dumps({r["model"]: {t: e["total_cycles"] for t, e in r["targets"].items()} for r in results},
                         indent=1))


if __name__ == "__main__":
    main()
