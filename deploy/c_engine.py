"""`acdeploy eval --engine c`: the generated C network, compiled for the host, as an evaluation
engine. The model is compiled ahead of time into a throwaway firmware project (the same acnet.c,
kernels and main.c that `acdeploy build` writes), built once with gcc, and every example is
streamed through its `--stream` mode: float features are quantized with the int8 core's input
scale/zero point, the int8 outputs dequantized with its output scale/zero point.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np

from acdeploy import artifacts, fileio
from acdeploy.deploy import firmware


def write_network_project(model: bytes, fw_dir: str | Path, n_vectors: int = 1, name: str = "model"):
    """A complete firmware project for `model` in `fw_dir`; returns (graph, GeneratedNetwork)."""
    from acdeploy.deploy import codegen, ops, vectors
    from acdeploy.deploy.memory_plan import plan_memory
    from acdeploy.deploy.validate import load_graph

    fw_dir = Path(fw_dir)
    graph = load_graph(model, name=name)
    ops.check_supported(graph, name)  # the same gate as report and build
    net = codegen.generate(graph, plan_memory(graph), source_name=name)
    fileio.write_text(fw_dir / artifacts.ACNET_C, net.source)
    fileio.write_text(fw_dir / artifacts.ACNET_H, net.header)
    # main.c always carries a self-test; one TFLM vector keeps the host binary honest.
    x, y = vectors.make_vectors(model, n=n_vectors, graph=graph, name=name)
    fileio.write_text(fw_dir / artifacts.TEST_VECTORS_H, codegen.test_vectors_header(x, y))
    firmware.copy_package_dir(importlib.resources.files("acdeploy.firmware_stub") / artifacts.KERNELS_DIR, fw_dir / artifacts.KERNELS_DIR)
    firmware.install_project(fw_dir)
    return graph, net


def _scale_zp(tensor) -> tuple[float, int]:
    return float(tensor.quant.scale[0]), int(tensor.quant.zero_point[0])


def run_c(model: bytes, x: np.ndarray, name: str = "model") -> np.ndarray:
    """Float outputs of the generated C network for float features x [N, ...] (ENGINES signature)."""
    with fileio.scratch_dir("acdeploy-c-engine-") as tmp:
        graph, net = write_network_project(model, tmp / artifacts.FIRMWARE_DIR, name=name)
        s_in, zp_in = _scale_zp(graph.tensor(net.input_tensor))
        s_out, zp_out = _scale_zp(graph.tensor(net.output_tensor))
        xf = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
        xq = np.clip(np.round(xf / np.float32(s_in)) + zp_in, -128, 127).astype(np.int8)
        yq = firmware.run_host_network(tmp, xq)
    return (yq.astype(np.float64) - zp_out) * s_out
