"""`acdeploy pipeline`: the command (the orchestration lives in acdeploy/pipeline.py)."""

from __future__ import annotations

from pathlib import Path

import click

from acdeploy.cli import config_options, load


@click.command("pipeline")
@config_options
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Run directory; rerunning the same command resumes it.")
@click.option("--force", is_flag=True, help="Reuse a run directory made from another config.")
@click.option("--until", type=click.Choice(["data", "features", "teacher", "student", "lth", "quantize", "eval", "build", "report"]),
              default=None, help="Stop after this stage.")
def pipeline(config_path, sets, out, force, until):
    """Run every stage in order from one config: data, features, teacher, KD student,
    lottery-ticket levels, int8 quantization, host evaluation, build (+ QEMU run), report.

    Each finished stage is recorded in OUT/pipeline.json and skipped on rerun; changing a stage's
    config reruns it and the stages after it; a killed run resumes where it stopped.
    """
    from acdeploy.pipeline import run_pipeline

    cfg = load(config_path, sets)
    return run_pipeline(out, config_path, sets, cfg, force=force, until=until)


COMMANDS = [pipeline]
