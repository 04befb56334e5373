"""`acdeploy train teacher|student`: the training stage's commands (no TensorFlow at import)."""

from __future__ import annotations

from pathlib import Path

import click

from acdeploy.cli import config_options, load


@click.group("train")
def train_group() -> None:
    """Train a teacher, or a student with knowledge distillation, into a model dir."""


def cluster_options(f):
    """`--cluster HOST:PORT,... --task I`: this process is worker I of a multi-worker run."""
    f = click.option("--task", type=int, default=None,
                     help="With --cluster: this process's index in it (0 is the chief, which writes the artifacts).")(f)
    f = click.option("--cluster", default=None, metavar="HOST:PORT,HOST:PORT",
                     help="Train on several machines (train.strategy=multi_worker; sets TF_CONFIG): every "
                          "worker runs the same command with its own --task. README: Training on several machines.")(f)
    return f


def cluster_overrides(cluster, task) -> dict:
    from acdeploy.train.distribute import cli_overrides

    return cli_overrides(cluster, task)


def _model_options(f):
    f = click.option("--seed", type=int, default=None, help="Seed (train.seed).")(f)
    f = click.option("--epochs", type=int, default=None, help="Epochs (train.epochs); more than a finished run's continues it.")(f)
    f = click.option("--depth", type=int, default=None, help="Blocks per stage of the model.")(f)
    f = click.option("--width", type=float, default=None, help="Channel multiplier of the model.")(f)
    f = click.option("--model", default=None, help="Registry model: dcase2022_baseline, teacher or student.")(f)
    f = click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
                     help="Model dir to write (rerun the command to resume it).")(f)
    f = click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="DCASE-layout dataset dir (default: data.path).")(f)
    return f


def _overrides(section: str, model, width, depth, epochs, seed) -> dict:
    return {f"{section}.name": model, f"{section}.width": width, f"{section}.depth": depth,
            "train.epochs": epochs, "train.seed": seed}


@train_group.command("teacher")
@_model_options
@cluster_options
@config_options
def teacher_cmd(data, out, model, width, depth, epochs, seed, cluster, task, config_path, sets):
    """Train the teacher (section `teacher`) on labels, with augmentation."""
    cfg = load(config_path, sets, **_overrides("teacher", model, width, depth, epochs, seed),
               **cluster_overrides(cluster, task))
    from acdeploy.train.run import train_run

    train_run(cfg, "teacher", str(data) if data else None, out)


@train_group.command("student")
@_model_options
@click.option("--teacher", "teachers", default=None, metavar="DIR[,DIR...]",
              help="Teacher model dir(s); several are an ensemble (mean logits).")
@click.option("--no-kd", is_flag=True, help="Train the same student on labels only.")
@cluster_options
@config_options
def student_cmd(data, out, model, width, depth, epochs, seed, teachers, no_kd, cluster, task, config_path, sets):
    """Train the student (section `student`) with KD from --teacher, or on labels with --no-kd."""
    over = _overrides("student", model, width, depth, epochs, seed) | cluster_overrides(cluster, task)
    if teachers:
        over["distill.teachers"] = [t for t in teachers.split(",") if t]
    if no_kd:
        over["distill.enabled"] = False
    cfg = load(config_path, sets, **over)
    from acdeploy.train.run import train_run

    train_run(cfg, "student", str(data) if data else None, out)


COMMANDS = [train_group]
