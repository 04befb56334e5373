"""Render a `Report` (deploy/report_data.py) as a terminal table, Markdown (with the firmware
section when the build ran it), a bar chart PNG and the DCASE submission complexity block."""

from __future__ import annotations

from pathlib import Path

from acdeploy import artifacts, fileio
from acdeploy.deploy import report_weights
from acdeploy.deploy.report_data import EthosResult, FirmwareResult, Report
from acdeploy.textsafe import md_cell, terminal_text

LAYER_COLUMNS = (  # (header, key)
    ("#", "index"), ("layer", "name"), ("op", "op"), ("output", "output_shape"), ("params", "params"),
    ("non-zero", "nonzero_params"), ("bytes", "param_bytes"), ("nz bytes", "nonzero_param_bytes"),
    ("MACs", "macs"), ("act bytes", "activation_bytes"),
)
TOTAL_ROWS = (  # (label, key)
    ("parameters", "params"), ("non-zero parameters", "nonzero_params"),
    ("parameter bytes", "param_bytes"), ("non-zero parameter bytes", "nonzero_param_bytes"),
    ("MACs (Vela)", "macs"), ("MACs (DCASE NeSsi)", "nessi_macs"), ("MACs per second of audio", "macs_per_second"),
    ("TFLM arena (RAM)", "arena_bytes"), ("generated C arena (RAM)", "c_arena_bytes"),
    ("activation peak (live tensors)", "activation_peak_bytes"), ("model file", "model_bytes"),
    ("flash, TFLM path (estimate)", "flash_bytes"), ("flash, generated C (estimate)", "c_flash_bytes"),
)
CHART = artifacts.REPORT_CHART


def _cell(v) -> str:
    if isinstance(v, list):
        return "x".join(str(d) for d in v)
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _short(name: str, n: int = 40) -> str:
    # TFLite names join fused ops with ';': the first part names the layer.
    name = name.split(";")[0]
    return name if len(name) <= n else "..." + name[-(n - 3):]


def _grid(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" if i in (1, 2) else f"{{:>{w}}}" for i, w in enumerate(widths))
    return [fmt.format(*headers), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows]


def _layer_cells(report: Report) -> list[list[str]]:
    return [[terminal_text(_short(r.name)) if k == "name" else _cell(getattr(r, k)) for _, k in LAYER_COLUMNS]
            for r in report.layers]


def _budget_lines(report: Report) -> list[str]:
    lines = []
    for b in report.budgets:
        lines.append(f"{'PASS' if b['ok'] else 'FAIL'}  {b['name']}  ({b['note']})")
        for c in b["checks"]:
            lines.append(f"      {'ok  ' if c['ok'] else 'OVER'}  {c['name']}: {c['value']:,} / {c['limit']:,}")
    return lines


def terminal(report: Report) -> str:
    t = report.totals
    out = [f"model: {terminal_text(report.model.path)} ({t.model_bytes:,} bytes, {t.layers} layers)"]
    out += _grid([h for h, _ in LAYER_COLUMNS], _layer_cells(report))
    out.append("")
    width = max(len(label) for label, _ in TOTAL_ROWS)
    out += [f"{label:<{width}}  {getattr(t, key):>12,}" for label, key in TOTAL_ROWS]
    if report.budgets:
        out.append("")
        out += _budget_lines(report)
    if report.ethos_u is not None:
        out += ["", *ethos_terminal(report.ethos_u)]
    return "\n".join(out)


def markdown(report: Report, chart: str | None = CHART) -> str:
    """report.md. Every name that comes from the model or the command line (file, tensors,
    layers, target, budgets) goes through md_cell; the rest is our own text."""
    t = report.totals
    md = [f"# Deployment report: {md_cell(Path(report.model.path).name)}", ""]
    if report.target:
        tg = report.target
        md += [f"Target: **{md_cell(tg.name)}** ({md_cell(tg.board)})", ""]
    for role in ("inputs", "outputs"):
        for io in getattr(report, role):
            md.append(f"- {role[:-1]} {md_cell(io.name)}: {_cell(io.shape)} {md_cell(io.dtype)}, "
                      f"scale {io.scale}, zero point {io.zero_point}")
    md += ["", "## Totals", "", "| figure | value |", "| --- | ---: |"]
    md += [f"| {label} | {getattr(t, key):,} |" for label, key in TOTAL_ROWS]
    if report.budgets:
        md += ["", "## Budgets", "", "| budget | check | value | limit | verdict |", "| --- | --- | ---: | ---: | --- |"]
        for b in report.budgets:
            for c in b["checks"]:
                md.append(f"| {md_cell(b['name'])} | {md_cell(c['name'])} | {c['value']:,} | {c['limit']:,} | "
                          f"{'ok' if c['ok'] else '**over**'} |")
    md += ["", "## Layers", "", "| " + " | ".join(h for h, _ in LAYER_COLUMNS) + " |",
           "| " + " | ".join("---" if k in ("name", "op") else "---:" for _, k in LAYER_COLUMNS) + " |"]
    md += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in _layer_cells(report)]
    if chart:
        md += ["", f"![MACs and parameters per layer]({chart})"]
    md += ["", "## How the figures are counted", ""]
    md += [f"- **{k}**: {v}" for k, v in report.notes.items()]
    text = "\n".join(md) + "\n"
    weights = report_weights.markdown(report, report_weights.CHART if chart else None)
    if weights:
        text += "\n" + weights
    if report.ethos_u is not None:
        text += "\n" + ethos_markdown(report.ethos_u)
    if report.frontend is not None:
        text += "\n" + frontend_markdown(report.frontend)
    return text if report.firmware is None else text + "\n" + firmware_markdown(report.firmware)


def frontend_markdown(fe) -> str:
    """The audio front end's section of report.md (deploy/frontend_step.py)."""
    def fig(v, unit=""):
        return "not measured (build with --run)" if v is None else f"{v:,}{unit}"

    rows = [("FFT", f"{fe.fft} ({'q31 fixed point' if fe.fixed_point else 'float'})"),
            ("features", f"{fe.sample_rate} Hz, n_fft {fe.n_fft}, hop {fe.hop_length}, {fe.n_mels} mels, "
                         f"{fe.frames} frames per input"),
            ("tables (flash)", f"{fe.table_bytes:,} B"),
            ("front end + FFT, code and tables (flash)", fig(fe.flash_bytes, " B")),
            ("RAM (sample ring, FFT buffers, frame ring, thresholds)", f"{fe.ram_bytes:,} B"),
            ("instructions per frame", fig(fe.instructions_per_frame)),
            ("--audio clips embedded", str(fe.clips))]
    return "\n".join(["## Audio front end", "", "| figure | value |", "| --- | --- |",
                      *(f"| {k} | {v} |" for k, v in rows)]) + "\n"


def _si(v: float, _pos=None) -> str:
    """Axis numbers as 250k / 1.5M, so long MAC counts do not run into each other."""
    for div, unit in ((1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:g}{unit}"
    return f"{v:g}"


def chart(report: Report, path: Path) -> None:
    """Per-layer MACs and parameters, two horizontal bar panels."""
    # The object API without pyplot: no GUI backend machinery to import (half of `report`'s time).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    rows = report.layers
    labels = [f"{r.index} {r.op}" for r in rows]
    fig = Figure(figsize=(11, max(3.0, 0.28 * len(rows) + 1.2)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, key, title in ((axes[0], "macs", "MACs (Vela)"), (axes[1], "params", "parameters")):
        ax.barh(range(len(rows)), [getattr(r, key) for r in rows], color="#4477aa")
        if key == "params":
            ax.barh(range(len(rows)), [r.nonzero_params for r in rows], color="#ee6677", label="non-zero")
            ax.legend(loc="lower right")
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
        ax.xaxis.set_major_formatter(FuncFormatter(_si))
    axes[0].set_yticks(range(len(rows)), labels, fontsize=7)
    axes[0].invert_yaxis()
    fig.suptitle(Path(report.model.path).name, parse_math=False)  # a '$' in a file name is not TeX
    fig.tight_layout()
    with fileio.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")


def dcase_block(report: Report) -> str:
    """The `system: complexity:` block of a DCASE Task 1 submission's <label>.meta.yaml.

    Field names: a public DCASE Task 1 submission meta-data checker (found with the code search)
    lists `total_parameters`, `total_parameters_non_zero` and `model_size` as the required fields
    of system.complexity; `macs` is the field the 2022-2024 templates add for the MAC limit
    (from memory of those templates, not re-verified here: check the year's template).
    """
    t = report.totals
    return "\n".join([
        "system:",
        "  complexity:",
        "    # Total amount of parameters used in the acoustic model (weights and biases).",
        f"    total_parameters: {t.params}",
        "    # Total amount of non-zero parameters in the acoustic model.",
        f"    total_parameters_non_zero: {t.nonzero_params}",
        "    # Model size in KB (1 KB = 1024 B): non-zero parameters at their stored width.",
        f"    model_size: {t.nonzero_param_bytes / 1024:.3f}",
        "    # Multiply-accumulate operations per inference (Vela count; NeSsi count in the comment).",
        f"    macs: {t.macs}  # NeSsi: {t.nessi_macs}",
    ]) + "\n"


def write_outputs(report: Report, out_dir: Path) -> None:
    """report.json, report.md and the chart into out_dir (each written atomically)."""
    chart(report, out_dir / CHART)
    report_weights.write(report, out_dir)
    fileio.write_text(out_dir / artifacts.REPORT_MD, markdown(report))
    fileio.write_json(out_dir / artifacts.REPORT_JSON, report.to_dict())


def firmware_markdown(fw: FirmwareResult) -> str:
    """The report.md section of the firmware build (and run)."""
    rows = [
        ("target / QEMU machine", f"{fw.target} / {fw.machine or 'none'}"),
        ("kernels", "DSP (ACLE SMLAD)" if fw.dsp else "portable C"),
    ]
    s = fw.size
    if s is not None:
        board_flash = f" (board {fw.board_flash_bytes:,} B)" if fw.board_flash_bytes else ""
        board_ram = f" (board {fw.board_ram_bytes:,} B)" if fw.board_ram_bytes else ""
        rows += [
            ("flash", f"{fw.flash_bytes:,} B = code {s['code']:,} + weights {s['weights']:,}{board_flash}"),
            ("RAM", f"{fw.ram_bytes:,} B = arena {s['arena']:,} + stack {s['stack']:,} + data/bss "
                    f"{s['data'] + s['bss']:,}{board_ram}"),
            ("test vectors in the image", f"{s['test_data']:,} B (not counted above)"),
        ]
    if fw.ran:
        rows.append(("outputs equal TFLite Micro",
                     f"{'yes' if fw.passed else '**NO**'} ({fw.vectors - fw.mismatches}/{fw.vectors} vectors)"))
        if fw.instructions_per_inference is not None:
            rows += [
                ("instructions per inference", f"{fw.instructions_per_inference:,} (QEMU -icount: instructions, not cycles)"),
                ("instructions per MAC", f"{fw.instructions_per_mac} ({fw.macs:,} MACs)"),
                ("stack used", f"{fw.stack_used:,} B of {s['stack']:,} B"),
            ]
        rows.append(("run log", f"`{fw.run_log}`"))
    else:
        rows.append(("run", fw.note or "not run"))
    lines = ["## Firmware", "", "| | |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines) + "\n"


def _ethos_totals(e: EthosResult) -> list[tuple[str, str]]:
    return [
        ("NPU / system config / memory mode", f"{e.accelerator} / {e.system_config} / {e.memory_mode} (Vela {e.vela_version})"),
        ("cycles per inference: total (NPU compute alone)", f"{e.total_cycles:,} ({e.npu_cycles:,})"),
        ("inferences per second", f"{e.inferences_per_second:,} at {e.core_clock_hz / 1e6:g} MHz"),
        ("MACs (Vela)", f"{e.macs:,}"),
        ("SRAM / DRAM / off-chip flash used", f"{e.sram_bytes:,} / {e.dram_bytes:,} / {e.off_chip_flash_bytes:,} B"),
        ("weights as encoded for the NPU", f"{e.weights_bytes:,} B"),
        ("operations on the NPU / left on the CPU", f"{e.npu_operations} / {e.cpu_operations}"),
    ]


def ethos_terminal(e: EthosResult) -> list[str]:
    rows = _ethos_totals(e)
    width = max(len(k) for k, _ in rows)
    out = ["Ethos-U (Vela estimates, not measured: QEMU has no NPU, so this target is build only)"]
    out += [f"{k:<{width}}  {v}" for k, v in rows]
    out += [f"CPU: layer {c['index']} {terminal_text(_short(c['name']))} ({c['op']}): {terminal_text(c['reason'])}"
            for c in e.cpu_layers]
    return out


ETHOS_COLUMNS = (("layer", "layer"), ("TFLite op", "original_op"), ("NPU op", "npu_op"), ("on", "target"),
                 ("cycles", "cycles"), ("NPU cycles", "npu_cycles"), ("SRAM AC", "sram_access_cycles"),
                 ("DRAM AC", "dram_access_cycles"), ("off-chip flash AC", "off_chip_flash_access_cycles"),
                 ("MACs", "macs"), ("MAC util %", "mac_utilisation_pct"), ("name", "name"))


def ethos_markdown(e: EthosResult) -> str:
    """report.md's Ethos-U section: Vela's totals, the CPU fallbacks and its per-layer rows."""
    md = ["## Ethos-U (Vela estimates)", "", e.note + ".", "", "| | |", "| --- | --- |"]
    md += [f"| {k} | {md_cell(v)} |" for k, v in _ethos_totals(e)]
    if e.compiled_model:
        md.append(f"| compiled model | `{md_cell(e.compiled_model)}` ({e.compiled_model_bytes:,} B) |")
    md += ["", "Operators Vela leaves on the CPU: " + ("none." if not e.cpu_layers else "")]
    md += [f"- layer {c['index']} {md_cell(c['name'])} ({md_cell(c['op'])}): {md_cell(c['reason'] or 'no reason given')}"
           for c in e.cpu_layers]
    md += ["", "Per operation (Vela splits some layers into several NPU operations; AC: memory access cycles):", "",
           "| " + " | ".join(h for h, _ in ETHOS_COLUMNS) + " |",
           "| " + " | ".join("---" if k in ("original_op", "npu_op", "target", "name") else "---:"
                             for _, k in ETHOS_COLUMNS) + " |"]
    for r in e.layers:
        cells = ["" if r[k] is None else _short(r[k]) if k == "name" else _cell(r[k]) for _, k in ETHOS_COLUMNS]
        md.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    return "\n".join(md) + "\n"
