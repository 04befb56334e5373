"""The C emitter CONV_2D and DEPTHWISE_CONV_2D share. The generator knows each layer's shape,
its requantisation (the fast table where every channel qualifies, else multipliers and shifts)
and its clamp, so it chooses the kernel variant here (`choose_variant`) and emits a params struct
with exactly what that variant reads: nothing is dispatched at run time. Variants that exist only
on the DSP core are called through ac_kernels.h macros, which name the DSP or the portable
function by AC_USE_DSP at compile time, so one acnet.c builds with and without DSP."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from acdeploy.deploy import codegen as cg
from acdeploy.deploy import quant
from acdeploy.deploy import weight_formats as wf
from acdeploy.deploy.ir import Graph, Operator, Tensor
from acdeploy.deploy.ops import sparse_weights


def _folded_bias(g: Graph, op: Operator, w: Tensor, input_offset: int, channels: int) -> np.ndarray:
    """bias + input_offset * (sum of the channel's weights), as CMSIS-NN's kernel sums:
    sum (x + off) * w = sum x * w + off * sum w exactly; wrapped to int32 like the kernel's int32
    accumulator, so the result is the same even where that sum would overflow."""
    sums = w.data.astype(np.int64).reshape(channels, -1).sum(axis=1)
    return (cg.bias_values(g, op, channels) + input_offset * sums + (1 << 31)) % (1 << 32) - (1 << 31)


def _constant_channels(w: Tensor, depthwise: bool, bias: np.ndarray, mults: list[int],
                       shifts: list[int]) -> tuple[np.ndarray, list[int], list[int]]:
    """bias', multipliers and shifts with every all-zero channel's output as a fast-table row.

    A pruned-away channel sums to exactly its bias', so its output is the constant TFLM computes,
    MultiplyByQuantizedMultiplier(bias', m, s) = v; but TFLite gives an all-zero channel a
    degenerate scale (about 4e-9), whose multiplier fails the fast table's preconditions and would
    cost the whole layer its table and sparse kernels. The row {8 v, 2^30, shift -2} gives v through
    ac_requant_fast with no rounding (8v * 2^30 / 2^31 = 4v, then / 4); v is first limited to
    [-256, 256], which leaves the int8 clamp's result unchanged for any output zero point."""
    rows = np.asarray(w.data).reshape(-1, len(mults)).T if depthwise else np.asarray(w.data).reshape(len(mults), -1)
    dead = np.flatnonzero(~rows.any(axis=1))
    if dead.size == 0:
        return bias, mults, shifts
    bias, mults, shifts = np.array(bias, np.int64), list(mults), list(shifts)
    for c in dead:
        if shifts[c] > 0:  # a multiplier above one fails the table anyway
            continue
        v = min(256, max(-256, quant.multiply_by_quantized_multiplier(int(bias[c]), mults[c], shifts[c])))
        bias[c], mults[c], shifts[c] = 8 * v, 1 << 30, -2
    return bias, mults, shifts


def _requant_rows(e: cg.Emitter, op: Operator, mults: list[int], shifts: list[int],
                  depthwise: bool) -> list[list[int]] | None:
    """Rows {bias', multiplier, r, 2^(r-1) + (zp << r)} for ac_requant_fast, or None when a channel
    does not meet its preconditions (multiplier >= 2^30, shift <= -2) or a sum could leave int32;
    bias' is the folded bias for conv. A channel whose weights are all zero gets a row of its own
    (see _constant_channels)."""
    g = e.graph
    oc = len(mults)
    bias = (cg.bias_values(g, op, oc) if depthwise
            else _folded_bias(g, op, g.tensor(op.inputs[1]), -cg.zp(g.tensor(op.inputs[0])), oc))
    w = g.tensor(op.inputs[1])
    bias, mults, shifts = _constant_channels(w, depthwise, bias, mults, shifts)
    if not all(m >= 1 << 30 and s <= -2 for m, s in zip(mults, shifts, strict=True)):
        return None
    zp = cg.zp(g.tensor(op.outputs[0]))
    # The output zero point rides in the rounding term: (u + 2^(r-1) + zp 2^r) >> r is the
    # shifted value plus zp exactly, provided the sum stays in int32. |u| <= |acc + bias| / 2 + 1
    # and |acc| <= taps * 255 * 128 (input plus offset, int8 weight; taps per output channel).
    taps = int(np.prod(w.shape)) // oc
    worst = max(abs(int(b)) for b in bias) + taps * 255 * 128
    rows = []
    for b, m, s in zip(bias, mults, shifts, strict=True):
        r = -s - 1
        if worst // 2 + 1 + (1 << (r - 1)) + abs(zp) * (1 << r) >= 1 << 31:
            return None
        rows.append([int(b), m, r, (1 << (r - 1)) + zp * (1 << r)])
    return rows


# 1x1 convs with at most this many input channels get int16 pre-extended weights (flash: 2 extra
# bytes per weight): below it the per-output requantisation weighs enough that the SXTB16s on
# the weights decide whether the layer stays under 2 instructions per MAC on the M4.
FILTER16_MAX_IN_C = 48


def _filter16(e: cg.Emitter, op: Operator, layer: str, w: Tensor) -> str:
    """1x1 weights of each channel pair as int16 lane pairs in SXTB16 order (see ac_kernels.h)."""
    oc, _, _, ic = (int(d) for d in w.shape)
    rows = w.data.astype(np.int64).reshape(oc, ic)[: oc & ~1].reshape(oc // 2, 2, ic // 4, 4)
    lanes = rows[..., [0, 2, 1, 3]].reshape(oc // 2, 2, ic // 4, 2, 2)  # (pair, row, group, word, lane)
    words = lanes.transpose(0, 2, 1, 3, 4)  # (pair, group, row, word, lane)
    packed = (words[..., 0] & 0xFFFF) | ((words[..., 1] & 0xFFFF) << 16)
    packed = np.where(packed >= 1 << 31, packed - (1 << 32), packed)
    return e.array(e.sym(op.index, "filter16"), "int32_t", packed.reshape(-1),
                   f"{layer}: weights pre-extended to int16 pairs for the pointwise DSP core")


# Limits of the variants' stack arrays: AC_CONV_MAX_GATHER (kernels/ac_conv_gather.c) and
# AC_DW_MAX_TAPS (kernels/ac_depthwise_dsp.c).
GATHER_MAX_TAPS = 64
DW_DSP_MAX_TAPS = 64


@dataclass(frozen=True)
class ConvLayer:
    """What the variant choice reads of a conv or depthwise layer."""

    depthwise: bool
    k_h: int
    k_w: int
    in_c: int
    out_c: int
    filter_in_c: int
    stride: tuple[int, int]
    pads: tuple[int, int]
    full_range: bool  # the clamp is all of int8
    table: bool  # the layer has the requantisation table
    filter16: bool  # 1x1 weights pre-extended to int16 (DSP core)


def choose_variant(c: ConvLayer, reference: bool = False) -> str:
    """The kernel function (or, for variants that exist only on the DSP core, the ac_kernels.h
    macro that names the DSP or the portable function at compile time) a layer calls."""
    sat = "_sat" if c.full_range else ""
    if reference:
        return "ac_depthwise_ref" if c.depthwise else "ac_conv2d_ref"
    if c.depthwise:
        if not c.table:
            return "ac_depthwise_ref"
        if c.out_c == c.in_c and c.k_h * c.k_w <= DW_DSP_MAX_TAPS:
            return "AC_DEPTHWISE_DSP" + sat.upper()
        return "ac_depthwise_tables"
    if not c.table:
        return "ac_conv2d_rows"
    pointwise = (c.k_h, c.k_w) == (1, 1) and c.in_c == c.filter_in_c and c.pads == (0, 0)
    if pointwise and c.stride == (1, 1):
        return "AC_CONV2D_1X1_W16" + sat.upper() if c.filter16 else "ac_conv2d_1x1_tables" + sat
    if pointwise:
        return "ac_conv2d_1x1_strided_tables"
    if c.in_c == c.filter_in_c and c.filter_in_c * c.k_w < 8 and c.k_h * c.k_w * c.filter_in_c <= GATHER_MAX_TAPS:
        return "ac_conv2d_gather_tables" + sat
    return "ac_conv2d_rows"  # the table would buy nothing: the row-run loop requantises exactly


def _struct_value(fields: dict[str, object]) -> str:
    return "{" + ", ".join(f".{k} = {v}" for k, v in fields.items()) + "}"


def _filter16_bytes(oc: int, ic: int) -> int:
    return (oc // 2) * (ic // 4) * 4 * 4


def _choose_format(e: cg.Emitter, op: Operator, c: ConvLayer, w: Tensor, pixels: int, small_1x1: bool,
                   sums_fit: bool):
    """The layer's weight format and kernel (deploy/weight_formats.py), recorded in e.formats.
    sums_fit: bias' plus any partial sum of the taps stays in int32 (the sparse kernel starts its
    accumulators at bias')."""
    taps = c.k_h * c.k_w * c.filter_in_c
    weights = int(w.data.size)
    nnz = sparse_weights.nonzeros(w.data)
    outputs = pixels * c.out_c
    macs = pixels * (c.out_c * taps if not c.depthwise else c.out_c * c.k_h * c.k_w)
    dense_fn = choose_variant(c, reference=e.reference)
    cands = [wf.Candidate("dense", dense_fn, weights, wf.predict(dense_fn, macs, outputs, core=e.core))]
    fn16 = choose_variant(replace(c, filter16=True), reference=e.reference)
    if not e.reference and small_1x1 and c.table and fn16 != dense_fn:
        cands.append(wf.Candidate("dense16", fn16, weights + _filter16_bytes(c.out_c, c.in_c),
                                  wf.predict(fn16, macs, outputs, core=e.core)))
    if (not e.reference and not c.depthwise and c.table and c.in_c == c.filter_in_c
            and taps <= sparse_weights.MAX_TAPS and sums_fit):
        pointwise = (c.k_h, c.k_w) == (1, 1) and c.pads == (0, 0)
        fn_s = ("ac_conv2d_sparse_1x1" if pointwise else "ac_conv2d_sparse_gather") + ("_sat" if c.full_range else "")
        sp_bytes = sparse_weights.conv_bytes(sparse_weights.encode_conv(w.data))
        cands.append(wf.Candidate("sparse", fn_s, sp_bytes, wf.predict(
            fn_s, pixels * nnz, outputs, 0 if pointwise else pixels * taps, core=e.core)))
    return wf.choose_layer(e.formats, op, cands, e.weights, e.objective, weights, nnz,
                           sparse_weights.tflm_prune_bytes(weights, nnz))


def _requant_table(e: cg.Emitter, op: Operator, layer: str, rows: list[list[int]], pairs, what: str) -> tuple[str, str]:
    """The layer's requantisation table: (the C address its params point to, the line that fills it
    before the kernel runs, '' when the table sits in flash). Where deploy.objective makes it pay
    (weight_formats.expand_pays), flash keeps 9 bytes per channel (bias', multiplier, r; plus the
    sparse pair count) and ac_requant_expand writes the 16-byte rows into an arena range free during
    the layer; otherwise the rows themselves are a const array. `pairs`: the sparse layer's entry pairs
    per channel, or None."""
    oc = len(rows)
    table_bytes = 16 * oc
    compact = (9 + (pairs is not None)) * oc + wf.COMPACT_STRUCT_BYTES
    cost = wf.expand_instructions(oc, "row" if pairs is None else "sparse_row")
    if e.reference or not wf.expand_pays(e.objective, table_bytes - compact, cost,
                                         e.scratch_grows_arena(op, table_bytes)):
        flash = rows if pairs is None else [[b_, m_, r_ | int(n) << 8, rnd] for (b_, m_, r_, rnd), n
                                            in zip(rows, pairs, strict=True)]
        sparse = "" if pairs is None else " | (entry pairs << 8)"
        return e.array(e.sym(op.index, "requant"), "int32_t", flash,
                       f"{layer}: per channel {{{what}, multiplier, r{sparse}, 2^(r-1) + (output zero point << r)}}"), ""
    cols = list(zip(*rows, strict=True))
    fields = {
        "out_c": oc, "output_offset": cg.zp(e.graph.tensor(op.outputs[0])),
        "bias": e.array(e.sym(op.index, "bias"), "int32_t", cols[0], f"{layer}: per channel {what}"),
        "multiplier": e.array(e.sym(op.index, "mult"), "int32_t", cols[1], f"{layer}: per-channel multipliers"),
        "r": e.array(e.sym(op.index, "r"), "uint8_t", cols[2], f"{layer}: per channel r = -shift - 1"),
    }
    ctype, fn = "ac_requant_compact", "ac_requant_expand"
    if pairs is not None:
        ctype, fn = "ac_requant_compact_sparse", "ac_requant_expand_sparse"
        fields = {"c": _struct_value(fields), "pairs": e.array(e.sym(op.index, "pairs"), "uint8_t", list(pairs),
                                                               f"{layer}: entry pairs per channel")}
    c = e.struct(ctype, e.sym(op.index, "requant_c"), fields,
                 f"{layer}: requantisation kept compact, expanded into the arena before the layer runs")
    addr, offset = e.scratch(op, table_bytes)
    e.expanded[op.index] = wf.ExpandedParams(
        index=op.index, name=op.name, op=op.opcode, what="requantisation rows", flash_bytes=compact,
        table_bytes=table_bytes, ram_offset=offset, predicted_instructions=cost)
    return addr, f"{fn}(&{c}, {addr});\n    "


def emit_conv(e: cg.Emitter, op: Operator, depthwise: bool) -> None:
    g = e.graph
    x, w, y = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.tensor(op.outputs[0])
    b, ih, iw, ic = cg.nhwc(x.shape)
    _, oh, ow, oc = cg.nhwc(y.shape)
    o = op.options
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    # The reader snake-cases DilationHFactor as dilation_hfactor; accept either spelling.
    dh = int(o.get("dilation_h_factor", o.get("dilation_hfactor", 1)))
    dw = int(o.get("dilation_w_factor", o.get("dilation_wfactor", 1)))
    if depthwise:
        _, kh, kw, _ = w.shape
        fic = 1
    else:
        _, kh, kw, fic = w.shape
    same = o.get("padding", "VALID") == "SAME"
    pt = quant.same_padding(ih, kh, sh, dh, oh) if same else 0
    pl = quant.same_padding(iw, kw, sw, dw, ow) if same else 0
    mults, shifts = quant.per_channel_multipliers(cg.scale(x), w.quant.scale, cg.scale(y), oc)
    lo, hi = cg.act_range(op, y)
    layer = f"layer {op.index} {op.opcode} '{op.name}'"
    rows = None if e.reference else _requant_rows(e, op, mults, shifts, depthwise)
    small_1x1 = (not depthwise and (kh, kw) == (1, 1) and ic == fic and ic % 4 == 0
                 and ic <= FILTER16_MAX_IN_C and oc >= 2)
    conv = ConvLayer(
        depthwise=depthwise, k_h=int(kh), k_w=int(kw), in_c=ic, out_c=oc, filter_in_c=int(fic), stride=(sh, sw),
        pads=(pt, pl), full_range=(lo, hi) == (-128, 127), table=rows is not None, filter16=False)
    pixels = b * oh * ow
    fits = rows is not None and (max(abs(r[0]) for r in rows) + conv.k_h * conv.k_w * conv.filter_in_c * 128 * 128
                                 < 1 << 31)
    fmt = _choose_format(e, op, conv, w, pixels, small_1x1, fits)
    fn = fmt.variant
    e.variants[op.index] = fn
    geom = _struct_value({
        "batches": b, "in_h": ih, "in_w": iw, "in_c": ic, "out_h": oh, "out_w": ow, "out_c": oc,
        "k_h": kh, "k_w": kw, "filter_in_c": fic, "stride_h": sh, "stride_w": sw, "dil_h": dh, "dil_w": dw,
        "pad_top": pt, "pad_left": pl, "input_offset": -cg.zp(x), "output_offset": cg.zp(y),
        "act_min": lo, "act_max": hi})
    expand = ""
    filt = "NULL" if fmt.format == "sparse" else e.array(
        e.sym(op.index, "filter"), "int8_t", w.data.astype(np.int64), f"{layer}: filter '{w.name}' {list(w.shape)}")
    if fn in ("ac_conv2d_ref", "ac_conv2d_rows", "ac_depthwise_ref"):
        # Exact requantisation: bias (zeros when the model has none), multipliers and shifts.
        ctype, fields = "ac_conv_params", {
            "g": geom, "filter": filt,
            "bias": e.array(e.sym(op.index, "bias"), "int32_t", cg.bias_values(g, op, oc),
                            f"{layer}: bias"),
            "multiplier": e.array(e.sym(op.index, "mult"), "int32_t", mults, f"{layer}: per-channel multipliers"),
            "shift": e.array(e.sym(op.index, "shift"), "int32_t", shifts, f"{layer}: per-channel shifts"),
        }
    elif fmt.format != "sparse":
        what = "bias" if depthwise else "bias + input offset x sum of the channel's weights"
        table, expand = _requant_table(e, op, layer, rows, None, what)
        ctype, fields = "ac_conv_table_params", {"g": geom, "filter": filt, "requant": table}
        if fn.startswith("AC_CONV2D_1X1_W16"):
            ctype, fields = "ac_conv_w16_params", {"t": _struct_value(fields),
                                                   "filter16": _filter16(e, op, layer, w)}
    else:
        sp = sparse_weights.encode_conv(w.data)
        table, expand = _requant_table(e, op, layer, rows, [int(n) for n in sp.count],
                                       "bias + input offset x sum of the channel's weights")
        ctype, fields = "ac_conv_sparse_params", {
            "g": geom,
            "requant": table,
            "entries": e.array(e.sym(op.index, "entries"), "uint8_t", sparse_weights.conv_entries(sp),
                               f"{layer}: non-zero weights of '{w.name}' {list(w.shape)} in pairs "
                               f"(tap index, tap index, value, value)"),
        }
    p = e.struct(ctype, e.sym(op.index, "params"), fields, f"{layer}: {fn}")
    e.call(op, f"{expand}{fn}(&{p}, {e.ref(op.inputs[0])}, {e.ref(op.outputs[0])});")
