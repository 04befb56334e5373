"""The C-network step of `acdeploy build`: the generated network (acnet.c/.h), its test vectors
(TFLite Micro's outputs) and the int8 kernels, in DIR/firmware/ beside the firmware project.

An operator the generator cannot compile stops the build with one line naming the op and layer.
"""

from __future__ import annotations

import importlib.resources

import numpy as np

from acdeploy import artifacts, fileio
from acdeploy.deploy import codegen, firmware, vectors, weight_formats
from acdeploy.deploy.report_data import NetworkSection
from acdeploy.errors import ModelError


def write_network(ctx) -> NetworkSection:
    fw_dir = ctx.out / firmware.FIRMWARE_DIR
    try:
        net = codegen.generate(ctx.graph, ctx.plan, macs=ctx.analysis.totals.macs, source_name=ctx.model_path.name,
                               weights=ctx.options.weights, objective=ctx.options.objective,
                               core=weight_formats.cost_model(ctx.target))
    except ModelError as e:
        raise ModelError(f"{ctx.model_path}: {e}") from None
    inputs = ctx.options.vector_inputs  # real clips from the pipeline, else random int8
    x, y = vectors.make_vectors(ctx.model, inputs=None if inputs is None else np.asarray(inputs),
                                n=ctx.options.num_vectors, graph=ctx.graph)
    fileio.write_text(fw_dir / artifacts.ACNET_C, net.source)
    fileio.write_text(fw_dir / artifacts.ACNET_H, net.header)
    fileio.write_text(fw_dir / artifacts.TEST_VECTORS_H, codegen.test_vectors_header(x, y))
    firmware.copy_package_dir(importlib.resources.files("acdeploy.firmware_stub") / artifacts.KERNELS_DIR, fw_dir / artifacts.KERNELS_DIR)
    return NetworkSection(
        source=f"{firmware.FIRMWARE_DIR}/{artifacts.ACNET_C}", layers=len(ctx.graph.operators),
        arena_bytes=net.arena_bytes, input_size=net.input_size, output_size=net.output_size,
        float_io=net.float_io, test_vectors=int(len(x)), weights=ctx.options.weights,
        objective=ctx.options.objective, weight_formats=[f.to_dict() for f in net.formats],
        expanded_params=[x.to_dict() for x in net.expanded],
    )
