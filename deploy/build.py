"""`acdeploy build`: a build directory for one target, made as a sequence of steps.

All steps write into a temp dir that replaces DIR only when every step succeeded, so a failure
leaves no partial output (an existing DIR stays as it was). Each step is a function of the
`BuildContext`; a later stage (C network, firmware) adds its step to `STEPS` before `write_report`,
and may add its own figures to `ctx.report` for the report files.

The budget verdict comes after the rename: over budget raises OverBudget (exit 3) with the
numbers, and the build dir is still there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from acdeploy.deploy import c_array, firmware_step, network_step, report_md
from acdeploy.deploy.budgets import Budget, resolve_budgets
from acdeploy.deploy.ir import Graph
from acdeploy.deploy.ops import check_supported, resolver_ops
from acdeploy.deploy.report import analyze, failed_checks
from acdeploy.deploy.targets import Target, get_target
from acdeploy.deploy.validate import load_graph

from acdeploy import fileio
from acdeploy.errors import ModelError, OverBudget


@dataclass
class BuildContext:
    model_path: Path
    model: bytes
    graph: Graph
    target: Target
    budgets: list[Budget]
    info: dict | None  # model_info.json of our pipeline, if beside the model
    out: Path  # the temp dir being filled (renamed to the final dir at the end)
    report: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)  # extra command-line options for later steps


def load_model(path: str | Path) -> tuple[bytes, Graph, dict | None]:
    """Bytes, IR and model_info of a deployable int8 model; ModelError names what is wrong."""
    from acdeploy.deploy.evaluate import model_info_for

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    data = path.read_bytes()
    graph = load_graph(data, name=str(path))
    check_supported(graph, str(path))
    try:
        info = model_info_for(path)
    except ValueError as e:
        raise ModelError(f"{path}: its model_info.json is not valid JSON ({e})") from None
    return data, graph, info


def write_c_array(ctx: BuildContext) -> None:
    name = c_array.c_name(ctx.model_path)
    fileio.write_text(ctx.out / "model_data.h", c_array.model_data_h(name, len(ctx.model)))
    fileio.write_text(ctx.out / "model_data.c", c_array.model_data_c(name, ctx.model))


def write_settings(ctx: BuildContext) -> None:
    fileio.write_text(ctx.out / "model_settings.h", c_array.model_settings_h(
        ctx.graph, c_array.c_name(ctx.model_path), resolver_ops(ctx.graph),
        ctx.report["totals"]["arena_bytes"], ctx.info))


def write_report(ctx: BuildContext) -> None:
    report_md.write_outputs(ctx.report, ctx.out)


Step = Callable[[BuildContext], None]
# The firmware project goes in every build dir; its --run step needs the generated network first.
STEPS: list[Step] = [write_c_array, write_settings, firmware_step.install_step, network_step.write_network,
                     firmware_step.run_step,
                     write_report, firmware_step.markdown_step]


def build(model_path: str | Path, target_name: str, out: str | Path, budget_names=(),
          steps: list[Step] | None = None, options: dict | None = None) -> dict:
    """Run every step into a temp dir, rename it to `out`, then check the budgets. Returns the report."""
    target = get_target(target_name)  # unknown target: fail before reading anything
    budgets = resolve_budgets(list(budget_names), target)
    model_path = Path(model_path)
    data, graph, info = load_model(model_path)
    out = Path(out)
    with fileio.atomic_dir(out) as tmp:
        ctx = BuildContext(model_path=model_path, model=data, graph=graph, target=target,
                           budgets=budgets, info=info, out=tmp, options=dict(options or {}))
        ctx.report = analyze(graph, model_path, len(data), target, budgets, info)
        for step in steps if steps is not None else STEPS:
            step(ctx)
    over = failed_checks(ctx.report)
    if over:
        raise OverBudget(f"{out / 'report.json'}: over budget: {'; '.join(over)}")
    return ctx.report
