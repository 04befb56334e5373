"""One training run end to end: `acdeploy train teacher|student` (checks, fit, model dir).

Every check that can fail on user input (dataset, teachers, model name/width) runs before the
run dir is touched, so a bad invocation leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
from acdeploy.train import modeldir as md

from acdeploy import fileio
from acdeploy.config import dump_yaml, to_dict
from acdeploy.errors import ConfigError, DataError, ModelError

# Keys that may change between a run and its resumption: more epochs continue a run.
_RESUMABLE_KEYS = {"train.epochs", "train.verbose"}


def _config_diff(saved: dict, now: dict, role: str) -> list[str]:
    """Keys that decide this training run and differ; other stages' sections never block a resume.
    A key missing on one side counts as its default (a run saved before the key existed)."""
    from acdeploy.schema import changed_keys

    sections = ("features.", "augment.", f"{role}.", "train.") + (("distill.",) if role == "student" else ())
    return changed_keys(saved, now, lambda k: k.startswith(sections) and k not in _RESUMABLE_KEYS)


def _existing_run(out: Path, cfg, role: str) -> str:
    """'new', 'resume' or 'done' for the run dir `out`; ConfigError if it holds something else."""
    import yaml

    saved_path = out / md.WORK / md.RUN_CONFIG
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return "new"
    if not saved_path.is_file():
        raise ConfigError(f"{out}: exists and is not a training run of this tool; choose another --out")
    saved = yaml.safe_load(saved_path.read_text())
    diff = _config_diff(saved, to_dict(cfg), role)
    if diff:
        raise ConfigError(f"{out}: holds a run with another config ({', '.join(diff[:3])} differ); use another --out or delete it")
    if md.is_finished(out):
        import json

        state = json.loads((out / md.WORK / "state.json").read_text())
        if state["stopped_early"] or state["epochs_done"] >= cfg.train.epochs:
            return "done"
    return "resume"


def check_teachers(dirs: list[str], classes: list[str], input_shape: tuple) -> list[dict]:
    """Each teacher dir's model info; refuses a teacher trained on other classes or another input shape."""
    infos = []
    for d in dirs:
        info = md.read_info(d)
        if list(info["classes"]) != list(classes):
            raise ModelError(f"{d}: teacher classes {info['classes']} differ from the dataset's {list(classes)}")
        if tuple(info["input_shape"]) != tuple(input_shape):
            raise ModelError(f"{d}: teacher input shape {tuple(info['input_shape'])} differs from the features' {tuple(input_shape)}")
        infos.append(info)
    return infos


def open_data(cfg, data_dir: str | None):
    """(data_dir, train features, evaluate features), extracting the features on first use.
    Shared by training and compression, which must see the same splits."""
    from acdeploy.data.dataset import read_dataset
    from acdeploy.data.featstore import open_features
    from acdeploy.data.features import ensure_features

    data_dir = data_dir or cfg.data.path
    if not data_dir:
        raise ConfigError("no dataset: give --data DATASET (or data.path in the config)")
    classes = read_dataset(data_dir).classes  # cheap: refuse a one-class dataset before extracting
    if len(classes) < 2:
        raise DataError(f"{data_dir}: the dataset has {len(classes)} class ({', '.join(classes)}); a classifier needs at least 2")
    fs = open_features(ensure_features(data_dir, cfg.features, seconds=cfg.data.seconds))
    train, evaluate = fs.subset("train"), fs.subset("evaluate")
    for name, part in (("train", train), ("evaluate", evaluate)):
        if len(part.labels) == 0:
            raise DataError(f"{data_dir}: the fold1 {name} split is empty")
    if len(np.unique(train.labels)) < 2:
        raise DataError(f"{data_dir}: the train split holds only one class; a classifier needs at least 2")
    return data_dir, train, evaluate


def train_run(cfg, role: str, data_dir: str | None, out: str | Path, callbacks=()) -> Path:
    """Train a teacher or student into model dir `out`; returns `out`. Resumes or no-ops on rerun."""
    out = Path(out)
    mcfg = cfg.teacher if role == "teacher" else cfg.student
    kd = role == "student" and cfg.distill.enabled
    if kd and not cfg.distill.teachers:
        raise ConfigError("train student: knowledge distillation needs --teacher DIR[,DIR...] (or --no-kd)")
    teacher_dirs = [str(Path(t).resolve()) for t in cfg.distill.teachers] if kd else []
    cfg = dataclasses.replace(cfg, distill=dataclasses.replace(cfg.distill, teachers=teacher_dirs))

    status = _existing_run(out, cfg, role)
    if status == "done":
        print(f"{out}: already finished ({cfg.train.epochs} epochs); nothing to do", file=sys.stderr)
        return out

    data_dir, train_fs, eval_fs = open_data(cfg, data_dir)
    input_shape = (int(train_fs.x.shape[1]), int(train_fs.x.shape[2]), 1)
    teacher_infos = check_teachers(teacher_dirs, train_fs.classes, input_shape)
    from acdeploy.train.batches import training_split

    tr_idx, val_idx = training_split(train_fs, cfg.train.val_fraction, cfg.train.seed)
    profiles = None
    if cfg.augment.spectrum_correction:
        from acdeploy.data import spectrum_correction as sc

        profiles = sc.training_profiles(train_fs, tr_idx, cfg.augment.reference_device, data_dir)

    import tensorflow as tf  # noqa: F401  (after the cheap checks: TF import takes seconds)
    from acdeploy.train.batches import Batches, Standardizer
    from acdeploy.train.distill import Teacher
    from acdeploy.train.models import build_model
    from acdeploy.train.trainer import ValidationSet, fit, make_strategy

    strategy = make_strategy(cfg.train.strategy)
    import tf_keras as keras

    keras.utils.set_random_seed(cfg.train.seed)
    with strategy.scope():
        student = build_model(mcfg, input_shape, len(train_fs.classes))
        teachers_models = [md.load_logits_model(d) for d in teacher_dirs]

    # From here on the run dir exists and is marked unfinished until the last file is written.
    # (run config first: a kill between the two writes still leaves a dir a rerun recognises)
    fileio.write_text(out / md.WORK / md.RUN_CONFIG, dump_yaml(cfg))
    fileio.write_text(out / md.PARTIAL, "training run in progress; rerun the same command to resume\n")
    if profiles is not None:
        pairs = {d: len(p) for d, p in sc.paired_rows(train_fs, cfg.augment.reference_device, tr_idx).items()}
        fileio.write_json(out / md.PROFILES, sc.profiles_json(profiles, pairs, cfg.augment.reference_device, data_dir))

    std = Standardizer.fit(train_fs.x, tr_idx)
    batches = Batches(train_fs.x, train_fs.labels, train_fs.devices, tr_idx, len(train_fs.classes),
                      cfg.train.batch_size, std, cfg.augment, seed=cfg.train.seed, profiles=profiles)
    teachers = [Teacher.for_student(m, (i["standardize"]["mean"], i["standardize"]["std"]), (std.mean, std.std), name=d)
                for m, i, d in zip(teachers_models, teacher_infos, teacher_dirs, strict=True)]
    result = fit(student, batches, ValidationSet(train_fs.x, train_fs.labels, val_idx, std), cfg.train,
                 out / md.WORK, teachers=teachers, distill=cfg.distill, callbacks=callbacks, strategy=strategy)
    finalize(out, cfg, role, mcfg, student, std, train_fs, eval_fs, result, data_dir, len(tr_idx), len(val_idx))
    return out


def finalize(out: Path, cfg, role, mcfg, student, std, train_fs, eval_fs, result, data_dir, n_train, n_val) -> dict:
    """Write the model dir's result files (atomically), metrics.json last, then drop `.partial`."""
    from acdeploy.train.complexity import summary
    from acdeploy.train.evaluate_keras import evaluate_model, plot_confusion, plot_curves
    from acdeploy.train.trainer import history_csv

    from acdeploy.metrics import format_table

    metrics, _ = evaluate_model(student, eval_fs, std)
    with fileio.atomic_path(out / md.MODEL) as tmp:
        student.save(str(tmp))
    info = {
        "role": role,
        "classes": list(train_fs.classes),
        "input_shape": [int(train_fs.x.shape[1]), int(train_fs.x.shape[2]), 1],
        "outputs": "logits",
        "standardize": std.to_dict(),
        "feature_config": dict(train_fs.feature_config),
        "seen_devices": list(train_fs.seen_devices),
        "model": {"name": mcfg.name, "width": mcfg.width, "depth": mcfg.depth},
        **summary(student),
        "dataset": str(data_dir),
        "n_train": n_train,
        "n_val": n_val,
        "best_epoch": result.best_epoch,
        "best_val_log_loss": result.best_val_log_loss,
        "distill": ({"teachers": cfg.distill.teachers, "alpha": cfg.distill.alpha, "temperature": cfg.distill.temperature}
                    if role == "student" and cfg.distill.enabled else None),
    }
    fileio.write_json(out / md.INFO, info)
    fileio.write_text(out / md.CONFIG, dump_yaml(cfg))
    fileio.write_text(out / md.HISTORY, history_csv(result.history))
    plot_curves(result.history, out / md.CURVES)
    plot_confusion(metrics, out / md.CONFUSION)
    fileio.write_json(out / md.METRICS, metrics)
    (out / md.PARTIAL).unlink(missing_ok=True)
    print(format_table(metrics))
    print(f"{out}: {mcfg.name} ({info['params']} params, {info['macs'] / 1e6:.2f} M MACs), best epoch {result.best_epoch}")
    return metrics
