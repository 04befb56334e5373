"""The per-layer weight format choice: dense int8, dense with int16 copies (the DSP core's 1x1
path) or sparse (deploy/ops/sparse_weights.py), from the flash bytes of each format and the
instructions its kernel is predicted to take.

Predicted instructions = per_mac * MACs executed (all of them dense, the non-zeros' sparse)
+ per_output * output values + per_tap * gathered taps (sparse KxK: taps per output pixel).
The constants are per kernel variant and core (COSTS, chosen from the build target's -mcpu by
cost_model), fitted by least squares to the firmware's own per-layer counts (`make PROFILE=1` in
QEMU) with

    .venv/bin/python benchmarks/bench_sparse.py --calibrate [--targets cortex-m55 ...]

which prints these tables. Variants not in the fit keep hand estimates from the kernels' loops.
The cores differ most where Helium does: the Cortex-M55's dense kernels are MVE loops (about 0.3
instructions per MAC), its sparse ones the DSP loops (no MVE path), so there dense wins where the
M4 would go sparse.

Objectives (config `deploy.objective`):
- speed: fewest instructions;
- size: fewest bytes;
- balanced (default): a format may add flash only where it saves at least BYTE_WORTH
  instructions per inference per added byte (the int16 copies of a 32-channel 1x1 conv save
  about 30 per byte on the M4, so balanced drops them: 12 KB for 3 % of the default student's
  instructions); sparse is taken only where it is no larger and faster than the dense choice.
In every mode auto never picks a format that is larger and slower than dense. Under speed and
balanced, sparse must be predicted faster than the dense choice by SPARSE_MARGIN: the fits are
within about 7 % per layer, and near the crossing (the M4's 50 % layers) a bare "predicted faster"
picked a sparse layer that measured 1-2 % slower."""

from __future__ import annotations

from dataclasses import asdict, dataclass

OBJECTIVES = ("speed", "size", "balanced")
WEIGHTS = ("auto", "dense", "sparse")
BYTE_WORTH = 100  # balanced: instructions per inference one more byte of flash must save
SPARSE_MARGIN = 0.10  # speed/balanced: sparse takes at most (1 - this) x the dense choice's instructions

# variant family -> (per_mac, per_output, per_tap), one table per core.
# Cortex-M4 (DSP): fitted by `benchmarks/bench_sparse.py --calibrate --levels 0.5 0.928` (2026-12-01:
# the default student pruned to 50 and 92.8 %, --weights dense|auto|sparse); the int16-copy row
# keeps the 1x1 per-output term (its layers all have 32 input channels, so the fit cannot split
# it); hand estimates marked "est". The Cortex-M33 uses these (within 13 % per layer, see
# docs/BENCHMARKS.md "Sparse weights"). The 1x1 rows refitted the same way after the four-pixel
# kernel (2026-12-01: 1x1 0.94 + 10.23 per output; int16 copies 1.16 per MAC on 32 input channels).
_M4 = {
    "1x1": (0.94, 10.23, 0.0),
    "1x1_w16": (0.84, 10.23, 0.0),
    "gather": (3.4, 0.4, 0.0),
    "rows": (3.0, 20.0, 0.0),  # est
    "depthwise": (3.01, 0.5, 0.0),  # the 3x3 kernel in bench_firmware.py (3.06-3.12; 3.37 on a 5x7 map)
    "ref": (10.0, 30.0, 0.0),  # est
    "fc": (2.0, 30.0, 0.0),  # est
    "sparse_1x1": (3.01, 18.41, 0.0),
    "sparse_gather": (3.75, 28.74, 8.08),
    "fc_sparse": (4.5, 30.0, 0.0),  # est
}
_PORTABLE = {
    **_M4,
    "1x1": (2.60, 20.0, 0.0),  # est, from benchmarks/bench_firmware.py's portable per-layer table
    "1x1_w16": (2.60, 20.0, 0.0),  # the portable build reads the int8 copy
    "gather": (7.97, 0.0, 0.0),
    "rows": (4.5, 20.0, 0.0),  # est
    "depthwise": (29.0, 0.0, 0.0),
    "fc": (4.0, 30.0, 0.0),  # est
    "sparse_1x1": (3.01, 22.0, 0.0),  # est: the DSP build's loop, a compare-and-clamp instead of SSAT
    "sparse_gather": (3.75, 32.0, 8.08),  # est
}
# Cortex-M7: fitted by `benchmarks/bench_sparse.py --calibrate --targets cortex-m7 --levels 0.5 0.928`
# (2026-12-01): with the M4's its sparse 1x1 layers came out up to 17 % slower than predicted; the
# int16-copy row keeps the 1x1 per-output term, as on the M4. The 1x1 rows refitted after the
# four-pixel kernel (2026-12-01, as on the M4).
_M7 = {
    **_M4,
    "1x1": (0.94, 10.24, 0.0),
    "1x1_w16": (0.84, 10.24, 0.0),
    "gather": (3.38, 0.38, 0.0),
    "depthwise": (3.1, 0.5, 0.0),  # the 3x3 kernel in bench_firmware.py (3.15-3.21; 3.46 on a 5x7 map)
    "sparse_1x1": (3.5, 18.98, 0.0),
    "sparse_gather": (3.81, 28.74, 8.08),
}
# Cortex-M55: fitted by `benchmarks/bench_sparse.py --calibrate --targets cortex-m55 --levels 0.5 0.928`
# (2026-12-01, the same students). Dense kernels are the Helium (MVE) loops; on this core the int16
# copy is unused (ac_kernels.h maps the w16 variant to the int8 kernel), so it costs what 1x1 does.
# The sparse kernels have no MVE path: they run their DSP loops, as fast per non-zero as on the M4.
_M55 = {
    **_M4,
    "1x1": (0.18, 7.1, 0.0),
    "1x1_w16": (0.18, 7.1, 0.0),
    "gather": (1.59, 0.18, 0.0),
    "rows": (1.0, 10.0, 0.0),  # est: the MVE row runs
    "depthwise": (2.11, 0.23, 0.0),
    "fc": (0.5, 20.0, 0.0),  # est: the MVE dot product
    "sparse_1x1": (3.0, 19.92, 0.0),
    "sparse_gather": (3.56, 30.15, 8.48),
}
# The build target's gcc -mcpu -> its constants; other DSP cores use the M4's, cores without DSP
# (the host, cortex-m0plus) the portable loops'. The host build keeps the portable table: its
# kernels are the portable C (no DSP, no MVE), whatever machine runs them.
COSTS = {"cortex-m4": _M4, "cortex-m7": _M7, "cortex-m55": _M55, "portable": _PORTABLE}
# Code the sparse kernels add to the firmware when any layer uses them (cortex-m4, -O2: the 1x1
# four- and two-pixel loops): auto under size/balanced drops sparse layers that save less in all.
SPARSE_CODE_BYTES = 1100

# Compact parameters expanded into RAM before the layer runs (firmware_stub/kernels/ac_params.c):
# instructions per expanded item (a conv's requantisation row, a sparse conv's row with its pair
# count, one entry of an ADD input table: 256 per input), measured on the Cortex-M4 as each layer's
# `make PROFILE=1` count with and without the expansion (`benchmarks/bench_sparse.py --objectives`:
# 12.0-12.5, 15.8-16.9 and 16.1-16.3; no per-layer term shows at QEMU's 40-instruction granularity);
# the other cores run the same scalar loops.
EXPAND_COSTS = {"row": 12.1, "sparse_row": 16.2, "add_entry": 16.2}
# The flash of a compact layer besides its arrays: its ac_requant_compact struct.
COMPACT_STRUCT_BYTES = 20


def expand_instructions(items: int, kind: str) -> int:
    """Predicted instructions of one layer's expansion of `items` rows or ADD table entries."""
    return int(round(EXPAND_COSTS[kind] * items))


def expand_pays(objective: str, flash_saved: int, instructions_added: int, ram_added: int = 0) -> bool:
    """Keep a layer's parameters compact in flash and expand them into RAM at run time? speed never
    (today's flash tables); size whenever it saves flash; balanced when the flash tables would add
    bytes that save fewer than BYTE_WORTH instructions each (as for the int16 copies) and the
    expanded tables fit in arena space free during the layer (ram_added: what the arena would grow)."""
    if flash_saved <= 0 or objective == "speed":
        return False
    if objective == "size":
        return True
    return ram_added == 0 and instructions_added < BYTE_WORTH * flash_saved


def family(variant: str) -> str:
    """The cost-model family of a kernel function or macro name."""
    v = variant.lower()
    for key, fam in (("sparse_1x1", "sparse_1x1"), ("sparse_gather", "sparse_gather"),
                     ("fully_connected_sparse", "fc_sparse"), ("fully_connected", "fc"), ("1x1_w16", "1x1_w16"),
                     ("1x1", "1x1"), ("gather", "gather"), ("rows", "rows"), ("depthwise", "depthwise")):
        if key in v:
            return fam
    return "ref"


def cost_model(target) -> str:
    """The COSTS key of a deploy/targets.py Target (Ethos-U targets: their Cortex-M55)."""
    if target.cpu in COSTS:
        return target.cpu
    return "cortex-m4" if target.dsp else "portable"


def predict(variant: str, macs: int, outputs: int, taps: int = 0, core: str = "cortex-m4") -> int:
    a, b, c = COSTS[core][family(variant)]
    return int(round(a * macs + b * outputs + c * taps))


@dataclass(frozen=True)
class Candidate:
    format: str  # dense | dense16 | sparse
    variant: str  # the kernel the layer calls in this format
    weight_bytes: int  # flash of the layer's weights in this format (filter, copies, indices, counts)
    instructions: int  # predicted per inference


@dataclass
class LayerFormat:
    """One weighted layer's choice, as the report shows it."""

    index: int
    name: str
    op: str
    format: str
    variant: str
    weights: int
    nonzero: int
    dense_bytes: int  # the int8 filter alone
    stored_bytes: int  # what the chosen format keeps in flash for the weights
    tflm_prune_bytes: int  # TFLM DECODE's prune format: 1 bit per weight + the non-zeros
    predicted_instructions: int
    dense_instructions: int  # predicted for the dense choice under the same objective
    candidates: list[dict]
    measured_instructions: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ExpandedParams:
    """One layer whose parameters are stored compact and expanded into the arena at run time."""

    index: int
    name: str
    op: str
    what: str  # "requantisation rows" | "ADD input tables"
    flash_bytes: int  # the compact form in flash
    table_bytes: int  # the flash tables it replaces (= the RAM it expands into)
    ram_offset: int  # arena offset of the expanded tables (a range free during the layer)
    predicted_instructions: int  # of the expansion

    def to_dict(self) -> dict:
        return asdict(self)


def _dense_choice(dense: list[Candidate], objective: str) -> Candidate:
    if objective == "speed":
        return min(dense, key=lambda c: (c.instructions, c.weight_bytes))
    if objective == "size":
        return min(dense, key=lambda c: (c.weight_bytes, c.instructions))
    base = min(dense, key=lambda c: (c.weight_bytes, c.instructions))
    worth = [c for c in dense if c.weight_bytes == base.weight_bytes
             or base.instructions - c.instructions >= BYTE_WORTH * (c.weight_bytes - base.weight_bytes)]
    return min(worth, key=lambda c: (c.instructions, c.weight_bytes))


def choose(candidates: list[Candidate], weights: str, objective: str) -> tuple[Candidate, Candidate]:
    """(the chosen candidate, the dense choice under the same objective)."""
    dense = _dense_choice([c for c in candidates if c.format != "sparse"], objective)
    sparse = next((c for c in candidates if c.format == "sparse"), None)
    if sparse is None or weights == "dense":
        return dense, dense
    if weights == "sparse":
        return sparse, dense
    faster = sparse.instructions <= (1 - SPARSE_MARGIN) * dense.instructions
    if objective == "speed":
        better = faster
    elif objective == "size":
        better = (sparse.weight_bytes, sparse.instructions) < (dense.weight_bytes, dense.instructions)
    else:
        better = faster and sparse.weight_bytes <= dense.weight_bytes
    return (sparse if better else dense), dense


def choose_layer(formats: dict, op, candidates: list[Candidate], weights: str, objective: str, n_weights: int,
                 nonzero: int, tflm_prune_bytes: int) -> Candidate:
    """choose() for one weighted layer (op: index, name, opcode), recorded in formats[op.index] for
    the report; returns the chosen candidate."""
    chosen, dense = choose(candidates, weights, objective)
    formats[op.index] = LayerFormat(
        index=op.index, name=op.name, op=op.opcode, format=chosen.format, variant=chosen.variant,
        weights=n_weights, nonzero=nonzero, dense_bytes=n_weights, stored_bytes=chosen.weight_bytes,
        tflm_prune_bytes=tflm_prune_bytes, predicted_instructions=chosen.instructions,
        dense_instructions=dense.instructions, candidates=[asdict(k) for k in candidates])
    return chosen


def check_mode(weights: str, objective: str) -> None:
    """One line naming the unknown weights mode or objective."""
    from acdeploy.errors import ConfigError

    if weights not in WEIGHTS:
        raise ConfigError(f"--weights: unknown weight format {weights!r}; choose from {', '.join(WEIGHTS)}")
    if objective not in OBJECTIVES:
        raise ConfigError(f"deploy.objective: unknown objective {objective!r}; choose from {', '.join(OBJECTIVES)}")


def sparse_warning(report) -> str | None:
    """--weights sparse on a model whose sparse layers save no flash: say so (the build stands)."""
    net = report.network
    if net is None or net.weights != "sparse" or not net.weight_formats:
        return None
    sparse = [f for f in net.weight_formats if f["format"] == "sparse"]
    if not sparse:
        return (f"{report.model.path}: --weights sparse: no layer has a sparse kernel (CONV_2D up to 256 taps per "
                f"channel with the requantisation table, FULLY_CONNECTED with symmetric weights); built dense")
    if all(f["stored_bytes"] >= f["dense_bytes"] for f in sparse):
        nz = sum(f["nonzero"] for f in sparse)
        total = sum(f["weights"] for f in sparse)
        return (f"{report.model.path}: --weights sparse saves nothing: {nz:,} of {total:,} weights are non-zero, "
                f"the sparse layout takes {sum(f['stored_bytes'] for f in sparse):,} bytes against "
                f"{sum(f['dense_bytes'] for f in sparse):,} dense (use --weights auto)")
    return None


def sparse_pays(formats: list[LayerFormat], weights: str, objective: str) -> bool:
    """False when auto chose sparse layers whose bytes saved do not pay for the sparse kernels' code
    (objective size or balanced): the generator then builds every layer dense."""
    if weights != "auto" or objective == "speed":
        return True
    chosen = [f for f in formats if f.format == "sparse"]
    saved = sum(f.dense_bytes - f.stored_bytes for f in chosen)
    return not chosen or saved >= SPARSE_CODE_BYTES
