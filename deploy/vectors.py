"""Test vectors for the generated network: int8 inputs and the TFLite Micro Python runtime's
int8 outputs for them (the reference the firmware must match bit for bit).

For a float-I/O model the vectors are the int8 tensors around the QUANTIZE / DEQUANTIZE ops
(the int8 core that acnet_invoke runs), read with TFLM's preserve-all-tensors config.
"""

from __future__ import annotations

import numpy as np

from acdeploy.deploy.ir import Graph
from acdeploy.deploy.validate import load_graph
from acdeploy.interpreters import load_runtime


def tflm_arena_size(graph: Graph, model_bytes: bytes) -> int:
    """Generous arena for the host runtime: it only reserves address space it never touches."""
    activations = sum(t.nbytes for t in graph.tensors if not t.is_constant)
    return 4 * activations + 2 * len(model_bytes) + (1 << 20)


def tflm_interpreter(model_bytes: bytes, graph: Graph, preserve: bool = False, name: str | None = None):
    from tflite_micro.python.tflite_micro import runtime

    config = runtime.InterpreterConfig.kPreserveAllTensors if preserve else runtime.InterpreterConfig.kAllocationRecording
    return load_runtime(lambda: runtime.Interpreter.from_bytes(
        bytes(model_bytes), arena_size=tflm_arena_size(graph, model_bytes), intrepreter_config=config),
        name or "model", "TFLite Micro")


def _core_io(graph: Graph) -> tuple[int, int]:
    from acdeploy.deploy.codegen import core_io

    return core_io(graph)


def make_vectors(model_bytes: bytes, inputs: np.ndarray | None = None, n: int = 4, seed: int = 0,
                 graph: Graph | None = None, name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (int8 inputs [n, in_size], TFLM int8 outputs [n, out_size]).

    `inputs`: real samples shaped like the model input (float for a float-input model, int8
    otherwise), or None for `n` uniform random int8 inputs from `seed`.
    """
    from acdeploy.deploy.ops import check_supported

    graph = graph or load_graph(model_bytes, name=name)
    check_supported(graph, name or "model")  # TFLM aborts the process on some models the gate refuses cleanly
    gin, gout = graph.tensor(graph.inputs[0]), graph.tensor(graph.outputs[0])
    core_in, core_out = _core_io(graph)
    xq = graph.tensor(core_in)
    float_in = gin.dtype == "float32"
    shape = tuple(int(d) for d in gin.shape)
    if inputs is None:
        rng = np.random.default_rng(seed)
        q = rng.integers(-128, 128, size=(n, *shape), dtype=np.int64)
        if float_in:  # values on the int8 grid, so QUANTIZE recovers them exactly
            s, zp = float(xq.quant.scale[0]), int(xq.quant.zero_point[0])
            inputs = ((q - zp) * np.float32(s)).astype(np.float32)
        else:
            inputs = q.astype(np.int8)
    inputs = np.asarray(inputs).reshape(-1, *shape).astype(np.float32 if float_in else np.int8)
    preserve = float_in or gout.dtype == "float32"
    interp = tflm_interpreter(model_bytes, graph, preserve=preserve, name=name)
    ins, outs = [], []
    for x in inputs:
        interp.set_input(x, 0)
        interp.invoke()
        if preserve:
            ins.append(np.asarray(interp.GetTensor(core_in, 0)["tensor_data"]).astype(np.int8).reshape(-1))
            outs.append(np.asarray(interp.GetTensor(core_out, 0)["tensor_data"]).astype(np.int8).reshape(-1))
        else:
            ins.append(x.reshape(-1))
            outs.append(np.asarray(interp.get_output(0)).astype(np.int8).reshape(-1))
    return np.stack(ins), np.stack(outs)
