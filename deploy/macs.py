"""Multiply-accumulate counts per operator, two ways.

`vela_macs` counts exactly as Arm Vela 5.2 (its C++ Regor core) prints "Neural network macs":
`EthosU55Performance::EstimateConvCycles` counts `kernel W*H * OFM elements` (times IFM depth
unless the op is depthwise or pooling) for every NPU op Vela lowers a TFLite op into:

| TFLite op | Vela lowering | MACs |
| CONV_2D | Conv2D | OH*OW*Cout*KH*KW*Cin |
| DEPTHWISE_CONV_2D | Depthwise | OH*OW*Cout*KH*KW |
| FULLY_CONNECTED | VectorProduct | rows*Cout*Cin |
| MAX/AVERAGE_POOL_2D | Pooling | OH*OW*C*KH*KW (padding taps included) |
| MEAN over H,W | Depthwise with an IHxIW kernel + Mul | OH*OW*C*IH*IW |
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

import math

from acdeploy.deploy.ir import Graph, Operator


def _prod(shape) -> int:
    return int(math.prod(shape))


def _nhwc(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    # Lower-rank tensors are read as N=1, H=1, W=1 padded on the left, as Vela's Shape4D does.
    s = (1,) * (4 - len(shape)) + tuple(shape[-4:])
    return s[0], s[1], s[2], s[3]


def _consumers(graph: Graph) -> dict[int, list[Operator]]:
    out: dict[int, list[Operator]] = {}
    for op in graph.operators:
        for i in op.inputs:
            if i >= 0:
                out.setdefault(i, []).append(op)
    return out


def _producers(graph: Graph) -> dict[int, Operator]:
    return {o: op for op in graph.operators for o in op.outputs}


def _conv_like(graph: Graph, op: Operator, *, depthwise: bool) -> int:
    out = graph.tensor(op.outputs[0]).shape
    w = graph.tensor(op.inputs[1]).shape
    n, oh, ow, oc = _nhwc(out)
    if depthwise:  # weights [1, KH, KW, Cout]
        return n * oh * ow * oc * w[1] * w[2]
    # conv weights [Cout, KH, KW, Cin]
    return n * oh * ow * oc * w[1] * w[2] * w[3]


def _pool(graph: Graph, op: Operator) -> int:
    return _prod(graph.tensor(op.outputs[0]).shape) * op.options["filter_height"] * op.options["filter_width"]


def _fc(graph: Graph, op: Operator, *, nessi: bool) -> int:
    w = graph.tensor(op.inputs[1]).shape  # [Cout, Cin]
    if nessi:
        return _prod(graph.tensor(op.outputs[0]).shape[:-1] or (1,)) * w[0] * graph.tensor(op.inputs[0]).shape[-1]
    rows = _prod(graph.tensor(op.inputs[0]).shape) // w[1]
    return rows * w[0] * w[1]


def _mean(graph: Graph, op: Operator) -> int:
    n, ih, iw, c = _nhwc(graph.tensor(op.inputs[0]).shape)
    return n * ih * iw * c  # Vela: a depthwise with an IHxIW kernel over a 1x1 output


def _softmax(graph: Graph, op: Operator) -> int:
    return 2 * _prod(graph.tensor(op.outputs[0]).shape)


def _vela_pad(graph: Graph, op: Operator, consumers, in_place) -> int:
    users = consumers.get(op.outputs[0], [])
    if len(users) == 1 and users[0].opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        return 0  # folded into the convolution's own padding
    # A MemoryCopy of the input into the middle (unless written in place) plus four fills of the
    # border: top/bottom bands span the output width, left/right bands the output height.
    _, oh, ow, c = _nhwc(graph.tensor(op.outputs[0]).shape)
    pads = graph.tensor(op.inputs[1]).data.reshape(-1, 2)[-3:]
    (top, bottom), (left, right) = pads[0], pads[1]
    fills = int(top + bottom) * ow * c + int(left + right) * oh * c
    copy = 0 if in_place(op.inputs[0]) else _prod(graph.tensor(op.inputs[0]).shape)
    return copy + fills


def vela_macs(graph: Graph) -> list[int]:
    """MACs per operator as Vela 5.2 counts them (0 for ops Vela leaves to the CPU)."""
    consumers, producers = _consumers(graph), _producers(graph)

    def in_place(i: int) -> bool:
        # An operator whose only consumer is a copy writes straight into the copy's output.
        return i in producers and len(consumers.get(i, [])) == 1

    out = []
    for op in graph.operators:
        kind = op.opcode
        if kind == "CONV_2D":
            m = _conv_like(graph, op, depthwise=False)
        elif kind == "DEPTHWISE_CONV_2D":
            m = _conv_like(graph, op, depthwise=True)
        elif kind == "FULLY_CONNECTED":
            m = _fc(graph, op, nessi=False)
        elif kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            m = _pool(graph, op)
        elif kind == "MEAN":
            m = _mean(graph, op)
        elif kind == "SOFTMAX":
            m = _softmax(graph, op)
        elif kind == "CONCATENATION":
            m = sum(_prod(graph.tensor(i).shape) for i in op.inputs if not in_place(i))
        elif kind == "PAD":
            m = _vela_pad(graph, op, consumers, in_place)
        elif kind == "QUANTIZE" and graph.tensor(op.inputs[0]).dtype != "float32":
            m = _prod(graph.tensor(op.outputs[0]).shape)  # a requantizing copy on the NPU
        else:
            m = 0
        out.append(int(m))
    return out


def nessi_macs(graph: Graph) -> list[int]:
    """MACs per operator as the DCASE NeSsi calculator counts them for a .tflite."""
    out = []
    for op in graph.operators:
        kind = op.opcode
        if kind == "CONV_2D":
            m = _conv_like(graph, op, depthwise=False)
        elif kind == "DEPTHWISE_CONV_2D":
            m = _conv_like(graph, op, depthwise=True)
        elif kind == "FULLY_CONNECTED":
            m = _fc(graph, op, nessi=True)
        elif kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            m = _pool(graph, op)
        elif kind == "MEAN":
            m = _prod(graph.tensor(op.inputs[0]).shape)
        elif kind == "ADD":
            m = (len([i for i in op.inputs if i >= 0]) - 1) * _prod(graph.tensor(op.outputs[0]).shape)
        else:
            m = 0
        out.append(int(m))
    return out
