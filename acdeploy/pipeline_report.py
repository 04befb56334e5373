"""The pipeline's final summary (terminal) and `report.md` / `report.html` (the same data, with
the stages' PNGs), read from the artifacts each stage wrote; numpy/json only."""

from __future__ import annotations

import html
import json
from pathlib import Path

import click

from acdeploy import artifacts
from acdeploy.errors import ModelError
from acdeploy.fileio import write_text
from acdeploy.textsafe import md_cell, md_link_target, terminal_text

# TFLM and the generated C must agree exactly. LiteRT's reference kernels (litert-ref) requantize
# FULLY_CONNECTED in double, which shifts int8 logits by a step or so and can flip the argmax of a
# clip whose two best classes are that close: such near-ties are forgiven. LiteRT's optimized
# kernels (litert, with XNNPACK) use other arithmetic again, so for them only a share of clips is asked.
EXACT_ENGINES = ("tflm", "c")
NEAR_TIE = 4 / 256  # probability gap of a few int8 softmax steps (output scale 1/256)
MIN_AGREEMENT_OPTIMIZED = 0.95
MIN_AGREEMENT_AUDIO = 0.99  # c-audio: the firmware's front end on raw PCM vs librosa features (issue 15)


def _json(p: Path) -> dict | None:
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def check_engines_agree(eval_dir: Path, engines: list[str]) -> dict:
    """Clip-by-clip agreement of every engine with the bit-exact reference (TFLM, else the first)."""
    runs = {}
    for e in engines:
        m = _json(eval_dir / f"{e}.json")
        if m is None or "predictions" not in m or "probabilities" not in m:
            raise ModelError(f"{eval_dir / (e + '.json')}: no per-clip predictions from engine {e}")
        runs[e] = m
    ref = next((e for e in EXACT_ENGINES if e in runs), engines[0])
    ref_pred, ref_prob = runs[ref]["predictions"], runs[ref]["probabilities"]
    out = {}
    for e, m in runs.items():
        differ = [i for i, (a, b) in enumerate(zip(m["predictions"], ref_pred, strict=True)) if a != b]
        out[e] = 1 - len(differ) / max(len(ref_pred), 1)
        if e in EXACT_ENGINES and ref in EXACT_ENGINES:
            bad = differ
        elif e == "c-audio":
            if out[e] < MIN_AGREEMENT_AUDIO:
                raise ModelError(f"{eval_dir}: engine c-audio (audio front end + C network) agrees with {ref} on "
                                 f"only {100 * out[e]:.1f} % of clips (need {100 * MIN_AGREEMENT_AUDIO:.0f} %)")
            bad = []
        elif e == "litert" and ref in EXACT_ENGINES:
            if out[e] < MIN_AGREEMENT_OPTIMIZED:
                raise ModelError(f"{eval_dir}: engine litert (optimized kernels) agrees with {ref} on only "
                                 f"{100 * out[e]:.1f} % of clips (need {100 * MIN_AGREEMENT_OPTIMIZED:.0f} %)")
            bad = []
        else:
            bad = [i for i in differ if max(ref_prob[i]) - ref_prob[i][m["predictions"][i]] > NEAR_TIE]
        if bad:
            i = bad[0]
            raise ModelError(
                f"{eval_dir}: engine {e} disagrees with {ref} on {len(bad)} clip(s) beyond a near-tie "
                f"(first: clip {i}, class {m['predictions'][i]} vs {ref_pred[i]})")
    return out


def collect(root: Path) -> dict:
    """Everything the summary shows, from the run dir's artifacts (missing stages are left out)."""
    d: dict = {"root": str(root), "models": [], "images": []}
    for t in sorted(root.glob(artifacts.RUN_TEACHER.format("*"))):
        m = _json(t / artifacts.METRICS_JSON)
        if m:
            d["models"].append((f"teacher ({t.name})", m))
            d["images"] += [t / artifacts.CURVES_PNG]
    sm = _json(root / artifacts.RUN_STUDENT / artifacts.METRICS_JSON)
    if sm:
        d["models"].append(("student (dense, KD)", sm))
        d["images"] += [root / artifacts.RUN_STUDENT / artifacts.CURVES_PNG, root / artifacts.RUN_STUDENT / artifacts.CONFUSION_PNG]
    summary = _json(root / artifacts.RUN_LTH / artifacts.LTH_SUMMARY)
    if summary:
        d["lth"] = summary
        ticket = _json(root / artifacts.RUN_LTH / artifacts.TICKET_DIR / artifacts.METRICS_JSON)
        if ticket:
            d["models"].append((f"ticket ({summary.get('ticket')})", ticket))
        d["images"] += [root / artifacts.RUN_LTH / artifacts.LTH_PLOT]
    q = _json(artifacts.quant_report(root / artifacts.INT8_MODEL))
    if q:
        d["quantize"] = q
    for e in ("tflm", "c", "litert", "litert-ref"):
        m = _json(root / artifacts.RUN_EVAL / f"{e}.json")
        if m:
            d["models"].append((f"int8 ({e})", m))
            break
    rep = _json(root / artifacts.RUN_BUILD / artifacts.REPORT_JSON)
    if rep:
        d["build"] = rep
        d["images"] += sorted((root / artifacts.RUN_BUILD).glob("*.png"))
    dense = _json(root / artifacts.RUN_DENSE / artifacts.RUN_BUILD / artifacts.REPORT_JSON)
    if dense:
        d["dense_build"] = dense
    state = _json(root / artifacts.PIPELINE_STATE)
    if state:
        d["stages"] = {k: v.get("seconds") for k, v in state.get("stages", {}).items()}
    d["images"] = [p for p in d["images"] if p.exists()]
    return d


def _fmt(v, pct=False):
    if v is None:
        return "-"
    return f"{100 * v:.1f}" if pct else f"{v:.3f}"


def _model_rows(d: dict) -> list[list[str]]:
    rows = []
    for name, m in d["models"]:
        un = (m.get("unseen") or {})
        rows.append([name, _fmt(m.get("accuracy"), True), _fmt(m.get("macro_accuracy"), True), _fmt(m.get("log_loss")),
                     _fmt(un.get("accuracy"), True), _fmt(un.get("log_loss"))])
    return rows


def _device_rows(d: dict) -> tuple[list[str], list[list[str]]]:
    devices = sorted({dev for _, m in d["models"] for dev in (m.get("per_device") or {})})
    rows = [[name] + [_fmt((m.get("per_device") or {}).get(dev, {}).get("accuracy"), True) for dev in devices]
            for name, m in d["models"]]
    return devices, rows


def _deploy_rows(d: dict) -> list[list[str]]:
    rows = []
    lth = d.get("lth")
    if lth and lth.get("levels"):
        dense = lth["levels"][0]
        tk = next((r for r in lth["levels"] if r["name"] == lth.get("ticket")), None)
        if tk:
            ratio = dense["nonzero_params"] / max(tk["nonzero_params"], 1)
            rows.append(["non-zero parameters (ticket / dense)", f"{tk['nonzero_params']:,} / {dense['nonzero_params']:,}"])
            rows.append(["sparsity of the ticket", f"{100 * tk['sparsity']:.1f} %"])
            rows.append(["compression (dense / non-zero parameters)", f"{ratio:.1f}x"])
    b = d.get("build")
    if b:
        t = b.get("totals", {})
        for k, label in (("params", "parameters (int8 model)"), ("nonzero_params", "non-zero parameters (int8 model)"),
                         ("macs", "MACs per inference (Vela's count)"), ("arena_bytes", "TFLM arena (bytes)"),
                         ("flash_bytes", "flash, TFLM path (bytes)")):
            if k in t:
                rows.append([label, f"{t[k]:,}"])
        fw = b.get("firmware") or {}
        for k, label in (("target", "firmware target"), ("machine", "QEMU machine"),
                         ("instructions_per_mac", "instructions per MAC")):
            if k in fw and fw[k] is not None:
                rows.append([label, _num(fw[k])])
        for bud in b.get("budgets", []):
            rows.append([f"budget {bud['name']}", "ok" if bud.get("ok") else "OVER"])
    return rows


def _num(v) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    return f"{v:,.2f}" if isinstance(v, float) else f"{v:,}"


# The dense student and the ticket on the device: each row reads (report.json section, key).
DEVICE_ROWS = (
    ("totals", "nonzero_params", "non-zero parameters (int8 model)"),
    ("firmware", "flash_bytes", "firmware flash (bytes)"),
    ("firmware", "ram_bytes", "firmware RAM (bytes)"),
    ("firmware", "instructions_per_inference", "instructions per inference"),
    ("firmware", "passed", "firmware output equals TFLM"),
)


def device_header(d: dict) -> list[str]:
    fw = (d.get("build") or {}).get("firmware") or {}
    where = ", ".join(str(x) for x in (fw.get("target"), fw.get("machine")) if x)
    ticket = (d.get("lth") or {}).get("ticket") or "ticket"
    return [f"on the device ({where})" if where else "on the device", "dense student", f"ticket ({ticket})", "ticket / dense"]


def device_rows(d: dict) -> list[list[str]]:
    """The dense student's and the ticket's int8 firmware side by side (empty without the ticket's build)."""
    tk, dn = d.get("build"), d.get("dense_build") or {}
    if not tk:
        return []
    rows = []
    for section, key, label in DEVICE_ROWS:
        a, b = (dn.get(section) or {}).get(key), (tk.get(section) or {}).get(key)
        if a is None and b is None:
            continue
        ratio = f"{b / a:.2f}x" if isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool) and a else ""
        rows.append([label, "-" if a is None else _num(a), "-" if b is None else _num(b), ratio])
    return rows


def _table(header: list[str], rows: list[list[str]]) -> str:
    rows = [[terminal_text(x) for x in r] for r in rows]  # device names come from the dataset
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = lambda r: "  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


MODEL_HEADER = ["model", "acc %", "macro %", "log loss", "unseen acc %", "unseen log loss"]


def print_summary(root: Path, wall_seconds: float | None = None) -> None:
    d = collect(root)
    click.echo("")
    if d["models"]:
        click.echo(_table(MODEL_HEADER, _model_rows(d)))
        devices, rows = _device_rows(d)
        if devices:
            click.echo("\naccuracy % per device")
            click.echo(_table(["model"] + devices, rows))
    rows = _deploy_rows(d)
    if rows:
        click.echo("")
        click.echo(_table(["deployment", "value"], rows))
    rows = device_rows(d)
    if rows:
        click.echo("")
        click.echo(_table(device_header(d), rows))
    if wall_seconds is not None:
        click.echo(f"\nrun dir {root} ({wall_seconds:.0f} s this time); report: {root / artifacts.REPORT_MD}")


# The report as blocks, rendered twice: Markdown (every string through md_cell) and HTML
# (every string through html.escape). Names in it come from run directories, datasets (devices,
# labels) and models, so neither renderer ever sees another's escaping.
Block = tuple


def _blocks(root: Path) -> list[Block]:
    d = collect(root)
    devices, dev_rows = _device_rows(d)
    blocks: list[Block] = [
        ("h1", f"acdeploy pipeline report: {root.name}"),
        ("p", "Accuracy and log loss on the evaluate fold (DCASE metrics; macro = class-wise average)."),
        ("table", MODEL_HEADER, _model_rows(d))]
    if devices:
        blocks += [("h2", "Accuracy per device (%)"), ("table", ["model"] + devices, dev_rows)]
    if d.get("lth"):
        lv = d["lth"]["levels"] + d["lth"].get("branches", [])
        blocks += [("h2", "Lottery-ticket levels"),
                   ("table", ["level", "sparsity %", "non-zero params", "non-zero int8 bytes", "acc %", "log loss",
                              "unseen acc %"],
                    [[r["name"], _fmt(r["sparsity"], True), r["nonzero_params"], r["nonzero_bytes_int8"],
                      _fmt(r["accuracy"], True), _fmt(r["log_loss"]), _fmt(r.get("unseen_accuracy"), True)]
                     for r in lv]),
                   ("p", f"Ticket: {d['lth'].get('ticket')} ({d['lth'].get('rule')})")]
    rows = _deploy_rows(d)
    if rows:
        blocks += [("h2", "Deployment"), ("table", ["", "value"], rows)]
    rows = device_rows(d)
    if rows:
        blocks += [("h2", "Dense student and ticket on the device"), ("table", device_header(d), rows),
                   ("p", "Both int8 models are quantized and built the same way (compress quantize, build --run); "
                         "instructions per inference counted by QEMU.")]
    if d.get("stages"):
        blocks += [("h2", "Stage times (s, last run of each)"),
                   ("table", ["stage", "seconds"], [[k, v if v is not None else "-"] for k, v in d["stages"].items()])]
    if d["images"]:
        blocks += [("h2", "Figures")] + [("img", str(p.relative_to(root))) for p in d["images"]]
    return blocks


def _markdown(blocks: list[Block]) -> str:
    out = []
    for kind, *args in blocks:
        if kind == "table":
            header, rows = args
            out += ["| " + " | ".join(md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
            out += ["| " + " | ".join(md_cell(c) for c in r) + " |" for r in rows]
        elif kind == "img":
            out.append(f"![{md_cell(args[0])}]({md_link_target(args[0])})")
            continue  # consecutive images, one per line
        else:
            out.append({"h1": "# ", "h2": "## ", "p": ""}[kind] + md_cell(args[0]))
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _html(blocks: list[Block], title: str) -> str:
    out = []
    for kind, *args in blocks:
        if kind == "table":
            header, rows = args
            out.append("<table>")
            out.append("<tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in header) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows]
            out.append("</table>")
        elif kind == "img":
            src = html.escape(md_link_target(args[0]))
            out.append(f'<p><img src="{src}" alt="{html.escape(args[0])}" style="max-width:100%"></p>')
        else:
            out.append(f"<{kind}>{html.escape(args[0])}</{kind}>")
    style = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child,th:first-child{text-align:left}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n")


def write_report(root: Path) -> None:
    blocks = _blocks(root)
    write_text(root / artifacts.REPORT_MD, _markdown(blocks))
    write_text(root / artifacts.REPORT_HTML, _html(blocks, root.name))
