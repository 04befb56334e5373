"""The small graph IR between the .tflite reader and everything that consumes it
(report, MAC counter, memory plan, C array, C generator).

Plain dataclasses over numpy arrays; no TensorFlow, no flatbuffer objects leak past the reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Quant:
    """Affine quantization: real = scale * (q - zero_point); per-channel along `axis` when len(scale) > 1."""

    scale: np.ndarray  # float32, shape [1] or [channels]
    zero_point: np.ndarray  # int64, same shape as scale
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # numpy dtype name: "int8", "int32", "float32", ...
    quant: Quant | None = None
    data: np.ndarray | None = None  # constant buffer (weights, biases, shapes); None for activations
    weight_format: str = "dense"  # room for sparse storage formats later

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass
class Operator:
    index: int
    opcode: str  # TFLite builtin name, e.g. "CONV_2D"
    inputs: list[int]  # tensor indices; -1 = optional input absent
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)  # builtin options, snake_case keys
    version: int = 1
    name: str = ""  # a readable layer name (the output tensor's name)


@dataclass
class Graph:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    description: str = ""
    metadata: dict[str, bytes] = field(default_factory=dict)

    def tensor(self, i: int) -> Tensor:
        return self.tensors[i]

    def op_inputs(self, op: Operator) -> list[Tensor | None]:
        return [self.tensors[i] if i >= 0 else None for i in op.inputs]

    def op_outputs(self, op: Operator) -> list[Tensor]:
        return [self.tensors[i] for i in op.outputs]
