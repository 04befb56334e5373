"""`acdeploy report` and `acdeploy build`. No TensorFlow anywhere on this path."""

from __future__ import annotations

from pathlib import Path

import click

from acdeploy.cli import config_options, load

_BUDGET_HELP = ("Budget to check (repeatable): dcase2021, dcase2022, dcase2023, dcase2024, dcase2025, "
                "or a YAML file with max_params / max_nonzero_params / max_param_bytes / max_nonzero_bytes / "
                "max_macs / max_flash_bytes / max_ram_bytes.")


@click.command("report")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--target", default=None, help="Also check this target board's flash and RAM (e.g. cortex-m4); "
              "an Ethos-U target (ethos-u55-128, ethos-u65-256, ...) adds Arm Vela's NPU estimates.")
@click.option("--budget", "budgets", multiple=True, metavar="NAME|FILE", help=_BUDGET_HELP)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report as JSON to this file.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write report.md, report.json and the per-layer chart into this directory.")
@click.option("--format", "fmt", type=click.Choice(["table", "dcase"]), default="table", show_default=True,
              help="Terminal output: the layer table, or the complexity block of a DCASE Task 1 submission YAML.")
@config_options
def report_cmd(model, target, budgets, json_path, out_dir, fmt, config_path, sets):
    """Parameters, non-zero parameters, MACs (as Vela counts them), RAM and flash of an int8 .tflite,
    checked against budgets. Exit code 3 when a budget fails (files are still written)."""
    from acdeploy import fileio
    from acdeploy.deploy import ethos_step, report_md
    from acdeploy.deploy.budgets import resolve_budgets
    from acdeploy.deploy.build import load_model
    from acdeploy.deploy.report import analyze
    from acdeploy.deploy.targets import get_target
    from acdeploy.errors import OverBudget

    load(config_path, sets)  # a bad --config or --set fails here as on every command; no section of it changes a report
    tgt = get_target(target) if target else None
    if tgt is not None:
        ethos_step.check_target(tgt)
    chosen = resolve_budgets(list(budgets), tgt)
    data, graph, info = load_model(model)
    rep = analyze(graph, model, len(data), tgt, chosen, info)
    if tgt is not None and tgt.npu is not None:
        rep = ethos_step.ethos_result(data, graph, tgt, str(model))[0].add_to(rep)
    if out_dir is not None:
        with fileio.atomic_dir(out_dir) as tmp:
            report_md.write_outputs(rep, tmp)
    if json_path is not None:
        fileio.write_json(json_path, rep.to_dict())
    click.echo(report_md.dcase_block(rep) if fmt == "dcase" else report_md.terminal(rep))
    over = rep.failed_checks()
    if over:
        raise OverBudget(f"{model}: over budget: {'; '.join(over)}")


@click.command("build")
@click.option("--target", default="cortex-m", show_default=True,
              help="cortex-m (family default: M4 board), cortex-m0plus, cortex-m4, cortex-m7, cortex-m33, cortex-m55, host; "
                   "ethos-u55-128, ethos-u55-256, ethos-u65-256, ethos-u65-512 (Vela-compiled model and a "
                   "Corstone-300 project; build only).")
@click.option("--model", "model", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The int8 .tflite to deploy.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Build directory (default: build/<target>); replaced only when the build succeeds.")
@click.option("--budget", "budgets", multiple=True, metavar="NAME|FILE", help=_BUDGET_HELP)
@click.option("--run", "run", is_flag=True,
              help="Also cross-compile the firmware (arm-none-eabi-gcc), run it in QEMU on the target's machine and "
                   "add its flash/RAM and instruction counts to the report (cortex-m0plus: build only).")
@click.option("--timeout", type=float, default=None, metavar="SECONDS",
              help="With --run: stop QEMU after this many seconds (default 120).")
@click.option("--data", "data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="DCASE-layout dataset: the firmware's test vectors are real clips from its evaluate split "
                   "(features as the model was trained with); default: random int8 inputs.")
@click.option("--vectors", "num_vectors", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Number of test vectors embedded in the firmware.")
@click.option("--weights", "weights", type=click.Choice(["auto", "dense", "sparse"]), default="auto", show_default=True,
              help="Weight storage per layer: auto = the cost model picks dense int8, int16 copies or sparse "
                   "(index-compressed non-zeros, zero-skipping kernels) for config deploy.objective "
                   "(speed|size|balanced); dense = never sparse; sparse = sparse wherever a kernel exists.")
@click.option("--frontend/--no-frontend", "frontend", default=None,
              help="Add the audio front end (PCM -> the model's int8 log-mel input, CMSIS-DSP FFT) to the firmware; "
                   "default: on when the model's model_info.json has its feature configuration.")
@click.option("--audio", "audio", is_flag=True,
              help="With --run: classify the WAV files given as arguments (mono 16-bit PCM at the model's sample "
                   "rate) through front end + network in the firmware; prints class and probabilities per clip.")
@click.argument("wavs", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@config_options
def build_cmd(target, model, out_dir, budgets, run, timeout, data, num_vectors, weights, frontend, audio, wavs,
              config_path, sets):
    """TFLM C array (model_data.c/.h), model_settings.h and the report for one target.
    Exit code 3 when the model is over the board's flash/RAM or a --budget (the build dir is kept)."""
    from acdeploy.deploy.build import BuildOptions, build
    from acdeploy.deploy.firmware_step import check_passed
    from acdeploy.deploy.report_md import firmware_markdown, terminal
    from acdeploy.deploy.weight_formats import sparse_warning
    from acdeploy.errors import OverBudget

    cfg = load(config_path, sets)
    out_dir = out_dir or Path("build") / target
    vectors = None
    if data is not None:
        from acdeploy.deploy.build import load_model
        from acdeploy.deploy.dataset_inputs import model_features, vector_inputs

        _, graph, info = load_model(model)
        vectors = vector_inputs(graph, model_features(model, data, cfg, info), info, num_vectors)
    if bool(audio) != bool(wavs):
        raise click.UsageError("--audio takes WAV files: build ... --run --audio a.wav [b.wav ...]")
    options = BuildOptions(run=run, timeout=timeout, num_vectors=num_vectors, vector_inputs=vectors, weights=weights,
                           objective=cfg.deploy.objective, frontend=frontend, audio=tuple(wavs))
    try:
        rep = build(model, target, out_dir, budgets, options=options)
    except OverBudget:
        click.echo(f"wrote {out_dir}", err=True)
        raise
    click.echo(terminal(rep))
    warning = sparse_warning(rep)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    if rep.ethos_u is not None:
        click.echo(f"{target}: {rep.ethos_u.note}")
    if rep.firmware is not None:
        click.echo(firmware_markdown(rep.firmware))
        if rep.firmware.ran:
            from acdeploy.deploy.build import load_model
            from acdeploy.deploy.frontend_step import audio_report

            _, graph, info = load_model(model)
            for line in audio_report(out_dir, rep.firmware.run_log, wavs, graph, info):
                click.echo(line)
        check_passed(rep, out_dir)
    click.echo(f"wrote {out_dir}", err=True)


COMMANDS = [report_cmd, build_cmd]
