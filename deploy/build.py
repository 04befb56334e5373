"""`acdeploy build`: a build directory for one target, made as a sequence of steps.

All steps write into a temp dir that replaces DIR only when every step succeeded, so a failure
leaves no partial output (an existing DIR stays as it was). Each step is a function of the
`BuildContext` that writes its files and returns its section of the report (or None); `build()`
starts from the model's figures (`analyze`), adds each step's section, and writes report.json
and report.md last, from the assembled `Report`. The memory plan is made once and shared by the
report and the network generator.

The budget verdict comes after the rename: over budget raises OverBudget (exit 3) with the
numbers, and the build dir is still there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acdeploy import artifacts, fileio
from acdeploy.deploy import (
    c_array,
    ethos_step,
    firmware_step,
    frontend_step,
    network_step,
    report_md,
)
from acdeploy.deploy.budgets import Budget, resolve_budgets
from acdeploy.deploy.ir import Graph
from acdeploy.deploy.memory_plan import MemoryPlan, plan_memory
from acdeploy.deploy.ops import check_supported, resolver_ops
from acdeploy.deploy.report import analyze
from acdeploy.deploy.report_data import Report, Section
from acdeploy.deploy.report_weights import measure_step
from acdeploy.deploy.targets import Target, get_target
from acdeploy.deploy.validate import load_graph
from acdeploy.errors import ModelError, OverBudget
from acdeploy.model_info import ModelInfo


@dataclass(frozen=True)
class BuildOptions:
    """What the command line adds to a build beyond model, target and budgets."""

    run: bool = False  # cross-compile and run the firmware (QEMU or host)
    timeout: float | None = None  # seconds before QEMU is stopped; None: firmware.DEFAULT_QEMU_TIMEOUT
    num_vectors: int = 4  # test vectors embedded in the firmware
    vector_inputs: np.ndarray | None = None  # real clips for the test vectors, else random int8
    frontend: bool | None = None  # the audio front end; None: when the model's feature config is known
    audio: tuple[Path, ...] = ()  # WAV clips the firmware classifies through the front end
    weights: str = "auto"  # weight formats per layer: auto | dense | sparse (deploy/weight_formats.py)
    objective: str = "balanced"  # what the format choice optimises: speed | size | balanced (config deploy.objective)


@dataclass
class BuildContext:
    model_path: Path
    model: bytes
    graph: Graph
    target: Target
    budgets: list[Budget]
    info: ModelInfo | None  # model_info.json of our pipeline, if beside the model
    out: Path  # the temp dir being filled (renamed to the final dir at the end)
    plan: MemoryPlan  # the generated network's arena plan (made once per build)
    analysis: Report  # the model's figures, before any step's section
    options: BuildOptions


def load_model(path: str | Path) -> tuple[bytes, Graph, ModelInfo | None]:
    """Bytes, IR and model_info of a deployable int8 model; ModelError names what is wrong."""
    from acdeploy.deploy.evaluate import model_info_for

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    data = path.read_bytes()
    graph = load_graph(data, name=str(path))
    check_supported(graph, str(path))
    return data, graph, model_info_for(path)


def write_c_array(ctx: BuildContext) -> None:
    name = c_array.c_name(ctx.model_path)
    fileio.write_text(ctx.out / artifacts.MODEL_DATA_H, c_array.model_data_h(name, len(ctx.model)))
    fileio.write_text(ctx.out / artifacts.MODEL_DATA_C, c_array.model_data_c(name, ctx.model))


def write_settings(ctx: BuildContext) -> None:
    fileio.write_text(ctx.out / artifacts.MODEL_SETTINGS_H, c_array.model_settings_h(
        ctx.graph, c_array.c_name(ctx.model_path), resolver_ops(ctx.graph),
        ctx.analysis.totals.arena_bytes, ctx.info))


Step = Callable[[BuildContext], Section | None]
# The firmware project goes in every build dir; its --run step needs the generated network first.
STEPS: list[Step] = [write_c_array, write_settings, firmware_step.install_step, network_step.write_network,
                     frontend_step.write_step, firmware_step.run_step, measure_step,
                     frontend_step.measure_step]


def build(model_path: str | Path, target_name: str, out: str | Path, budget_names=(),
          steps: list[Step] | None = None, options: BuildOptions | None = None) -> Report:
    """Run every step into a temp dir, rename it to `out`, then check the budgets. Returns the report."""
    target = get_target(target_name)  # unknown target: fail before reading anything
    ethos_step.check_target(target, options is not None and options.run)
    budgets = resolve_budgets(list(budget_names), target)
    model_path = Path(model_path)
    data, graph, info = load_model(model_path)
    out = Path(out)
    plan = plan_memory(graph)
    report = analyze(graph, model_path, len(data), target, budgets, info, plan=plan)
    with fileio.atomic_dir(out) as tmp:
        ctx = BuildContext(model_path=model_path, model=data, graph=graph, target=target, budgets=budgets,
                           info=info, out=tmp, plan=plan, analysis=report, options=options or BuildOptions())
        for step in steps if steps is not None else ethos_step.STEPS if target.npu else STEPS:
            section = step(ctx)
            if section is not None:
                report = section.add_to(report)
        report_md.write_outputs(report, tmp)
    over = report.failed_checks()
    if over:
        raise OverBudget(f"{out / artifacts.REPORT_JSON}: over budget: {'; '.join(over)}")
    return report
