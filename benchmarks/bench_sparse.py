"""Sparse weights benchmark: flash and instructions of the generated firmware for magnitude-pruned
copies of the default student, per weight format, on Cortex-M4 / M7 / M33 / M55 in QEMU
(-icount shift=0: instructions), every firmware checked against TFLM's outputs.

Model: the registry's default student at width 1 (benchmarks/bench_firmware.py `student_model`:
random initial weights, int8). Pruning: the int8 weights of every CONV_2D / FULLY_CONNECTED
layer by magnitude, per layer (ties broken by a seeded random order; depthwise is never pruned,
as TF-MOT does not prune it), in two patterns:
- uniform (every level): the first and last prunable layers at half the rate of the others, whose
  rate is set so that the share of zeros over all prunable weights is the level;
- ticket-shaped (92.8 %): each layer keeps exactly as many weights as in the LTH benchmark's
  ticket (docs/BENCHMARKS.md "Compression: lottery-ticket levels": compress/lth.py's own rule,
  3 levels at p = 0.6, scope layer, first and last layer at half that rate). The zero pattern has
  the ticket's per-layer densities; the weight values are the random student's, not the ticket's.

Per level and target three builds (`acdeploy build` with):
- dense/speed: `--weights dense`, objective speed (today's fastest dense path, int16 copies);
- dense/balanced: `--weights dense`, objective balanced (the comparison for auto);
- auto/balanced: `--weights auto`, objective balanced (the default build).
Per-layer instructions from the `make PROFILE=1` build (vector 0).

    .venv/bin/python benchmarks/bench_sparse.py [--out runs/bench_sparse] [--markdown]
    .venv/bin/python benchmarks/bench_sparse.py --patterns ticket --merge --markdown   # ticket rows only
    .venv/bin/python benchmarks/bench_sparse.py --revalue-check   # same zeros, other values: what changes
    .venv/bin/python benchmarks/bench_sparse.py --calibrate   # fit deploy/weight_formats.py's constants (M4)
    .venv/bin/python benchmarks/bench_sparse.py --objectives --out runs/bench_objectives   # speed / balanced / size
    .venv/bin/python benchmarks/bench_sparse.py --calibrate --targets cortex-m55 --out runs/bench_sparse_m55 --markdown
    .venv/bin/python benchmarks/bench_sparse.py --calibrate --targets cortex-m55 --model TICKET.tflite --out DIR --markdown

--calibrate adds auto/speed and --weights sparse builds, prints the fitted constants per core and, with
--markdown, a table of auto vs dense vs sparse per core (instructions, flash, auto never slower than dense
per layer under speed and balanced). --model: a given int8 model (e.g. a quickstart ticket) instead of the
pruned students.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

LEVELS = (0.0, 0.5, 0.75, 0.9, 0.928, 0.95)
TARGETS = ("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")
BUILDS = (("dense", "speed"), ("dense", "balanced"), ("auto", "balanced"))
WEIGHTED = ("CONV_2D", "FULLY_CONNECTED")
PATTERNS = ("uniform", "ticket")
# The LTH benchmark's ticket (docs/BENCHMARKS.md "Compression: lottery-ticket levels", level_03).
TICKET_LTH = {"levels": 3, "prune_fraction": 0.6, "scope": "layer", "first_layer_rate": 0.5, "last_layer_rate": 0.5}
TICKET_SPARSITY = 0.928


def _rewrite_weights(model: bytes, prune: Callable[[list[np.ndarray]], None]) -> bytes:
    """The model with the int8 weights of its CONV_2D / FULLY_CONNECTED layers (in graph order) zeroed by `prune`."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    m = fb.ModelT.InitFromPackedBuf(model, 0)
    codes = {i: oc.builtinCode for i, oc in enumerate(m.operatorCodes)}
    want = (fb.BuiltinOperator.CONV_2D, fb.BuiltinOperator.FULLY_CONNECTED)
    sg = m.subgraphs[0]
    bufs = [m.buffers[sg.tensors[op.inputs[1]].buffer] for op in sg.operators if codes[op.opcodeIndex] in want]
    ws = [np.frombuffer(bytes(np.asarray(b.data, np.uint8)), np.int8).copy() for b in bufs]
    prune(ws)
    for b, w in zip(bufs, ws, strict=True):
        b.data = w.tobytes()
    fbb = flatbuffers.Builder(1024)
    fbb.Finish(m.Pack(fbb), file_identifier=b"TFL3")
    return bytes(fbb.Output())


def prune_int8(model: bytes, level: float, seed: int = 0) -> bytes:
    """Magnitude-prune the int8 weights of CONV_2D / FULLY_CONNECTED layers to `level` overall."""
    def uniform(ws: list[np.ndarray]) -> None:
        sizes = np.array([w.size for w in ws], float)
        edge = sizes[0] + sizes[-1]
        mid_rate = (level * sizes.sum() - level / 2 * edge) / max(sizes.sum() - edge, 1)
        rng = np.random.default_rng(seed)
        for k, w in enumerate(ws):
            rate = level / 2 if k in (0, len(ws) - 1) else min(mid_rate, 1.0)
            order = np.lexsort((rng.random(w.size), np.abs(w.astype(np.int32))))
            w[order[:int(round(rate * w.size))]] = 0

    return _rewrite_weights(model, uniform)


def prune_ticket(model: bytes, seed: int = 0) -> tuple[bytes, list[dict]]:
    """Per-layer magnitude pruning to the LTH benchmark ticket's per-layer densities, by compress/lth.py's
    own mask rule (`next_mask`) run for the ticket's levels; returns the model and per layer
    (weights, non-zeros). Fails unless the total comes out at the ticket's 92.8 %."""
    from acdeploy.compress.config import LthConfig
    from acdeploy.compress.lth import next_mask

    lth = LthConfig(**TICKET_LTH)
    layers: list[dict] = []

    def ticket(ws: list[np.ndarray]) -> None:
        rng = np.random.default_rng(seed)
        # |w| plus a random tie-break below one int8 step: the ranking of magnitude pruning, with
        # the ties of int8 values broken at random as a trained kernel's float values would.
        keys = {str(k): np.abs(w.astype(np.float64)) + 0.5 * rng.random(w.size) for k, w in enumerate(ws)}
        mask = None
        for _ in range(lth.levels):
            mask = next_mask(keys, mask, lth)
        for k, w in enumerate(ws):
            w[mask[str(k)] == 0] = 0
            layers.append({"weights": int(w.size), "nonzero": int(np.count_nonzero(w))})

    out = _rewrite_weights(model, ticket)
    total = sum(x["weights"] for x in layers)
    sparsity = 1 - sum(x["nonzero"] for x in layers) / total
    if round(sparsity * 100, 1) != round(TICKET_SPARSITY * 100, 1):
        raise SystemExit(f"ticket-shaped pruning came out at {sparsity * 100:.2f} % sparse, not the ticket's "
                         f"{TICKET_SPARSITY * 100:g} %: the student's prunable layers are not the LTH benchmark's")
    return out, layers


def revalue(model: bytes, seed: int = 1) -> bytes:
    """The same zero pattern with other values: every non-zero CONV_2D / FULLY_CONNECTED weight replaced
    by a random non-zero int8 (the quantisation parameters stay)."""
    def other(ws: list[np.ndarray]) -> None:
        rng = np.random.default_rng(seed)
        for w in ws:
            n = int(np.count_nonzero(w))
            w[w != 0] = (rng.integers(1, 128, n) * rng.choice([-1, 1], n)).astype(np.int8)

    return _rewrite_weights(model, other)


def revalue_check(out: Path, targets) -> list[str]:
    """Build the ticket-shaped model and a copy with other non-zero values (auto/balanced) and list
    every layer whose kernel, stored bytes or instructions differ, and the firmware totals."""
    from acdeploy import fileio

    ticket = out / model_file(TICKET_SPARSITY, "ticket")
    if not ticket.is_file():
        raise SystemExit(f"{ticket}: measure the ticket-shaped rows first (--patterns ticket)")
    other = out / "student_ticket_revalued.tflite"
    fileio.write_bytes(other, revalue(ticket.read_bytes()))
    lines = []
    for t in targets:
        a = measure_one(ticket, t, "auto", "balanced", out / f"v_ticket_{t}")
        b = measure_one(other, t, "auto", "balanced", out / f"v_revalued_{t}")
        lines.append(f"{t}: instructions {a['instructions']:,} / {b['instructions']:,}, flash {a['flash']:,} / "
                     f"{b['flash']:,}, = TFLM {a['passed']} / {b['passed']}")
        for la, lb in zip(a["layers"], b["layers"], strict=True):
            if (la.get("variant"), la.get("stored_bytes"), la["instructions"]) != (
                    lb.get("variant"), lb.get("stored_bytes"), lb["instructions"]):
                lines.append(f"  layer {la['index']} {la['op']}: {la.get('variant')} / {lb.get('variant')}, bytes "
                             f"{la.get('stored_bytes')} / {lb.get('stored_bytes')}, instructions {la['instructions']:,} / "
                             f"{lb['instructions']:,}")
    return lines


def model_file(level: float, pattern: str) -> str:
    if pattern == "model":
        return "given_model.tflite"
    return "student_ticket.tflite" if pattern == "ticket" else f"student_{level * 100:g}.tflite"


def measure_one(model_path: Path, target: str, weights: str, objective: str, out: Path) -> dict:
    from acdeploy.deploy import firmware
    from acdeploy.deploy.build import BuildOptions, build

    rep = build(model_path, target, out, options=BuildOptions(run=True, weights=weights, objective=objective,
                                                              timeout=600))
    fw = rep.firmware
    _, per_layer = firmware.profile_layers(out, target, timeout=600)
    layers = [{"index": r.index, "name": r.name, "op": r.op, "macs": r.macs, "instructions": n}
              for r, n in zip(rep.layers, per_layer, strict=True)]
    formats = {f["index"]: f for f in rep.network.weight_formats}
    for row in layers:
        f = formats.get(row["index"])
        if f is not None:
            row.update(format=f["format"], variant=f["variant"], weights=f["weights"], nonzero=f["nonzero"],
                       stored_bytes=f["stored_bytes"], dense_bytes=f["dense_bytes"],
                       tflm_prune_bytes=f["tflm_prune_bytes"], predicted=f["predicted_instructions"])
    return {"target": target, "weights": weights, "objective": objective, "passed": fw.passed,
            "instructions": fw.instructions_per_inference, "flash": fw.flash_bytes, "size": fw.size,
            "layers": layers}


def pattern_of(run: dict) -> str:
    return run.get("pattern", "uniform")


def measure(out: Path, levels, targets, patterns=PATTERNS, keep: list[dict] | None = None,
            model: Path | None = None) -> dict:
    """Build and run every (level, pattern) x target x build; `keep`: earlier runs of other patterns kept in results.json;
    `model`: that int8 model alone (pattern "model", level its CONV_2D / FULLY_CONNECTED sparsity)."""
    from bench_firmware import student_model

    from acdeploy import fileio

    if model is not None:
        res = {"model": str(out / model_file(0, "model")), "source": str(model), "runs": []}
        ws: list[np.ndarray] = []
        _rewrite_weights(model.read_bytes(), ws.extend)
        level = 1 - sum(int(np.count_nonzero(w)) for w in ws) / sum(w.size for w in ws)
        models = [(round(level, 4), "model", model.read_bytes(), None)]
        patterns = ()
    else:
        dense = student_model(out / "student_int8.tflite")
        res = {"model": str(dense), "runs": []}
        models = [(lv, "uniform", prune_int8(dense.read_bytes(), lv), None) for lv in levels if "uniform" in patterns]
    if "ticket" in patterns:
        ticket, layers = prune_ticket(dense.read_bytes())
        models.append((TICKET_SPARSITY, "ticket", ticket, layers))
        res["ticket_layers"] = layers
    now = {(lv, pattern) for lv, pattern, _, _ in models}
    res["runs"] = [r for r in keep or [] if (r["level"], pattern_of(r)) not in now]
    for level, pattern, data, _ in models:
        path = out / model_file(level, pattern)
        fileio.write_bytes(path, data)
        tag = f"{level * 100:g}" if pattern == "uniform" else pattern
        for target in targets:
            for weights, objective in BUILDS:
                run = measure_one(path, target, weights, objective, out / f"b_{tag}_{target}_{weights}_{objective}")
                run.update(level=level, pattern=pattern)
                res["runs"].append(run)
                print(f"{tag} {target} {weights}/{objective}: {run['instructions']:,} instructions, "
                      f"flash {run['flash']:,}, passed={run['passed']}", file=sys.stderr)
                fileio.write_json(out / "results.json", res)
    return res


def calibrate(res: dict, target: str = "cortex-m4") -> dict[str, tuple[float, float, float]]:
    """Least-squares (per_mac, per_output, per_tap) per kernel family from one core's per-layer counts."""
    from acdeploy.deploy.weight_formats import family

    rows: dict[str, list] = {}
    for run in res["runs"]:
        if run["target"] != target:
            continue
        for layer in run["layers"]:
            if "format" not in layer:
                continue
            rows.setdefault(family(layer["variant"]), []).append(layer)
    fits = {}
    for fam, items in rows.items():
        a, y = [], []
        for layer in items:
            outputs, taps, macs = layer["outputs"], layer["taps"], layer["exec_macs"]
            a.append([macs, outputs, taps])
            y.append(layer["instructions"])
        a, y = np.array(a, float), np.array(y, float)
        cols = [i for i in range(3) if a[:, i].any()]
        sol, *_ = np.linalg.lstsq(a[:, cols], y, rcond=None)
        coef = [0.0, 0.0, 0.0]
        for i, v in zip(cols, sol, strict=True):
            coef[i] = round(float(v), 2)
        fits[fam] = tuple(coef)
    return fits


def _geometry(res: dict) -> None:
    """MACs executed, outputs and gathered taps per weighted layer (for the fit)."""
    from acdeploy.deploy.tflite_reader import read_tflite

    graphs: dict[str, object] = {}
    for run in res["runs"]:
        path = Path(res["model"]).parent / model_file(run["level"], pattern_of(run))
        g = graphs.setdefault(str(path), read_tflite(path.read_bytes()))
        for layer in run["layers"]:
            if "format" not in layer:
                continue
            op = g.operators[layer["index"]]
            y = g.tensor(op.outputs[0])
            w = g.tensor(op.inputs[1])
            outputs = int(np.prod(y.shape))
            oc = int(y.shape[-1])
            pixels = outputs // oc
            taps = int(np.prod(w.shape)) // (oc if layer["op"] != "DEPTHWISE_CONV_2D" else 1)
            sparse = layer["format"] == "sparse"
            layer["outputs"] = outputs
            layer["exec_macs"] = pixels * layer["nonzero"] if sparse else layer["macs"]
            layer["taps"] = pixels * taps if sparse and "gather" in layer["variant"] else 0


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if b else "-"


def _label(level: float, pattern: str) -> str:
    return f"{level * 100:.3g}" + {"ticket": " ticket-shaped", "model": " (given model)"}.get(pattern, "")


def markdown(res: dict, command: str) -> str:
    runs = {(r["level"], pattern_of(r), r["target"], r["weights"], r["objective"]): r for r in res["runs"]}
    rows = sorted({(r["level"], pattern_of(r)) for r in res["runs"]}, key=lambda x: (x[0], (*PATTERNS, "model").index(x[1])))
    targets = [t for t in TARGETS if any(r["target"] == t for r in res["runs"])]

    def conv(run, key="instructions"):
        return sum(layer[key] for layer in run["layers"] if layer["op"] in WEIGHTED)

    def wbytes(run, key="stored_bytes"):
        return sum(layer[key] for layer in run["layers"] if layer["op"] in WEIGHTED)

    lines = [
        f"Command: `{command}` (machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}; QEMU 7.2 `-icount shift=0`, arm-none-eabi-gcc `-O2`, DSP kernels).",
        "Model: the default student (width 1) on 40x51x1 log-mels, random initial weights, int8; its int8 "
        "CONV_2D weights magnitude-pruned per layer. Rows with a plain sparsity: every level, first and last prunable "
        "layer at half the rate of the others. Rows 'ticket-shaped': each layer pruned to exactly the non-zero count "
        "of the LTH benchmark's 92.8 % ticket (compress/lth.py's rule: 3 levels at p = 0.6, scope layer, first and "
        "last layer at half that rate); the weight values are the random student's, not the trained ticket's.",
        "Ratios are auto (balanced) over dense; 'dense DSP path' = `--weights dense` with objective speed "
        "(today's build: int16 copies on the 32-channel 1x1 convs). Conv = every CONV_2D layer (weights and "
        "instructions; depthwise is never pruned). Flash = firmware code + weights (`arm-none-eabi-size`).",
        "",
        "| target | sparsity % | conv weights B: dense int8 / auto | ratio (TFLM prune) | conv instr.: dense DSP / auto "
        "| ratio | firmware instr.: dense DSP / auto | ratio | firmware flash: dense DSP / auto | ratio | = TFLM | "
        "auto never worse per layer (layers it changed) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for t in targets:
        for lv, pat in rows:
            d, db, a = (runs.get((lv, pat, t, w, o)) for w, o in BUILDS)
            if d is None or a is None or db is None:
                continue
            dense_b, auto_b, prune_b = wbytes(d, "dense_bytes"), wbytes(a), wbytes(a, "tflm_prune_bytes")
            # A layer auto builds as dense/balanced does runs the same kernel on the same bytes; its
            # count can still move by a few dozen instructions with the code layout, which is not a choice.
            worse = [layer["index"] for la, layer in zip(db["layers"], a["layers"], strict=True)
                     if layer["op"] in WEIGHTED and layer["variant"] != la["variant"]
                     and (layer["stored_bytes"] > la["stored_bytes"] or layer["instructions"] > la["instructions"])]
            lines.append(
                f"| {t} | {_label(lv, pat)} | {dense_b:,} / {auto_b:,} | {_ratio(auto_b, dense_b)} ({_ratio(prune_b, dense_b)}) | "
                f"{conv(d):,} / {conv(a):,} | {_ratio(conv(a), conv(d))} | {d['instructions']:,} / {a['instructions']:,} | "
                f"{_ratio(a['instructions'], d['instructions'])} | {d['flash']:,} / {a['flash']:,} | "
                f"{_ratio(a['flash'], d['flash'])} | {'yes' if a['passed'] and d['passed'] else 'NO'} | "
                f"{'yes' if not worse else 'no: layers ' + ', '.join(map(str, worse))} |")
    for lv, pat in [(TICKET_SPARSITY, "uniform"), (TICKET_SPARSITY, "ticket")]:
        if (lv, pat, "cortex-m4", "auto", "balanced") not in runs:
            continue
        a, db = runs[(lv, pat, "cortex-m4", "auto", "balanced")], runs[(lv, pat, "cortex-m4", "dense", "balanced")]
        lines += ["", f"Per layer at {_label(lv, pat)} %, cortex-m4 (auto/balanced vs dense/balanced; predicted = cost model):",
                  "", "| # | layer | format | kernel | non-zero / weights | bytes dense / stored | instr. dense | "
                  "instr. auto (predicted) |", "| ---: | --- | --- | --- | ---: | ---: | ---: | ---: |"]
        for la, ld in zip(a["layers"], db["layers"], strict=True):
            if "format" not in la:
                continue
            name = la["name"].split(";")[0].split("/")[-2 if "/" in la["name"] else 0]
            lines.append(f"| {la['index']} | {name} | {la['format']} | `{la['variant']}` | {la['nonzero']:,} / "
                         f"{la['weights']:,} | {la['dense_bytes']:,} / {la['stored_bytes']:,} | {ld['instructions']:,} | "
                         f"{la['instructions']:,} ({la['predicted']:,}) |")
    return "\n".join(lines) + "\n"


def _never_worse(dense: dict, auto: dict) -> list[int]:
    """Weighted layers where auto runs another kernel than dense and more instructions. A layer built
    the same way in both can move by a few dozen instructions with the code layout, which is not a choice."""
    return [la["index"] for ld, la in zip(dense["layers"], auto["layers"], strict=True)
            if la["op"] in WEIGHTED and la.get("variant") != ld.get("variant") and la["instructions"] > ld["instructions"]]


def compare_markdown(res: dict) -> str:
    """Per core measured with the --calibrate builds: auto vs dense vs sparse (objective balanced;
    speed for the never-worse check too), firmware instructions and flash, conv-layer instructions."""
    runs = {(r["level"], pattern_of(r), r["target"], r["weights"], r["objective"]): r for r in res["runs"]}
    keys = sorted({k[:3] for k in runs if (*k[:3], "sparse", "balanced") in runs and (*k[:3], "auto", "speed") in runs},
                  key=lambda k: (TARGETS.index(k[2]), k[0], (*PATTERNS, "model").index(k[1])))
    lines = ["| target | sparsity % | firmware instr.: dense / auto / sparse | firmware flash: dense / auto / sparse "
             "| conv instr.: dense / auto / sparse | layers auto made sparse | auto never slower than dense per layer "
             "(speed; balanced) | = TFLM |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for lv, pat, t in keys:
        d, a, sp = (runs[(lv, pat, t, w, "balanced")] for w in ("dense", "auto", "sparse"))
        ds, as_ = runs[(lv, pat, t, "dense", "speed")], runs[(lv, pat, t, "auto", "speed")]

        def conv(run):
            return sum(layer["instructions"] for layer in run["layers"] if layer["op"] in WEIGHTED)

        made = sum(1 for layer in a["layers"] if layer.get("format") == "sparse")
        weighted = sum(1 for layer in a["layers"] if "format" in layer)
        verdict = "; ".join("yes" if not w else "no: layers " + ", ".join(map(str, w))
                            for w in (_never_worse(ds, as_), _never_worse(d, a)))
        ok = all(r["passed"] for r in (d, a, sp, ds, as_))
        lines.append(f"| {t} | {_label(lv, pat)} | {d['instructions']:,} / {a['instructions']:,} / {sp['instructions']:,} "
                     f"| {d['flash']:,} / {a['flash']:,} / {sp['flash']:,} | {conv(d):,} / {conv(a):,} / {conv(sp):,} "
                     f"| {made} of {weighted} | {verdict} | {'yes' if ok else 'NO'} |")
    return "\n".join(lines) + "\n"


OBJECTIVES = ("speed", "balanced", "size")


def measure_objectives(out: Path, targets, patterns=("uniform",)) -> dict:
    """The objective trade-off: the dense student (and with `ticket` the ticket-shaped 92.8 % copy),
    `--weights auto` under each objective, with the parameters as the generator chooses them
    ("expanded": compact in flash, expanded at run time where expand_pays says so) and, for
    comparison, with every requantisation row and ADD table in flash ("flash tables": expand_pays
    patched to refuse, the build before run-time expansion)."""
    from bench_firmware import student_model

    from acdeploy import fileio
    from acdeploy.deploy import weight_formats

    dense = student_model(out / "student_int8.tflite")
    models = [(0.0, "uniform", dense.read_bytes())] if "uniform" in patterns else []
    if "ticket" in patterns:
        models.append((TICKET_SPARSITY, "ticket", prune_ticket(dense.read_bytes())[0]))
    res = {"model": str(dense), "runs": []}
    pays = weight_formats.expand_pays
    for level, pattern, data in models:
        path = out / model_file(level, pattern)
        fileio.write_bytes(path, data)
        tag = f"{level * 100:g}" if pattern == "uniform" else pattern
        for target in targets:
            for objective in OBJECTIVES:
                for params in ("flash tables", "expanded"):
                    if params == "flash tables" and objective == "speed":
                        continue  # speed keeps the flash tables anyway
                    weight_formats.expand_pays = pays if params == "expanded" else (lambda *a, **k: False)
                    try:
                        run = measure_one(path, target, "auto", objective,
                                          out / f"o_{tag}_{target}_{objective}_{params.split()[0]}")
                    finally:
                        weight_formats.expand_pays = pays
                    run.update(level=level, pattern=pattern, params=params)
                    res["runs"].append(run)
                    print(f"{tag} {target} {objective} {params}: {run['instructions']:,} instructions, .weights "
                          f"{run['size']['weights']:,}, passed={run['passed']}", file=sys.stderr)
                    fileio.write_json(out / "objectives.json", res)
    return res


def objectives_markdown(res: dict, command: str) -> str:
    by = {(r["level"], pattern_of(r), r["target"], r["objective"], r["params"]): r for r in res["runs"]}
    lines = [f"Command: `{command}`. Machine: {platform.machine()}, QEMU 7.2 `-icount shift=0` (instructions), "
             "arm-none-eabi-gcc 12.2 `-O2`; `--weights auto`; `.weights`: the generated network's constants (weights "
             "and parameters), code: `.text`; RAM: arena + bss + stack; expansion: the instructions the layers "
             "spend expanding their parameters (per-layer counts, expanded minus flash tables).", "",
             "| model | core | objective | parameters | .weights B | code B | flash B | RAM B | instructions | "
             "instr./MAC | expansion instr. | = TFLM |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for (level, pattern, target, objective, params), r in sorted(
            by.items(), key=lambda kv: (kv[0][0], kv[0][1], TARGETS.index(kv[0][2]), OBJECTIVES.index(kv[0][3]),
                                        kv[0][4] != "flash tables")):
        base = by.get((level, pattern, target, objective, "flash tables"))
        extra = "-"
        if params == "expanded" and base is not None:
            extra = f"{r['instructions'] - base['instructions']:+,}"
        z = r["size"]
        macs = sum(layer["macs"] for layer in r["layers"])
        shown = "flash tables" if objective == "speed" else params  # speed never expands
        lines.append(f"| {_label(level, pattern)} | {target} | {objective} | {shown} | {z['weights']:,} | {z['code']:,} | "
                     f"{r['flash']:,} | {z['ram_bytes']:,} | {r['instructions']:,} | {r['instructions'] / macs:.3f} | "
                     f"{extra} | {r['passed']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/bench_sparse"))
    ap.add_argument("--markdown", action="store_true", help="print the docs/BENCHMARKS.md section")
    ap.add_argument("--calibrate", action="store_true",
                    help="also --weights sparse; print the fitted cost-model constants per target (default cortex-m4)")
    ap.add_argument("--targets", nargs="+", choices=TARGETS, default=None,
                    help="cores to measure (default: all; --calibrate: cortex-m4)")
    ap.add_argument("--reuse", action="store_true", help="render results.json again without measuring")
    ap.add_argument("--levels", type=float, nargs="*", default=None, help="sparsity levels (fractions) of the uniform pattern")
    ap.add_argument("--patterns", nargs="+", choices=PATTERNS, default=list(PATTERNS),
                    help="uniform: every level; ticket: the LTH ticket's per-layer densities (92.8 %%)")
    ap.add_argument("--model", type=Path, default=None, help="measure this int8 model instead of the pruned students")
    ap.add_argument("--merge", action="store_true", help="keep results.json's runs of the (level, pattern)s not measured now")
    ap.add_argument("--revalue-check", action="store_true",
                    help="after a ticket run: the same zeros with other values, per-layer differences (auto/balanced)")
    ap.add_argument("--objectives", action="store_true",
                    help="the objective trade-off (speed / balanced / size, parameters in flash vs expanded at run "
                         "time) of the dense student (--patterns ticket: also the ticket-shaped copy), default cortex-m4")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if args.objectives:
        from acdeploy import fileio

        res = (json.loads((args.out / "objectives.json").read_text()) if args.reuse else
               measure_objectives(args.out, tuple(args.targets or ("cortex-m4",)), tuple(args.patterns)))
        fileio.write_json(args.out / "objectives.json", res)
        cmd = " ".join(["--objectives", *(["--targets", *args.targets] if args.targets else []),
                        "--patterns", *args.patterns, "--out", str(args.out), "--markdown"])
        print(objectives_markdown(res, f".venv/bin/python benchmarks/bench_sparse.py {cmd}"))
        return
    global BUILDS
    if args.calibrate:
        BUILDS = (("dense", "speed"), ("auto", "speed"), ("dense", "balanced"), ("auto", "balanced"), ("sparse", "balanced"))
    from acdeploy import fileio

    results = args.out / "results.json"
    if args.revalue_check:
        print("\n".join(revalue_check(args.out, args.targets or TARGETS)))
        return
    if args.reuse:
        res = json.loads(results.read_text())
    else:
        keep = json.loads(results.read_text())["runs"] if args.merge and results.is_file() else None
        targets = tuple(args.targets or (("cortex-m4",) if args.calibrate else TARGETS))
        res = measure(args.out, args.levels or LEVELS, targets,
                      tuple(args.patterns), keep, args.model)
        fileio.write_json(results, res)
    if args.calibrate:
        _geometry(res)
        for t in sorted({r["target"] for r in res["runs"]}, key=TARGETS.index):
            print(t, json.dumps(calibrate(res, t), indent=1))
        if args.markdown:
            print(compare_markdown(res))
    elif args.markdown:
        cmd = " ".join(["--patterns", *args.patterns, "--merge"] if args.merge else [])
        print(markdown(res, f".venv/bin/python benchmarks/bench_sparse.py {cmd} --markdown".replace("  ", " ")))


if __name__ == "__main__":
    main()
