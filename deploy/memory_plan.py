"""Static memory plans over activation live ranges.

Two plans from the same live ranges:
- `plan_memory(graph)`: the arena of our generated C network. One buffer per activation tensor
  (graph inputs and outputs included); the output of an aliasing op (RESHAPE, SQUEEZE,
  EXPAND_DIMS: `OpDef.aliases`) shares its input's buffer (same bytes, no copy).
- `tflm_arena(graph)`: an estimate of the `arena_size` TFLite Micro needs: its GreedyMemoryPlanner
  for the head (non-persistent tensors and scratch buffers) plus a calibrated estimate of the tail
  (persistent allocations), see `tflm_tail_bytes`.

Both planners are TFLM's greedy algorithm: buffers sorted by size (largest first, stable), each
placed at the lowest offset that does not collide with an already placed buffer whose lifetime
overlaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from acdeploy.deploy import ops
from acdeploy.deploy.ir import Graph

ALIGN = 16  # TFLM's MicroArenaBufferAlignment(); also keeps our C arena word-aligned for SIMD


def align_up(n: int, a: int = ALIGN) -> int:
    return (n + a - 1) // a * a


@dataclass
class Buffer:
    """One planned region: the tensors that share it, its size and lifetime (op indices, inclusive)."""

    tensors: list[int]
    size: int
    first: int
    last: int
    offset: int = -1

    def overlaps_in_time(self, other: Buffer) -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass
class MemoryPlan:
    buffers: list[Buffer]
    arena_bytes: int
    offsets: dict[int, int] = field(default_factory=dict)  # tensor index -> byte offset
    lifetimes: dict[int, tuple[int, int]] = field(default_factory=dict)  # tensor index -> (first, last)


def activation_tensors(graph: Graph) -> list[int]:
    """Tensors that live in RAM: every non-constant tensor an operator or the graph touches."""
    seen: dict[int, None] = {}
    for i in graph.inputs:
        seen[i] = None
    for op in graph.operators:
        for i in (*op.inputs, *op.outputs):
            if i >= 0 and not graph.tensor(i).is_constant:
                seen[i] = None
    for i in graph.outputs:
        seen[i] = None
    return list(seen)


def live_ranges(graph: Graph) -> dict[int, tuple[int, int]]:
    """First op that creates and last op that reads each activation, as TFLM's
    AllocationInfoBuilder computes them: graph inputs from op 0, graph outputs to the last op."""
    last_op = max(len(graph.operators) - 1, 0)
    first: dict[int, int] = {i: 0 for i in graph.inputs}
    # A graph input no layer reads lives at op 0 only (TFLM's UpdateLastUsed on subgraph inputs).
    last: dict[int, int] = {i: 0 for i in graph.inputs}
    last.update({i: last_op for i in graph.outputs})
    for k, op in enumerate(graph.operators):
        for i in op.inputs:
            if i >= 0 and not graph.tensor(i).is_constant:
                last[i] = max(last.get(i, k), k)
                first.setdefault(i, k)
        for i in op.outputs:
            first[i] = min(first.get(i, k), k)
            last[i] = max(last.get(i, k), k)
    return {i: (first[i], last[i]) for i in activation_tensors(graph)}


def greedy_place(buffers: list[Buffer]) -> int:
    """TFLM GreedyMemoryPlanner: largest first, first fit among lifetime-overlapping buffers.
    Sets each buffer's offset; returns the high-water mark."""
    # TFLM fills its sort array from the tail and bubble-sorts it (stable), so equal sizes are
    # placed in reverse request order; matching that matters: ties change the high-water mark.
    order = sorted(reversed(range(len(buffers))), key=lambda k: -buffers[k].size)
    placed: list[Buffer] = []
    for k in order:
        b = buffers[k]
        offset = 0
        for p in sorted((p for p in placed if p.overlaps_in_time(b)), key=lambda p: p.offset):
            if p.offset >= offset + b.size:
                break
            offset = max(offset, p.offset + p.size)
        b.offset = offset
        placed.append(b)
    return max((b.offset + b.size for b in buffers), default=0)


def _aliases(opcode: str) -> bool:
    d = ops.lookup(opcode)
    return d is not None and d.aliases


def _per_channel(opcode: str) -> bool:
    d = ops.lookup(opcode)
    return d is not None and d.per_channel


def plan_memory(graph: Graph) -> MemoryPlan:
    """The arena plan of the generated C network (outputs of aliasing ops share their input's buffer)."""
    ranges = live_ranges(graph)
    root = {i: i for i in ranges}

    def find(i: int) -> int:
        while root[i] != i:
            i = root[i]
        return i

    for op in graph.operators:
        if _aliases(op.opcode) and op.inputs[0] in root and op.outputs[0] in root:
            root[find(op.outputs[0])] = find(op.inputs[0])
    groups: dict[int, list[int]] = {}
    for i in ranges:
        groups.setdefault(find(i), []).append(i)
    buffers = [
        Buffer(tensors=members,
               size=align_up(max(graph.tensor(i).nbytes for i in members)),
               first=min(ranges[i][0] for i in members),
               last=max(ranges[i][1] for i in members))
        for members in groups.values()
    ]
    arena = greedy_place(buffers)
    offsets = {i: b.offset for b in buffers for i in b.tensors}
    return MemoryPlan(buffers=buffers, arena_bytes=arena, offsets=offsets, lifetimes=ranges)


def check_plan(graph: Graph, plan: MemoryPlan) -> None:
    """Raise AssertionError if two tensors that are live at the same time share bytes
    (aliases of one buffer excepted) or a tensor runs past the arena."""
    for b in plan.buffers:
        for i in b.tensors:
            assert plan.offsets[i] + graph.tensor(i).nbytes <= plan.arena_bytes, f"tensor {i} past the arena"
    for x, a in enumerate(plan.buffers):
        for b in plan.buffers[x + 1:]:
            if a.overlaps_in_time(b):
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (
                    f"tensors {a.tensors} and {b.tensors} overlap in time and in memory")


# ---- TFLM arena estimate -------------------------------------------------------------------

# Scratch buffers TFLM's reference int8 kernels request in the head, live during their op only.
def _scratch_bytes(graph: Graph, op) -> list[int]:
    d = ops.lookup(op.opcode)
    return d.tflm_scratch(graph, op) if d is not None and d.tflm_scratch is not None else []


def _tflm_buffers(graph: Graph) -> list[Buffer]:
    ranges = live_ranges(graph)
    buffers = [Buffer([i], align_up(graph.tensor(i).nbytes), *ranges[i]) for i in ranges]
    for k, op in enumerate(graph.operators):
        for s in _scratch_bytes(graph, op):
            buffers.append(Buffer([], align_up(s), k, k))
    return buffers


def tflm_head_bytes(graph: Graph) -> int:
    return greedy_place(_tflm_buffers(graph))


# While planning, TFLM keeps temporary bookkeeping in the free part of the arena: an AllocationInfo
# per tensor (32 B on 64-bit) and the GreedyMemoryPlanner's per-buffer arrays (40 B). For models
# with many small tensors this, not the head, decides the minimum arena ("Too many buffers").
PLAN_BYTES_PER_TENSOR = 32
PLAN_BYTES_PER_BUFFER = 40


def tflm_planning_bytes(graph: Graph) -> int:
    return (align_up(PLAN_BYTES_PER_TENSOR * len(graph.tensors))
            + align_up(PLAN_BYTES_PER_BUFFER * len(_tflm_buffers(graph))))


# Tail model (64-bit TFLM Python runtime, reference kernels), calibrated against the
# RecordingMicroAllocator's tail and the bisected smallest arena_size that runs, on 29 converter
# models (single conv/depthwise/FC/pool/mean+softmax layers of 3 to 256 channels, stacks of dense
# layers, PAD and CONCAT variants, mixed CNNs, a 40x51 CNN, MobileNetV2): the estimate is 0-9 %
# above the true minimum, never below (docs/BENCHMARKS.md, benchmarks/bench_tflm_arena.py).
TAIL_FIXED = 536 + 48  # allocator, planner and interpreter bookkeeping (+48: rounding margin)
TAIL_PER_TENSOR = 24  # TfLiteEvalTensor
TAIL_PER_OP = 64  # NodeAndRegistration
TAIL_PER_IO_TENSOR = 64  # persistent TfLiteTensor of each graph input/output
TAIL_PER_QUANT_IO_TENSOR = 32  # ... and its quantization parameters when it is quantized
# Kernel op data + parsed builtin options per operator: `Opcode.tflm_op_data` in deploy/ops/.
TAIL_PER_CHANNEL = 4  # per-channel output multiplier and shift: two int32 arrays, each 16-aligned

# During Prepare each kernel gets temporary TfLiteTensor copies (with their quantization arrays)
# from the free space; it is released after the op, but the arena must hold it next to the tail.
PREPARE_CONV = 632  # conv/depthwise: 4 temporary tensors
# Fully connected: a fixed part plus 4 bytes per output channel. Fitted on dense layers of 3 to
# 200 outputs; a flat constant fitted on small layers fell below TFLM's need from ~100 outputs on.
PREPARE_FC = 256
PREPARE_FC_PER_CHANNEL = 4
PREPARE_PER_TENSOR = 176  # other kernels, per input/output tensor
PREPARE_PER_CHANNEL = 12  # per-channel scale + zero point copies


def _prepare_temp_tensors(op) -> list[int]:
    """The tensors a kernel's Prepare copies into temporary TfLiteTensors. RESHAPE reads its
    target shape from the output tensor's dims, so its shape input is never copied."""
    tensors = (op.inputs[:1] if op.opcode == "RESHAPE" else op.inputs) + op.outputs
    return [i for i in tensors if i >= 0]


def tflm_prepare_bytes(graph: Graph) -> int:
    peak = 0
    for op in graph.operators:
        if _per_channel(op.opcode):
            w = graph.tensor(op.inputs[1])
            per_channel = w.quant is not None and w.quant.per_channel
            if op.opcode == "FULLY_CONNECTED":
                need = PREPARE_FC + PREPARE_FC_PER_CHANNEL * graph.tensor(op.outputs[0]).shape[-1]
            else:
                need = PREPARE_CONV + (PREPARE_PER_CHANNEL * w.quant.scale.size if per_channel else 0)
        else:
            need = PREPARE_PER_TENSOR * len(_prepare_temp_tensors(op))
        peak = max(peak, align_up(need))
    return peak


def tflm_tail_bytes(graph: Graph) -> int:
    n_io = len(graph.inputs) + len(graph.outputs)
    total = TAIL_FIXED + TAIL_PER_TENSOR * len(graph.tensors) + TAIL_PER_OP * len(graph.operators)
    total += TAIL_PER_IO_TENSOR * n_io
    total += TAIL_PER_QUANT_IO_TENSOR * sum(
        graph.tensor(i).quant is not None for i in (*graph.inputs, *graph.outputs))
    for op in graph.operators:
        info = ops.opcode_info(op.opcode)
        total += info.tflm_op_data if info is not None else ops.base.TFLM_OTHER_OP_DATA
        if _per_channel(op.opcode):
            total += 2 * align_up(TAIL_PER_CHANNEL * graph.tensor(op.outputs[0]).shape[-1])
    return align_up(total)


@dataclass
class TflmArena:
    head: int  # planned activations + scratch (TFLM's own greedy plan: exact)
    tail: int  # persistent allocations (calibrated estimate)
    planning: int  # temporary bookkeeping while planning, before the head is laid out
    prepare: int  # the largest temporary allocation of one kernel's Prepare

    @property
    def total(self) -> int:
        return self.tail + max(self.head, self.planning, self.prepare)


def tflm_arena(graph: Graph) -> TflmArena:
    return TflmArena(head=tflm_head_bytes(graph), tail=tflm_tail_bytes(graph),
                     planning=tflm_planning_bytes(graph), prepare=tflm_prepare_bytes(graph))
