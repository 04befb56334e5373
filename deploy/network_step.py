"""The C-network step of `acdeploy build`: the generated network (acnet.c/.h), its test vectors
(TFLite Micro's outputs) and the int8 kernels, in DIR/firmware/ beside the firmware project.

An operator the generator cannot compile stops the build with one line naming the op and layer.
"""

from __future__ import annotations

import importlib.resources

import numpy as np
from acdeploy.deploy import codegen, firmware, vectors
from acdeploy.deploy.memory_plan import plan_memory

from acdeploy import fileio
from acdeploy.errors import ModelError


def write_network(ctx) -> None:
    fw_dir = ctx.out / firmware.FIRMWARE_DIR
    try:
        net = codegen.generate(ctx.graph, plan_memory(ctx.graph), macs=ctx.report.get("totals", {}).get("macs"),
                               source_name=ctx.model_path.name)
    except ModelError as e:
        raise ModelError(f"{ctx.model_path}: {e}") from None
    inputs = ctx.options.get("vector_inputs")  # real clips from the pipeline, else random int8
    x, y = vectors.make_vectors(ctx.model, inputs=None if inputs is None else np.asarray(inputs),
                                n=int(ctx.options.get("num_vectors") or 4), graph=ctx.graph)
    fileio.write_text(fw_dir / "acnet.c", net.source)
    fileio.write_text(fw_dir / "acnet.h", net.header)
    fileio.write_text(fw_dir / "test_vectors.h", codegen.test_vectors_header(x, y))
    firmware.copy_package_dir(importlib.resources.files("acdeploy.firmware_stub") / "kernels", fw_dir / "kernels")
    ctx.report["network"] = {
        "source": f"{firmware.FIRMWARE_DIR}/acnet.c", "layers": len(ctx.graph.operators),
        "arena_bytes": net.arena_bytes, "input_size": net.input_size, "output_size": net.output_size,
        "float_io": net.float_io, "test_vectors": int(len(x)),
    }
