"""The size / parameter / MAC / RAM report of an int8 .tflite, as a `Report` (deploy/report_data.py).

What counts as a parameter: the constant weights and biases of CONV_2D, DEPTHWISE_CONV_2D and
FULLY_CONNECTED (the inputs their OpDef names in `param_inputs`), at their stored width. Shape, axis and padding constants and the
quantization scales are not parameters. Non-zero counts are numpy counts of the stored values
(int8 weights are symmetric, so a stored 0 is a real 0).

Flash estimates (documented in the report's `notes`):
- TFLM path: the .tflite bytes + the TFLM core runtime (16 KiB: "the core runtime just fits in
  16 KB on an Arm Cortex M3", tensorflow.org/lite/microcontrollers) + 4 KiB per distinct kernel.
- generated-C path: the constant tensors the layers read + per-channel requantization tables
  (8 B per output channel) + 2 KiB runtime + 1 KiB per distinct kernel + 32 B per layer call.
The firmware step replaces these with measured sizes (arm-none-eabi-size) when it runs.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from acdeploy.deploy import budgets as budgets_mod
from acdeploy.deploy import ops
from acdeploy.deploy.ir import Graph, Operator, Tensor
from acdeploy.deploy.macs import nessi_macs, vela_macs
from acdeploy.deploy.memory_plan import MemoryPlan, plan_memory, tflm_arena
from acdeploy.deploy.report_data import LayerRow, ModelFile, Report, TargetInfo, TensorIO, Totals
from acdeploy.deploy.targets import Target
from acdeploy.model_info import ModelInfo

KiB = 1024
TFLM_CORE_BYTES = 16 * KiB
TFLM_KERNEL_BYTES = 4 * KiB
C_RUNTIME_BYTES = 2 * KiB
C_KERNEL_BYTES = 1 * KiB
C_CALL_BYTES = 32
REQUANT_BYTES_PER_CHANNEL = 8

NOTES = {
    "macs": ("MACs as Arm Vela 5.2 counts them (its printed 'Neural network macs'); "
             "nessi_macs is the DCASE NeSsi calculator's count, which differs: FULLY_CONNECTED uses the "
             "input's last dimension, MEAN counts input elements, ADD counts elements, SOFTMAX, "
             "CONCATENATION and PAD count 0."),
    "params": ("parameters = constant weights and biases of CONV_2D, DEPTHWISE_CONV_2D and "
               "FULLY_CONNECTED at stored width (int8 weights 1 B, int32 biases 4 B); shape/axis/padding "
               "constants and quantization scales are not counted (NeSsi counts every constant input in bytes)."),
    "arena_bytes": ("TFLM arena estimate: TFLM's greedy plan of the activations (head) plus persistent "
                    "allocations (tail) calibrated on the 64-bit TFLM Python runtime with reference kernels; "
                    "32-bit Cortex-M needs a smaller tail, CMSIS-NN kernels may need scratch space."),
    "c_arena_bytes": "the generated C network's single static arena (RESHAPE aliases its input).",
    "flash_bytes": (f"TFLM path estimate: model bytes + {TFLM_CORE_BYTES // KiB} KiB core runtime + "
                    f"{TFLM_KERNEL_BYTES // KiB} KiB per distinct kernel."),
    "c_flash_bytes": (f"generated-C path estimate: constant tensors + {REQUANT_BYTES_PER_CHANNEL} B per output "
                      f"channel of requantization tables + {C_RUNTIME_BYTES // KiB} KiB runtime + "
                      f"{C_KERNEL_BYTES // KiB} KiB per distinct kernel + {C_CALL_BYTES} B per layer."),
    "macs_per_second": ("MACs per second of audio: MACs / input duration when model_info.json gives the "
                        "feature settings and the input covers more than 1 s; otherwise MACs per inference."),
}


def _io(t: Tensor) -> TensorIO:
    q = t.quant
    return TensorIO(name=t.name, shape=list(t.shape), dtype=t.dtype,
                    scale=float(q.scale[0]) if q is not None else None,
                    zero_point=int(q.zero_point[0]) if q is not None else None)


def input_seconds(info: ModelInfo | None) -> float | None:
    """Audio seconds one inference covers, from our pipeline's model_info.json (None if unknown)."""
    if info is None or info.feature_config is None or info.input_shape is None:
        return None
    try:
        fc, shape = info.feature_config, info.input_shape
        frames = max(int(d) for d in shape[:2] if int(d) != int(fc["n_mels"])) if len(set(shape[:2])) > 1 else int(shape[1])
        return frames * float(fc["hop_length"]) / float(fc["sample_rate"])
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def _peak_live_bytes(graph: Graph, lifetimes: dict[int, tuple[int, int]]) -> int:
    peak = 0
    for k in range(len(graph.operators)):
        peak = max(peak, sum(graph.tensor(i).nbytes for i, (a, b) in lifetimes.items() if a <= k <= b))
    return peak


def _param_inputs(op: Operator) -> list[int]:
    d = ops.lookup(op.opcode)
    roles = d.param_inputs if d is not None else ()
    return [op.inputs[k] for k in roles if k < len(op.inputs) and op.inputs[k] >= 0]


def _per_channel(opcode: str) -> bool:
    d = ops.lookup(opcode)
    return d is not None and d.per_channel


def layer_rows(graph: Graph) -> list[LayerRow]:
    vm, nm = vela_macs(graph), nessi_macs(graph)
    rows = []
    for op, macs, nmacs in zip(graph.operators, vm, nm, strict=True):
        params = [graph.tensor(i) for i in _param_inputs(op)]
        params = [t for t in params if t.is_constant]
        out = graph.tensor(op.outputs[0])
        rows.append(LayerRow(
            index=op.index, name=op.name, op=op.opcode, output_shape=list(out.shape),
            params=int(sum(t.data.size for t in params)),
            nonzero_params=sum(int(np.count_nonzero(t.data)) for t in params),
            param_bytes=int(sum(t.nbytes for t in params)),
            nonzero_param_bytes=sum(int(np.count_nonzero(t.data)) * t.data.itemsize for t in params),
            macs=macs, nessi_macs=nmacs, activation_bytes=out.nbytes,
        ))
    return rows


def _constant_bytes(graph: Graph) -> int:
    used = {i for op in graph.operators for i in op.inputs if i >= 0 and graph.tensor(i).is_constant}
    return sum(graph.tensor(i).nbytes for i in used)


def analyze(graph: Graph, model_path: str | Path, model_size: int, target: Target | None = None,
            budgets: list[budgets_mod.Budget] | None = None, info: ModelInfo | None = None,
            plan: MemoryPlan | None = None) -> Report:
    """Everything the report shows; `budgets` verdicts included (the caller decides the exit code).
    `plan` is the generated network's memory plan when the caller has made it already."""
    rows = layer_rows(graph)
    plan = plan if plan is not None else plan_memory(graph)
    tflm = tflm_arena(graph)
    kernels = {op.opcode for op in graph.operators}
    channels = sum(graph.tensor(op.outputs[0]).shape[-1] for op in graph.operators if _per_channel(op.opcode))
    macs = sum(r.macs for r in rows)
    seconds = input_seconds(info)
    totals = Totals(
        params=sum(r.params for r in rows),
        nonzero_params=sum(r.nonzero_params for r in rows),
        param_bytes=sum(r.param_bytes for r in rows),
        nonzero_param_bytes=sum(r.nonzero_param_bytes for r in rows),
        macs=macs,
        nessi_macs=sum(r.nessi_macs for r in rows),
        macs_per_second=int(math.ceil(macs / seconds)) if seconds and seconds > 1 else macs,
        input_seconds=round(seconds, 3) if seconds else None,
        arena_bytes=tflm.total,
        tflm_arena_head_bytes=tflm.head,
        tflm_arena_tail_bytes=tflm.tail,
        c_arena_bytes=plan.arena_bytes,
        activation_peak_bytes=_peak_live_bytes(graph, plan.lifetimes),
        model_bytes=model_size,
        flash_bytes=model_size + TFLM_CORE_BYTES + TFLM_KERNEL_BYTES * len(kernels),
        c_flash_bytes=(_constant_bytes(graph) + REQUANT_BYTES_PER_CHANNEL * channels + C_RUNTIME_BYTES
                       + C_KERNEL_BYTES * len(kernels) + C_CALL_BYTES * len(graph.operators)),
        layers=len(rows),
    )
    return Report(
        model=ModelFile(path=str(model_path), bytes=model_size, description=graph.description),
        target=None if target is None else TargetInfo(
            name=target.name, board=target.board, flash_bytes=target.flash_bytes, ram_bytes=target.ram_bytes),
        inputs=[_io(graph.tensor(i)) for i in graph.inputs],
        outputs=[_io(graph.tensor(i)) for i in graph.outputs],
        totals=totals,
        layers=rows,
        budgets=[budgets_mod.evaluate(b, totals.to_dict()) for b in (budgets or [])],
        notes=dict(NOTES),
    )
