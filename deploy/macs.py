"""Multiply-accumulate counts per operator, two ways; each op's two rules live in its OpDef
(deploy/ops/, `vela_macs` and `nessi_macs`), this module runs them over a graph.

`vela_macs` counts exactly as Arm Vela 5.2 (its C++ Regor core) prints "Neural network macs":
`EthosU55Performance::EstimateConvCycles` counts `kernel W*H * OFM elements` (times IFM depth
unless the op is depthwise or pooling) for every NPU op Vela lowers a TFLite op into:

| TFLite op | Vela lowering | MACs |
| CONV_2D | Conv2D | OH*OW*Cout*KH*KW*Cin |
| DEPTHWISE_CONV_2D | Depthwise | OH*OW*Cout*KH*KW |
| FULLY_CONNECTED | VectorProduct | rows*Cout*Cin |
| MAX/AVERAGE_POOL_2D | Pooling | OH*OW*C*KH*KW (padding taps included) |
| MEAN over H,W | Depthwise with an IHxIW kernel + Mul | OH*OW*C*IH*IW (other axes: the same count, not checked against Vela) |
| SOFTMAX | MaxPool (row max) + ReduceSum + elementwise | 2*C per row |
| CONCATENATION | one MemoryCopy (1x1 pooling) per input | elements of each input that its producer cannot write in place |
| PAD | fused into a following CONV_2D/DEPTHWISE_CONV_2D; else MemoryCopy + 4 border fills | 0, or input elements (unless written in place) + border elements |
| QUANTIZE int8 -> int8 (requantize) | MemoryCopy | output elements |
| ADD, RESHAPE, float QUANTIZE/DEQUANTIZE (CPU) | elementwise / removed | 0 |

A producer writes straight into its slice of the concatenation or padded tensor (no copy) when
that copy is its only consumer and it is an operator (not a graph input or constant). The PAD and
CONCATENATION rules were derived from `vela` runs on small converter models (concat of a graph
input, of two single-use convs; PAD before MAX_POOL, AVERAGE_POOL, ADD, DEPTHWISE_CONV_2D).

`nessi_macs` counts as the DCASE calculator NeSsi does for a .tflite (tflite_tools/tflite_model.py
`_macs_for_op`): like Vela for conv/depthwise/pooling, but FULLY_CONNECTED uses the input's last
dimension, MEAN counts input elements, ADD counts (inputs-1)*elements, SOFTMAX/CONCAT/PAD count 0.
"""

from __future__ import annotations

from acdeploy.deploy import ops
from acdeploy.deploy.ir import Graph


def _count(graph: Graph, rule: str) -> list[int]:
    ctx = ops.GraphContext(graph)
    out = []
    for op in graph.operators:
        d = ops.lookup(op.opcode)
        out.append(int(getattr(d, rule)(graph, op, ctx)) if d is not None else 0)
    return out


def vela_macs(graph: Graph) -> list[int]:
    """MACs per operator as Vela 5.2 counts them (0 for ops Vela leaves to the CPU)."""
    return _count(graph, "vela_macs")


def nessi_macs(graph: Graph) -> list[int]:
    """MACs per operator as the DCASE NeSsi calculator counts them for a .tflite."""
    return _count(graph, "nessi_macs")
