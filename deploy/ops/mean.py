"""MEAN: int8 mean over any set of constant axes of a tensor of rank <= 4, keep_dims or not."""

from __future__ import annotations

import math

import numpy as np

from acdeploy.deploy import codegen as cg
from acdeploy.deploy import quant, validate
from acdeploy.deploy.ir import Graph, Operator
from acdeploy.deploy.ops.base import INT8, GraphContext, Opcode, OpDef, nhwc4, prod


def vela_macs(g: Graph, op: Operator, ctx: GraphContext) -> int:
    """Vela: a depthwise with an IHxIW kernel over a 1x1 output (+ Mul): N*IH*IW*C."""
    n, ih, iw, c = nhwc4(g.tensor(op.inputs[0]).shape)
    return n * ih * iw * c


def nessi_macs(g: Graph, op: Operator, ctx: GraphContext) -> int:
    """NeSsi: the input's elements."""
    return prod(g.tensor(op.inputs[0]).shape)


def tflm_scratch(g: Graph, op: Operator) -> list[int]:
    """TFLM's reference MEAN: int32 accumulators (one per output element), the resolved axes and
    an index per input dimension, live during the op only."""
    return [4 * math.prod(g.tensor(op.outputs[0]).shape),
            4 * math.prod(g.tensor(op.inputs[1]).shape or (1,)),
            4 * len(g.tensor(op.inputs[0]).shape)]


def _mean(e: cg.Emitter, op: Operator) -> None:
    g = e.graph
    x, y = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    dims = cg.nhwc(x.shape)
    lead = 4 - len(x.shape)
    axes = {(int(a) + len(x.shape)) % len(x.shape) + lead for a in np.asarray(g.tensor(op.inputs[1]).data).reshape(-1)}
    reduce = [int(d in axes) for d in range(4)]
    count = cg.numel([dims[d] for d in range(4) if reduce[d]])
    # The installed TFLM takes QuantizedMeanOrSum even for equal input/output quantization
    # (checked bit for bit by the kernel tests), so there is one path.
    m, s = quant.mean_multiplier(cg.scale(x), cg.scale(y), count)
    fields = {"dims": "{" + ", ".join(map(str, dims)) + "}", "reduce": "{" + ", ".join(map(str, reduce)) + "}",
              "input_zp": cg.zp(x), "output_zp": cg.zp(y), "multiplier": m, "shift": s}
    p = e.struct("ac_mean_params", e.sym(op.index, "params"), fields, f"layer {op.index} MEAN '{op.name}'")
    e.call(op, f"ac_mean(&{p}, {e.ref(op.inputs[0])}, {e.ref(op.outputs[0])});")


OP = OpDef(
    opcodes=(Opcode("MEAN", "AddMean", tflm_op_data=64, inputs=(2, 2)),),
    constraints=(INT8,),
    vela_macs=vela_macs, nessi_macs=nessi_macs, tflm_scratch=tflm_scratch, emit=_mean, validate=validate._mean,
    doc="any constant axes of a rank <= 4 input, keep_dims or not; requantizes to the output's scale",
)
