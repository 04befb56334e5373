"""`acdeploy compress lth|quantize`: the compression stage's commands (no TensorFlow at import)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from acdeploy import artifacts
from acdeploy.cli import config_options, load
from acdeploy.compress.branches import BRANCHES
from acdeploy.train.train_cli import cluster_options, cluster_overrides


@click.group("compress")
def compress_group() -> None:
    """Lottery-ticket pruning (levels, controls) and full-integer int8 export."""


def _teacher_list(teachers: str | None) -> list[str] | None:
    return [t for t in teachers.split(",") if t] if teachers else None


def _dataset_of(model_dir: Path) -> str | None:
    """The dataset a model dir was trained on (model_info.json), the default for --data."""
    from acdeploy.errors import ModelError
    from acdeploy.model_info import ModelInfo

    try:
        return ModelInfo.read(model_dir / artifacts.MODEL_INFO).dataset or None
    except ModelError:
        return None


@compress_group.command("lth")
@click.option("--model", "model_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Finished dense student dir (from `acdeploy train student`); its config.yaml is the base config.")
@click.option("--teacher", "teachers", default=None, metavar="DIR[,DIR...]",
              help="Teacher dir(s) for KD during retraining (default: the student's own teachers).")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="DCASE-layout dataset dir (default: the one the student was trained on).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Run dir (rerun the command to resume it).")
@click.option("--control", "controls", multiple=True, type=click.Choice(list(BRANCHES)),
              help="Control branch (repeatable): " + "; ".join(f"{n}: {b.description()}" for n, b in BRANCHES.items()) + ".")
@click.option("--levels", type=int, default=None, help="Pruning levels (lth.levels); more than a finished run's continues it.")
@click.option("--prune-fraction", type=float, default=None, help="Fraction of surviving weights pruned per level (lth.prune_fraction).")
@click.option("--scope", type=click.Choice(["global", "layer"]), default=None, help="lth.scope")
@click.option("--schedule", type=click.Choice(["fixed", "polynomial", "constant"]), default=None, help="lth.schedule")
@click.option("--epochs", type=int, default=None, help="Epochs per level (lth.epochs).")
@cluster_options
@config_options
def lth_cmd(model_dir, teachers, data, out, controls, levels, prune_fraction, scope, schedule, epochs, cluster, task,
            config_path, sets):
    """Iterative magnitude pruning with rewinding and KD retraining, one saved level at a time."""
    from acdeploy.errors import ModelError

    base = config_path
    if base is None:
        base = model_dir / artifacts.CONFIG_YAML
        if not base.is_file():
            raise ModelError(f"{model_dir}: no config.yaml; not a finished model dir of 'acdeploy train'")
    over = {"lth.levels": levels, "lth.prune_fraction": prune_fraction, "lth.scope": scope,
            "lth.schedule": schedule, "lth.epochs": epochs, "distill.teachers": _teacher_list(teachers),
            **cluster_overrides(cluster, task)}
    cfg = load(base, sets, **over)
    from acdeploy.compress.lth import format_summary, lth_run

    summary = lth_run(cfg, model_dir, str(data) if data else _dataset_of(model_dir), out, controls)
    click.echo(format_summary(summary))
    click.echo(f"{out}: {artifacts.LTH_SUMMARY}, {artifacts.LTH_PLOT}" + (f", ticket/ = {summary['ticket']}" if summary["ticket"] else ""))


@compress_group.command("quantize")
@click.option("--model", "model_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Model dir: a trained student, an LTH level or RUN/ticket.")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="DCASE-layout dataset dir (default: data.path, else the one the model was trained on).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The .tflite to write.")
@click.option("--mode", type=click.Choice(["ptq", "qat", "pqat"]), default=None, help="quantize.mode")
@click.option("--teacher", "teachers", default=None, metavar="DIR[,DIR...]", help="qat/pqat: KD teacher dir(s) for the fine-tune.")
@cluster_options
@config_options
def quantize_cmd(model_dir, data, out, mode, teachers, cluster, task, config_path, sets):
    """Full-integer int8 .tflite (int8 in/out, softmax output), zero check, float vs int8 metrics."""
    from acdeploy.errors import ConfigError, DataError, ModelError
    from acdeploy.train import modeldir as md

    base = config_path or (model_dir / md.CONFIG if (model_dir / md.CONFIG).is_file() else None)
    cfg = load(base, sets, **{"quantize.mode": mode}, **cluster_overrides(cluster, task))
    info = md.read_info(model_dir)
    if out.suffix != ".tflite":
        raise ConfigError(f"--out {out}: expected a .tflite file name")
    data_dir = str(data) if data else (cfg.data.path or _dataset_of(model_dir))
    if not data_dir:
        raise ConfigError("no dataset: give --data DATASET (or data.path in the config)")
    from acdeploy.data.config import trained_features
    from acdeploy.data.featstore import open_features
    from acdeploy.data.features import ensure_features

    feat = trained_features(info.feature_config, str(model_dir / md.INFO)) or cfg.features
    fs = open_features(ensure_features(data_dir, feat, seconds=cfg.data.seconds))
    train_fs, eval_fs = fs.subset("train"), fs.subset("evaluate")
    if len(train_fs.labels) == 0:
        raise DataError(f"{data_dir}: the train split is empty (no representative data)")
    teacher_objs = []
    tdirs = _teacher_list(teachers) or []
    if tdirs and cfg.quantize.mode == "ptq":
        raise ConfigError("--teacher: only used by --mode qat or pqat (ptq does not train)")
    from acdeploy.compress.quantize import format_report, quantize_model_dir
    from acdeploy.train import distribute
    from acdeploy.train.distill import Teacher

    strategy = distribute.make_strategy(cfg.train.strategy)  # before any TensorFlow op (multi-worker)
    for d in tdirs:
        tinfo = md.read_info(d)
        if tinfo.classes != info.classes:
            raise ModelError(f"{d}: teacher classes differ from the model's")
        with strategy.scope():
            teacher = md.load_logits_model(d)
        teacher_objs.append(Teacher.for_student(teacher, tinfo.standardisation(), info.standardisation(), name=d))
    report = quantize_model_dir(model_dir, train_fs, eval_fs, out, cfg.quantize, teacher_objs, cfg.distill, strategy)
    click.echo(format_report(report))
    if not report["zero_check"]["ok"]:
        click.echo(f"warning: {out}: some pruned weights are non-zero in the int8 model"
                   + (" (plain QAT does not preserve sparsity: use --mode pqat)" if cfg.quantize.mode == "qat" else ""),
                   err=True)
    print(f"{out}: written with {artifacts.quant_report(out).name} and {artifacts.sidecar_info(out).name}", file=sys.stderr)


COMMANDS = [compress_group]
