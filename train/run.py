"""One training run end to end: `acdeploy train teacher|student` (checks, fit, model dir).

Every check that can fail on user input (dataset, teachers, model name/width) runs before the
run dir is touched, so a bad invocation leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from acdeploy import artifacts, fileio
from acdeploy.config import dump_yaml, to_dict
from acdeploy.errors import ConfigError
from acdeploy.train import modeldir as md

# Keys that may change between a run and its resumption: more epochs continue a run.
_RESUMABLE_KEYS = {"train.epochs", "train.verbose", "train.strategy"}


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

        state = json.loads((out / md.WORK / artifacts.TRAIN_STATE).read_text())
        if state["stopped_early"] or state["epochs_done"] >= cfg.train.epochs:
            return "done"
    return "resume"


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

    from acdeploy.train.session import TrainingSession

    session = TrainingSession.open(cfg, data_dir, teacher_dirs)

    from acdeploy.train import distribute

    strategy = distribute.make_strategy(cfg.train.strategy)  # imports TensorFlow: after the cheap checks
    session.prepare(strategy)
    student = session.build(mcfg, cfg.train.seed)
    # Every worker has checked the run dir before the chief writes into it; the others write a
    # scratch copy (train/distribute.py).
    distribute.barrier(strategy)
    dest = distribute.write_path(out, strategy)

    # From here on the run dir exists and is marked unfinished until the last file is written.
    # (run config first: a kill between the two writes still leaves a dir a rerun recognises)
    fileio.write_text(dest / md.WORK / md.RUN_CONFIG, dump_yaml(cfg))
    fileio.write_text(dest / md.PARTIAL, "training run in progress; rerun the same command to resume\n")
    if session.profiles is not None:
        from acdeploy.data import spectrum_correction as sc

        ref = cfg.augment.reference_device
        pairs = {d: len(p) for d, p in sc.paired_rows(session.train_fs, ref, session.train_idx).items()}
        fileio.write_json(dest / md.PROFILES, sc.profiles_json(session.profiles, pairs, ref, session.data_dir))

    result = session.fit(student, out / md.WORK, callbacks=callbacks)
    finalize(dest, cfg, role, mcfg, student, session, result)
    distribute.barrier(strategy)  # no worker leaves while another still needs it
    distribute.remove_scratch(out, strategy)
    return out


def finalize(out: Path, cfg, role, mcfg, student, session, result) -> dict:
    """Write the model dir's result files (atomically), metrics.json last, then drop `.partial`."""
    from acdeploy.metrics import format_table
    from acdeploy.model_info import ModelInfo, Standardize
    from acdeploy.train.complexity import summary
    from acdeploy.train.evaluate_keras import plot_confusion, plot_curves
    from acdeploy.train.trainer import history_csv

    train_fs, std = session.train_fs, session.std
    metrics = session.evaluate(student)
    with fileio.atomic_path(out / md.MODEL) as tmp:
        student.save(str(tmp))
    sizes = summary(student)
    info = ModelInfo(
        role=role,
        classes=list(train_fs.classes),
        input_shape=[int(train_fs.x.shape[1]), int(train_fs.x.shape[2]), 1],
        standardize=Standardize(float(std.mean), float(std.std)),
        feature_config=dict(train_fs.feature_config),
        dataset=str(session.data_dir),
        extra={
            "outputs": "logits",
            "seen_devices": list(train_fs.seen_devices),
            "model": {"name": mcfg.name, "width": mcfg.width, "depth": mcfg.depth},
            **sizes,
            "n_train": session.n_train,
            "n_val": session.n_val,
            "best_epoch": result.best_epoch,
            "best_val_log_loss": result.best_val_log_loss,
            "distill": ({"teachers": cfg.distill.teachers, "alpha": cfg.distill.alpha, "temperature": cfg.distill.temperature}
                        if role == "student" and cfg.distill.enabled else None),
        })
    fileio.write_json(out / md.INFO, info.to_dict())
    fileio.write_text(out / md.CONFIG, dump_yaml(cfg))
    fileio.write_text(out / md.HISTORY, history_csv(result.history))
    plot_curves(result.history, out / md.CURVES)
    plot_confusion(metrics, out / md.CONFUSION)
    fileio.write_json(out / md.METRICS, metrics)
    (out / md.PARTIAL).unlink(missing_ok=True)
    print(format_table(metrics))
    print(f"{out}: {mcfg.name} ({sizes['params']} params, {sizes['macs'] / 1e6:.2f} M MACs), best epoch {result.best_epoch}")
    return metrics
