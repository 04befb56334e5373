"""The Ethos-U targets (`ethos-u55-128`, `ethos-u65-256`, ...): Vela's estimates for the report, and
the build steps that replace the Cortex-M ones.

`acdeploy report --target ethos-u55-128` adds `ethos_result`'s section (Vela's per-layer NPU cycles,
MACs and memory access cycles, its totals, and the operators it leaves on the CPU). `acdeploy
build` for these targets runs `STEPS`: Vela's compiled model (model_vela.tflite) as the TFLM C
array, model_settings.h whose resolver registers the `ethos-u` custom op (AddEthosU) and the ops
left on the CPU, and the Corstone-300 firmware project of firmware_stub/ethos_u/. QEMU has no NPU:
nothing is run, and `--run` is refused (`check_target`).
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass

from acdeploy import artifacts, fileio
from acdeploy.deploy import c_array, firmware, ops
from acdeploy.deploy.ir import Graph
from acdeploy.deploy.report_data import EthosResult
from acdeploy.deploy.targets import Target
from acdeploy.deploy.tflite_reader import read_tflite
from acdeploy.deploy.vela import VelaOutput, compile_model, vela_version
from acdeploy.errors import ConfigError, ModelError, ToolchainError

VELA_MODEL = "model_vela.tflite"
ETHOS_U_OP = "CUSTOM:ethos-u"
NPU_SETTINGS_H = "npu_settings.h"
ARENA_REGION_LD = "arena_region.ld"
TEMPLATE = "ethos_u"  # firmware_stub/ethos_u/
KiB = 1024
BUILD_ONLY = ("build only: QEMU models no Ethos-U NPU, so the firmware is not run here and the cycle "
              "figures are Vela's estimates (its performance model), not measurements")
# CSV column of Vela's per-layer file -> key in report.json (ints unless named in _FLOAT_COLUMNS)
_COLUMNS = (
    ("Original Operator", "original_op"), ("NNG Operator", "npu_op"), ("Target", "target"), ("Name", "name"),
    ("Op Cycles", "cycles"), ("NPU", "npu_cycles"), ("SRAM AC", "sram_access_cycles"),
    ("DRAM AC", "dram_access_cycles"), ("OnFlash AC", "on_chip_flash_access_cycles"),
    ("OffFlash AC", "off_chip_flash_access_cycles"), ("MAC Count", "macs"),
    ("Util% (MAC)", "mac_utilisation_pct"), ("Staging Usage", "staging_bytes"),
)
_TEXT_COLUMNS = ("original_op", "npu_op", "target", "name")
_FLOAT_COLUMNS = ("mac_utilisation_pct",)


def _number(row: dict, column: str, key: str):
    v = float(row[column])
    return round(v, 2) if key in _FLOAT_COLUMNS else int(round(v))


def _kib(summary: dict, key: str) -> int:
    return int(round(float(summary[key]) * KiB))


def check_target(target: Target, run: bool = False) -> None:
    """Before any work: an Ethos-U target needs Vela installed and cannot --run."""
    if target.npu is None:
        return
    vela_version()
    if run:
        raise ConfigError(f"--run (pipeline.run_firmware): target '{target.name}' is build only (QEMU models no Ethos-U NPU); "
                          "build without --run and run the firmware on a Corstone-300 FVP or board")


def ethos_result(model: bytes, graph: Graph, target: Target, where: str,
                 compiled_model: str | None = None) -> tuple[EthosResult, VelaOutput]:
    """Vela on the model for the target's NPU, as the report's `ethos_u` section."""
    out = compile_model(model, target.npu, where)
    try:
        return _result(out, graph, target, compiled_model), out
    except (KeyError, ValueError) as e:  # a Vela whose CSV files changed shape
        raise ToolchainError(f"{where}: Vela {out.version}'s performance CSV has no usable {e}: "
                             "acdeploy reads the files of ethos-u-vela 5.x") from None


def _result(out: VelaOutput, graph: Graph, target: Target, compiled_model: str | None) -> EthosResult:
    npu = target.npu
    layer_of = {graph.tensor(o).name: op.index for op in graph.operators for o in op.outputs}
    layers, cpu = [], []
    for row in out.layers:
        d = {"layer": layer_of.get(row["Name"])}
        for column, key in _COLUMNS:
            d[key] = row[column] if key in _TEXT_COLUMNS else _number(row, column, key)
        layers.append(d)
        if d["target"] == "CPU":
            idx = d["layer"]
            op, reason = out.cpu_reasons.get(row["Name"], (None, ""))
            cpu.append({"index": idx, "name": row["Name"],
                        "op": graph.operators[idx].opcode if idx is not None else op or row["Original Operator"],
                        "reason": reason})
    _fill_layers(layers)
    s = out.summary
    return EthosResult(
        accelerator=npu.accelerator, system_config=npu.system_config, memory_mode=npu.memory_mode,
        vela_version=out.version, core_clock_hz=int(float(s["core_clock"])),
        npu_cycles=int(float(s["cycles_npu"])), total_cycles=int(float(s["cycles_total"])),
        inference_seconds=float(s["inference_time"]),
        inferences_per_second=round(float(s["inferences_per_second"]), 1),
        macs=int(float(s["nn_macs"])),
        sram_bytes=_kib(s, "sram_memory_used"), dram_bytes=_kib(s, "dram_memory_used"),
        on_chip_flash_bytes=_kib(s, "on_chip_flash_memory_used"),
        off_chip_flash_bytes=_kib(s, "off_chip_flash_memory_used"),
        weights_bytes=int(float(s["total_npu_encoded_weights"])),
        npu_operations=sum(r["target"] == "NPU" for r in layers), cpu_operations=len(cpu),
        compiled_model=compiled_model, compiled_model_bytes=len(out.compiled),
        cpu_layers=cpu, layers=layers, note=BUILD_ONLY,
    )


def _fill_layers(layers: list[dict]) -> None:
    """Vela names each of its operations after the tensor it writes, so the intermediate steps of a
    layer it lowers into several (SOFTMAX: 27) name tensors of their own: they belong to the layer
    their run of the same original operator ends in."""
    owner, prev = None, None
    for r in reversed(layers):
        if r["original_op"] != prev:
            owner = None
        if r["layer"] is None:
            r["layer"] = owner
        else:
            owner = r["layer"]
        prev = r["original_op"]


def resolver_calls(compiled: Graph) -> list[str]:
    """MicroMutableOpResolver calls for Vela's output: AddEthosU for the NPU part, the builtin's for
    each operator left on the CPU (all of them ops the registry knows: load_model checked the input)."""
    seen: dict[str, None] = {}
    for op in compiled.operators:
        info = ops.opcode_info(op.opcode) if op.opcode != ETHOS_U_OP else None
        seen["AddEthosU" if info is None else info.resolver] = None
    return list(seen)


# --- the build step (deploy/build.py) ------------------------------------------------------------


@dataclass(frozen=True)
class NpuMemory:
    """What the firmware reserves for Vela's model, read from the compiled model's tensors."""

    arena_bytes: int  # TFLM's tensor arena
    fast_memory_bytes: int  # ethosu_init's fast memory (the SRAM cache of Dedicated_Sram), else 0


def npu_memory(compiled: Graph, tflm_tail_bytes: int) -> NpuMemory:
    """The arena holds every non-constant tensor of Vela's model (its scratch areas and the graph's
    inputs and outputs: an upper bound, Vela's offline plan may overlap some) plus TFLM's persistent
    allocations (the input model's estimate); the ethos-u op's input 3 is the fast scratch, a tensor
    of its own only when Vela planned one (Dedicated_Sram)."""
    used = {i for op in compiled.operators for i in (*op.inputs, *op.outputs) if i >= 0}
    activations = sum(compiled.tensor(i).nbytes for i in used if not compiled.tensor(i).is_constant)
    fast = 0
    for op in compiled.operators:
        if op.opcode == ETHOS_U_OP and len(op.inputs) > 3 and op.inputs[3] not in (-1, op.inputs[2]):
            fast = max(fast, compiled.tensor(op.inputs[3]).nbytes)
    return NpuMemory(arena_bytes=-(-(activations + tflm_tail_bytes) // 16) * 16,
                     fast_memory_bytes=-(-fast // 16) * 16)


def build_step(ctx) -> EthosResult:
    """Vela's model, its C array and settings, and the firmware project; returns the report section."""
    result, out = ethos_result(ctx.model, ctx.graph, ctx.target, str(ctx.model_path), compiled_model=VELA_MODEL)
    fileio.write_bytes(ctx.out / VELA_MODEL, out.compiled)
    compiled = read_tflite(out.compiled, name=str(ctx.out / VELA_MODEL))
    if not any(op.opcode == ETHOS_U_OP for op in compiled.operators):
        raise ModelError(f"{ctx.model_path}: Vela mapped no operator to the NPU of {ctx.target.name}")
    memory = npu_memory(compiled, ctx.analysis.totals.tflm_arena_tail_bytes)
    name = c_array.c_name(ctx.model_path)
    fileio.write_text(ctx.out / artifacts.MODEL_DATA_H, c_array.model_data_h(name, len(out.compiled)))
    fileio.write_text(ctx.out / artifacts.MODEL_DATA_C, c_array.model_data_c(name, out.compiled))
    fileio.write_text(ctx.out / artifacts.MODEL_SETTINGS_H, c_array.model_settings_h(
        ctx.graph, name, resolver_calls(compiled), memory.arena_bytes, ctx.info))
    install_project(ctx, result, memory)
    return result


def install_project(ctx, ethos: EthosResult, memory: NpuMemory) -> None:
    """The Corstone-300 project (firmware_stub/ethos_u/) and its two generated files."""
    fw_dir = ctx.out / firmware.FIRMWARE_DIR
    firmware.copy_package_dir(importlib.resources.files("acdeploy.firmware_stub") / TEMPLATE, fw_dir)
    npu = ctx.target.npu
    fileio.write_text(fw_dir / NPU_SETTINGS_H, "\n".join([
        f"/* Generated by acdeploy build for {ctx.target.name}: Vela {ethos.vela_version}, "
        f"{npu.system_config}, {npu.memory_mode}. */",
        "#ifndef ACDEPLOY_NPU_SETTINGS_H_",
        "#define ACDEPLOY_NPU_SETTINGS_H_",
        "",
        f'#define ACDEPLOY_NPU_ACCELERATOR "{npu.accelerator}"',
        "/* Dedicated_Sram: the SRAM is the NPU's cache, ethosu_init's fast memory; Shared_Sram: none. */",
        f"#define ACDEPLOY_NPU_FAST_MEMORY_SIZE {memory.fast_memory_bytes}",
        f"/* Vela's estimate at {ethos.core_clock_hz} Hz; the firmware prints the NPU's own count. */",
        f"#define ACDEPLOY_NPU_ESTIMATED_CYCLES {ethos.total_cycles}u",
        "",
        "#endif /* ACDEPLOY_NPU_SETTINGS_H_ */",
        "",
    ]))
    # Shared_Sram: the NPU's feature maps are in the SRAM it shares with the CPU; Dedicated_Sram: in DRAM.
    region = "ISRAM" if npu.memory_mode in ("Shared_Sram", "Sram_Only") else "DDR"
    fileio.write_text(fw_dir / ARENA_REGION_LD,
                      f"/* Generated by acdeploy build: where the tensor arena goes with {npu.memory_mode}. */\n"
                      f'REGION_ALIAS("ARENA", {region});\n')


STEPS = [build_step]
