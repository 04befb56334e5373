"""The C emitter CONV_2D and DEPTHWISE_CONV_2D share: one `ac_conv_params` struct per layer with
the requantisation precomputed (per-channel multipliers and shifts, or the fast table), the
filter as a const array and, for small 1x1 convs, int16 pre-extended weights."""

from __future__ import annotations

import numpy as np
from acdeploy.deploy import codegen as cg
from acdeploy.deploy import quant
from acdeploy.deploy.ir import Graph, Operator, Tensor


def _folded_bias(g: Graph, op: Operator, w: Tensor, input_offset: int, channels: int) -> np.ndarray:
    """bias + input_offset * (sum of the channel's weights), as CMSIS-NN's kernel sums:
    sum (x + off) * w = sum x * w + off * sum w exactly; wrapped to int32 like the kernel's int32
    accumulator, so the result is the same even where that sum would overflow."""
    sums = w.data.astype(np.int64).reshape(channels, -1).sum(axis=1)
    return (cg.bias_values(g, op, channels) + input_offset * sums + (1 << 31)) % (1 << 32) - (1 << 31)


def _requant_table(e: cg.Emitter, op: Operator, layer: str, mults: list[int], shifts: list[int],
                   depthwise: bool) -> str:
    """Rows {bias', multiplier, r, 2^(r-1)} for ac_requant_fast, or NULL when a channel does not
    meet its preconditions (multiplier >= 2^30, shift <= -2); bias' is the folded bias for conv."""
    if not all(m >= 1 << 30 and s <= -2 for m, s in zip(mults, shifts, strict=True)):
        return "NULL"
    g = e.graph
    oc = len(mults)
    bias = (cg.bias_values(g, op, oc) if depthwise
            else _folded_bias(g, op, g.tensor(op.inputs[1]), -cg.zp(g.tensor(op.inputs[0])), oc))
    zp = cg.zp(g.tensor(op.outputs[0]))
    w = g.tensor(op.inputs[1])
    # The output zero point rides in the rounding term: (u + 2^(r-1) + zp 2^r) >> r is the
    # shifted value plus zp exactly, provided the sum stays in int32. |u| <= |acc + bias| / 2 + 1
    # and |acc| <= taps * 255 * 128 (input plus offset, int8 weight; taps per output channel).
    taps = int(np.prod(w.shape)) // oc
    worst = max(abs(int(b)) for b in bias) + taps * 255 * 128
    rows = []
    for b, m, s in zip(bias, mults, shifts, strict=True):
        r = -s - 1
        if worst // 2 + 1 + (1 << (r - 1)) + abs(zp) * (1 << r) >= 1 << 31:
            return "NULL"
        rows.append([int(b), m, r, (1 << (r - 1)) + zp * (1 << r)])
    return e.array(e.sym(op.index, "requant"), "int32_t", rows,
                   f"{layer}: per channel {{bias', multiplier, r, 2^(r-1) + (output zero point << r)}}")


# 1x1 convs with at most this many input channels get int16 pre-extended weights (flash: 2 extra
# bytes per weight): below it the per-output requantisation weighs enough that the SXTB16s on
# the weights decide whether the layer stays under 2 instructions per MAC on the M4.
FILTER16_MAX_IN_C = 48


def _filter16(e: cg.Emitter, op: Operator, layer: str, w: Tensor, depthwise: bool) -> str:
    """Weights of each channel pair as int16 lane pairs in SXTB16 order (see ac_kernels.h)."""
    oc, kh, kw, ic = (int(d) for d in w.shape)
    if depthwise or kh != 1 or kw != 1 or ic % 4 or ic > FILTER16_MAX_IN_C or oc < 2:
        return "NULL"
    rows = w.data.astype(np.int64).reshape(oc, ic)[: oc & ~1].reshape(oc // 2, 2, ic // 4, 4)
    lanes = rows[..., [0, 2, 1, 3]].reshape(oc // 2, 2, ic // 4, 2, 2)  # (pair, row, group, word, lane)
    words = lanes.transpose(0, 2, 1, 3, 4)  # (pair, group, row, word, lane)
    packed = (words[..., 0] & 0xFFFF) | ((words[..., 1] & 0xFFFF) << 16)
    packed = np.where(packed >= 1 << 31, packed - (1 << 32), packed)
    return e.array(e.sym(op.index, "filter16"), "int32_t", packed.reshape(-1),
                   f"{layer}: weights pre-extended to int16 pairs for the pointwise DSP core")


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
    # With the requantisation table the kernels read multiplier, shift and the table's bias from
    # it: the separate arrays would be flash that no path reads (conv keeps the unfolded bias for
    # sums that include the input offset). The folded bias alone serves 1x1 convs without a table.
    requant = _requant_table(e, op, layer, mults, shifts, depthwise)
    table = requant != "NULL"
    e.conv_kinds.append((table, (lo, hi) == (-128, 127)))
    fields = {
        "batches": b, "in_h": ih, "in_w": iw, "in_c": ic, "out_h": oh, "out_w": ow, "out_c": oc,
        "k_h": kh, "k_w": kw, "filter_in_c": fic, "depth_multiplier": oc // ic if depthwise else 1,
        "stride_h": sh, "stride_w": sw, "dil_h": dh, "dil_w": dw, "pad_top": pt, "pad_left": pl,
        "input_offset": -cg.zp(x), "output_offset": cg.zp(y), "act_min": lo, "act_max": hi,
        "filter": e.array(e.sym(op.index, "filter"), "int8_t", w.data.astype(np.int64),
                          f"{layer}: filter '{w.name}' {list(w.shape)}"),
        "bias": "NULL" if depthwise and table else cg.bias_array(e, op, layer, oc),
        "folded_bias": "NULL" if depthwise or table or (kh, kw) != (1, 1) else e.array(
            e.sym(op.index, "folded_bias"), "int32_t", _folded_bias(g, op, w, -cg.zp(x), oc),
            f"{layer}: bias + input offset x sum of the channel's weights"),
        "multiplier": "NULL" if table else e.array(
            e.sym(op.index, "mult"), "int32_t", mults, f"{layer}: per-channel multipliers"),
        "shift": "NULL" if table else e.array(
            e.sym(op.index, "shift"), "int32_t", shifts, f"{layer}: per-channel shifts"),
        "requant": requant,
        "filter16": _filter16(e, op, layer, w, depthwise),
    }
    p = e.struct("ac_conv_params", e.sym(op.index, "params"), fields, layer)
    fn = "ac_depthwise_conv2d" if depthwise else "ac_conv2d"
    e.call(op, f"{fn}(&{p}, {e.ref(op.inputs[0])}, {e.ref(op.outputs[0])});")
