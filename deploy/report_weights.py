"""The report's weight-format section: per weighted layer the format the generator chose
(deploy/weight_formats.py), bytes dense vs stored, what TFLM's DECODE prune format would take,
and predicted vs measured instructions; the DCASE 2021 non-zero figure beside the bytes really in
flash. Markdown and a bar chart (dense int8 / stored / TFLM prune bytes per layer)."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

from acdeploy import artifacts, fileio
from acdeploy.deploy.report_data import Report
from acdeploy.errors import ToolchainError
from acdeploy.textsafe import md_cell

CHART = artifacts.REPORT_WEIGHTS_CHART
log = logging.getLogger(__name__)


def _short(name: str, n: int = 32) -> str:
    name = name.split(";")[0]
    return name if len(name) <= n else "..." + name[-(n - 3):]


def totals(formats: list[dict]) -> dict[str, int]:
    return {k: sum(int(f[k]) for f in formats) for k in
            ("weights", "nonzero", "dense_bytes", "stored_bytes", "tflm_prune_bytes", "predicted_instructions",
             "dense_instructions")}


def expanded_markdown(report: Report) -> list[str]:
    """The layers whose parameters stay compact in flash and are expanded into the arena at run time."""
    net = report.network
    rows = (net.expanded_params or []) if net is not None else []
    if not rows:
        return []
    flash = sum(r["flash_bytes"] for r in rows)
    tables = sum(r["table_bytes"] for r in rows)
    pred = sum(r["predicted_instructions"] for r in rows)
    kinds = sorted({r["what"] for r in rows})
    return ["", f"Parameters expanded at run time (objective `{md_cell(net.objective)}`): {len(rows)} layers keep "
            f"their {' and '.join(kinds)} compact in flash, {flash:,} bytes instead of {tables:,}, and expand them "
            f"(`firmware_stub/kernels/ac_params.c`, about {pred:,} instructions per inference predicted) into "
            f"the arena right before their layer runs (ranges no tensor live during the layer uses), so the kernels "
            f"read the same tables; the arena (RAM, generated C arena in the totals), {net.arena_bytes:,} bytes, "
            f"includes them."]


def markdown(report: Report, chart: str | None = CHART) -> str:
    net = report.network
    if net is None or not net.weight_formats:
        extra = expanded_markdown(report)
        return "\n".join(["## Weight formats", *extra]) + "\n" if extra else ""
    f = net.weight_formats
    t = totals(f)
    measured = all(r.get("measured_instructions") is not None for r in f)
    md = ["## Weight formats", "",
          f"`--weights {md_cell(net.weights)}`, objective `{md_cell(net.objective)}` (deploy/weight_formats.py). "
          f"DCASE 2021 figure (non-zero parameters at their stored width, all layers): "
          f"{report.totals.nonzero_param_bytes:,} bytes; conv, depthwise and fully-connected weights really in flash: "
          f"{t['stored_bytes']:,} bytes ({t['stored_bytes'] / max(t['dense_bytes'], 1):.3f}x their dense int8 "
          f"{t['dense_bytes']:,}; TFLM's DECODE prune format would take {t['tflm_prune_bytes']:,}, "
          f"{t['tflm_prune_bytes'] / max(t['dense_bytes'], 1):.3f}x, and decodes to dense in RAM).", "",
          "| # | layer | op | format | kernel | weights | non-zero | dense int8 B | stored B | TFLM prune B | "
          "predicted instr. | dense predicted | measured instr. |",
          "| ---: | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in f:
        m = r.get("measured_instructions")
        md.append(f"| {r['index']} | {md_cell(_short(r['name']))} | {r['op']} | {r['format']} | `{r['variant']}` | "
                  f"{r['weights']:,} | {r['nonzero']:,} | {r['dense_bytes']:,} | {r['stored_bytes']:,} | "
                  f"{r['tflm_prune_bytes']:,} | {r['predicted_instructions']:,} | {r['dense_instructions']:,} | "
                  f"{'-' if m is None else f'{m:,}'} |")
    md.append(f"| | total | | | | {t['weights']:,} | {t['nonzero']:,} | {t['dense_bytes']:,} | {t['stored_bytes']:,} | "
              f"{t['tflm_prune_bytes']:,} | {t['predicted_instructions']:,} | {t['dense_instructions']:,} | "
              f"{format(sum(r['measured_instructions'] for r in f), ',') if measured else '-'} |")
    md += ["", "Stored bytes: the layer's weights as the chosen format keeps them (dense: the int8 filter; dense16: "
           "plus the int16 copy; sparse: 2 bytes per non-zero (an index byte and the value; conv: odd counts padded "
           "by one entry, the pair count in the requantisation row; fully connected: plus a 2-byte count per row), "
           "no dense copy). "
           "The requantisation table (16 bytes per channel, 9 when expanded at run time) is the same in every format "
           "and not counted here. "
           "Predicted instructions: the cost model's, for the target's core; measured: `make PROFILE=1` in QEMU. "
           "The totals' generated-C flash estimate (and its budget checks) count the stored bytes.",
           *expanded_markdown(report)]
    if chart:
        md += ["", f"![weight bytes per layer]({chart})"]
    return "\n".join(md) + "\n"


def chart(report: Report, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = report.network.weight_formats
    fig = Figure(figsize=(9, max(3.0, 0.3 * len(rows) + 1.2)))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    h = 0.27
    for k, (key, label, color) in enumerate((("dense_bytes", "dense int8", "#4477aa"),
                                             ("stored_bytes", "stored", "#228833"),
                                             ("tflm_prune_bytes", "TFLM prune", "#ee6677"))):
        ax.barh([i + (k - 1) * h for i in range(len(rows))], [r[key] for r in rows], height=h, color=color, label=label)
    ax.set_yticks(range(len(rows)), [f"{r['index']} {r['format']}" for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("weight bytes")
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    with fileio.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")


def write(report: Report, out_dir: Path) -> None:
    """The chart, when the report has a weight-format section."""
    if report.network is not None and report.network.weight_formats:
        chart(report, out_dir / CHART)


# Arrays only the non-default formats emit (conv_emit.py, fully_connected.py).
_FORMAT_MARKS = ("_entries[", "_delta[", "_filter16[")


@dataclass(frozen=True)
class MeasuredSection:
    """Per-layer instructions of the profiled firmware, filled into the network's weight formats."""

    per_op: dict[int, int]  # graph operator index -> instructions (vector 0)

    def add_to(self, report: Report) -> Report:
        net = report.network
        if net is None or not net.weight_formats:
            return report
        rows = [{**r, "measured_instructions": self.per_op.get(r["index"])} for r in net.weight_formats]
        return dataclasses.replace(report, network=dataclasses.replace(net, weight_formats=rows))


def measure_step(ctx) -> MeasuredSection | None:
    """With --run on a QEMU target: the layer-profiling build (`make PROFILE=1`), so the report sets
    measured instructions beside the cost model's; only when some layer had a format choice."""
    from acdeploy.deploy import firmware
    from acdeploy.deploy.codegen import core_io

    if not ctx.options.run or ctx.target.qemu_machine is None:
        return None
    src = (ctx.out / firmware.FIRMWARE_DIR / artifacts.ACNET_C).read_text()
    if not any(mark in src for mark in _FORMAT_MARKS):
        return None  # only dense int8 layers: no format choice to check
    try:
        _, per_layer = firmware.profile_layers(ctx.out, ctx.target,
                                               timeout=ctx.options.timeout or firmware.DEFAULT_QEMU_TIMEOUT)
    except ToolchainError as e:  # the figures are extra: the firmware itself already ran
        log.warning("%s: per-layer profile not measured: %s", ctx.model_path, e)
        return None
    core_io(ctx.graph)  # a graph the generator accepted
    ops = [op.index for op in ctx.graph.operators]
    if len(per_layer) != len(ops):
        return None  # float I/O edges are not profiled as layers: no reliable mapping
    return MeasuredSection(dict(zip(ops, per_layer, strict=True)))
