"""Firmware benchmark: instructions per inference and per MAC of the generated C network on
Cortex-M4, Cortex-M7 and Cortex-M55 in QEMU (-icount shift=0: instructions, not cycles), portable
and DSP kernels (Helium/MVE on the M55), per layer; flash and RAM of our firmware vs the TFLM path
(model array + arena).

Models: the registry's default student and `dcase2022_baseline` at full width (train/models.py,
ModelConfig() defaults otherwise) on the default feature shape (40 mels x 51 frames, 1 s at
44.1 kHz), random initial weights, full-integer int8 with a random representative set. Random weights do not change instruction counts (the kernels
run the same loops whatever the values), only the accuracy, which this benchmark does not measure.

    .venv/bin/python benchmarks/bench_firmware.py [--out runs/bench_firmware] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

TARGETS = ("cortex-m4", "cortex-m7", "cortex-m55")
MODELS = {"student": TARGETS, "dcase2022_baseline": ("cortex-m4", "cortex-m55")}
CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def student_model(path: Path, name: str = "student") -> Path:
    """The registry's model `name` (default config), int8, cached at `path`."""
    if path.exists():
        return path
    import tf_keras as keras

    from acdeploy.compress.quantize import convert_int8
    from acdeploy.data.config import DataConfig, FeatureConfig
    from acdeploy.data.features import n_frames
    from acdeploy.train.config import ModelConfig
    from acdeploy.train.models import build_model, inference_model

    feats = FeatureConfig()
    shape = (feats.n_mels, n_frames(feats, int(DataConfig().seconds * feats.sample_rate)), 1)
    keras.utils.set_random_seed(0)
    model = inference_model(build_model(ModelConfig(name=name), shape, 10))
    rep = np.random.default_rng(0).normal(0, 1, (32, *shape)).astype(np.float32)
    from acdeploy import fileio

    fileio.write_bytes(path, convert_int8(model, rep))
    return path


def measure(model_path: Path, out: Path, targets: tuple[str, ...] = TARGETS) -> dict:
    from acdeploy.deploy import firmware
    from acdeploy.deploy.c_engine import write_network_project
    from acdeploy.deploy.report import analyze
    from acdeploy.deploy.targets import get_target
    from acdeploy.deploy.tflite_reader import read_tflite

    model = model_path.read_bytes()
    graph = read_tflite(model)
    report = analyze(graph, model_path, len(model), get_target("cortex-m4")).to_dict()
    write_network_project(model, out / "firmware", n_vectors=2)
    layers = report["layers"]
    results = {"model": str(model_path), "totals": report["totals"], "runs": []}
    for target in targets:
        t = get_target(target)
        for dsp in (True, False):
            elf = firmware.build_firmware(out, t, dsp=dsp)
            run = firmware.run_qemu(elf, t.qemu_machine, timeout=600)
            _, per_layer = firmware.profile_layers(out, t, dsp=dsp, timeout=600)
            by_op: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for row, n in zip(layers, per_layer, strict=True):
                by_op[row["op"]][0] += n
                by_op[row["op"]][1] += row["macs"]
            size = firmware.firmware_size(elf)
            results["runs"].append({
                "target": target, "dsp": dsp, "passed": run.passed, "instructions": run.instructions,
                "size": size.to_dict(), "by_op": dict(by_op),
                "layers": [{"name": r["name"], "op": r["op"], "macs": r["macs"], "instructions": n}
                           for r, n in zip(layers, per_layer, strict=True)],
            })
            print(f"{target} {'dsp' if dsp else 'portable'}: {run.instructions:,} instructions, "
                  f"passed={run.passed}", file=sys.stderr)
    return results


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


KERNELS = {"cortex-m55": "Helium (MVE)"}


def _kernels(r: dict) -> str:
    return KERNELS.get(r["target"], "DSP (SMLAD)") if r["dsp"] else "portable"


def _layer_name(name: str) -> str:
    return name.split(";")[0].split("/")[-2 if "/" in name else 0]


def model_markdown(name: str, res: dict) -> list[str]:
    t = res["totals"]
    macs = t["macs"]
    lines = [
        f"### `{name}`", "",
        f"Random initial weights, int8: {t['params']:,} parameters, {macs:,} MACs (Vela count), {t['layers']} layers.",
        "",
        "| target | kernels | instructions / inference | instructions / MAC | conv + depthwise instr. / MAC | outputs = TFLM |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for r in res["runs"]:
        conv_i = sum(r["by_op"].get(op, [0, 0])[0] for op in CONV_OPS)
        conv_m = sum(r["by_op"].get(op, [0, 0])[1] for op in CONV_OPS)
        lines.append(f"| {r['target']} | {_kernels(r)} | {r['instructions']:,} | "
                     f"{_ratio(r['instructions'], macs)} | {_ratio(conv_i, conv_m)} | {'yes' if r['passed'] else 'NO'} |")
    runs = res["runs"]
    lines += ["", "Per layer (instructions / MAC; instructions for ops without MACs; `make PROFILE=1` marks "
              "between layers):", "",
              "| # | op | layer | MACs | " + " | ".join(f"{r['target'].removeprefix('cortex-')} {_kernels(r)}"
                                                      for r in runs) + " |",
              "| ---: | --- | --- | ---: | " + " | ".join("---:" for _ in runs) + " |"]
    for i, row in enumerate(runs[0]["layers"]):
        cells = [_ratio(r["layers"][i]["instructions"], row["macs"]) if row["macs"]
                 else f"{r['layers'][i]['instructions']:,}" for r in runs]
        lines.append(f"| {i} | {row['op']} | {_layer_name(row['name'])} | {row['macs']:,} | " + " | ".join(cells) + " |")
    m4 = {r["dsp"]: r for r in runs if r["target"] == "cortex-m4"}
    lines += [
        "",
        "Memory, Cortex-M4 build (bytes; ours from `arm-none-eabi-size -A` of firmware.elf; TFLM from the report):",
        "",
        "| | flash | RAM |",
        "| --- | ---: | ---: |",
        *(f"| our firmware, {'DSP' if dsp else 'portable'} kernels: code + weights / arena + stack + data | "
          f"{z['flash_bytes']:,} ({z['code']:,} + {z['weights']:,}) | {z['ram_bytes']:,} ({z['arena']:,} + "
          f"{z['stack']:,} + {z['data'] + z['bss']:,}) |"
          for dsp, z in ((d, m4[d]["size"]) for d in (True, False))),
        f"| TFLM: model array / arena (report estimate) | {t['model_bytes']:,} (+ runtime, estimated "
        f"total {t['flash_bytes']:,}) | {t['arena_bytes']:,} |",
        "",
    ]
    return lines


def markdown(results: dict[str, dict], command: str) -> str:
    lines = [
        f"Command: `{command}` (machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}; QEMU 7.2 `-icount shift=0`: mps2-an386 M4, mps2-an500 M7, mps3-an547 M55; "
        "arm-none-eabi-gcc 12.2 `-O2`).",
        "Models on 40x51x1 log-mels. Counts are QEMU instructions (not cycles: no pipeline model). On the M55 "
        "the DSP build (`DSP=1`) compiles the Helium kernels where one exists (`AC_USE_MVE`) and the DSP "
        "kernels elsewhere.",
        "",
    ]
    for name, res in results.items():
        lines += model_markdown(name, res)
    lines += [
        "Ours includes startup, main and the kernels; the TFLM model array alone excludes the interpreter "
        "(the report's estimate adds it). Our stack is the reserved 8 KiB, not the measured peak.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/bench_firmware"))
    ap.add_argument("--markdown", action="store_true", help="print the docs/BENCHMARKS.md section")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, targets in MODELS.items():
        model = student_model(args.out / f"{name}_int8.tflite", name)
        results[name] = measure(model, args.out / name, targets)
    from acdeploy import fileio

    fileio.write_json(args.out / "results.json", results)
    if args.markdown:
        print(markdown(results, ".venv/bin/python benchmarks/bench_firmware.py --markdown"))
    else:
        print(json.dumps({f"{name}/{r['target']}/{'dsp' if r['dsp'] else 'portable'}": r["instructions"]
                          for name, res in results.items() for r in res["runs"]}, indent=1))


if __name__ == "__main__":
    main()
