"""The fit loop: one Keras `fit` call per epoch over seeded batches, a checkpoint after every
epoch, best weights by validation log loss, early stopping, learning-rate schedules, resume.

Work files live in `work_dir` (the run's `checkpoints/`):
- `epoch_NNNN/`: a tf.train.Checkpoint of the student and optimizer (written as a whole dir);
- `best_epoch_NNNN.h5`: the student weights of the best epoch so far;
- `state.json`: the commit point, written last: epochs done, history, best epoch, early-stopping
  counter and the seed the next epoch's data and augmentation rng derive from.
A kill at any moment leaves the previous state.json pointing at complete files, so a rerun
continues after the last finished epoch and never redoes it.

`fit` takes any student keras model (also one wrapped by tfmot's prune_low_magnitude) and extra
Keras callbacks (e.g. tfmot's UpdatePruningStep, a mask-enforcing callback); callbacks see the
true epoch index because each call is `fit(initial_epoch=e, epochs=e + 1)`.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras

from acdeploy import artifacts, fileio
from acdeploy.errors import ModelError
from acdeploy.metrics import accuracy, log_loss
from acdeploy.train import distribute
from acdeploy.train.batches import Batches, Standardizer
from acdeploy.train.config import DistillConfig, TrainConfig
from acdeploy.train.distill import Distiller, Teacher
from acdeploy.train.evaluate_keras import predict_logits, softmax

STATE = artifacts.TRAIN_STATE
HISTORY_COLUMNS = ("epoch", "lr", "loss", "ce", "kl", "acc", "val_log_loss", "val_acc", "seconds")


@dataclass
class ValidationSet:
    x: object
    labels: np.ndarray
    indices: np.ndarray
    standardizer: Standardizer


@dataclass
class FitResult:
    history: list[dict]
    best_epoch: int
    best_val_log_loss: float
    stopped_early: bool
    resumed_from: int = 0
    extra: dict = field(default_factory=dict)


def learning_rate(cfg: TrainConfig, epoch: int) -> float:
    """The rate for 0-based `epoch`: optional linear warm-up, then constant, cosine or step."""
    if epoch < cfg.warmup_epochs:
        return cfg.learning_rate * (epoch + 1) / (cfg.warmup_epochs + 1)
    e = epoch - cfg.warmup_epochs
    if cfg.schedule == "cosine":
        span = max(cfg.epochs - cfg.warmup_epochs - 1, 1)
        lo = cfg.learning_rate * cfg.min_lr_factor
        return lo + 0.5 * (cfg.learning_rate - lo) * (1 + math.cos(math.pi * min(e / span, 1.0)))
    if cfg.schedule == "step":
        return cfg.learning_rate * cfg.step_gamma ** (e // cfg.step_epochs)
    return cfg.learning_rate


def make_optimizer(cfg: TrainConfig):
    if cfg.weight_decay > 0:
        return keras.optimizers.AdamW(cfg.learning_rate, weight_decay=cfg.weight_decay)
    return keras.optimizers.Adam(cfg.learning_rate)


class _Progress(keras.callbacks.Callback):
    """A tqdm bar over the batches of one epoch, on stderr."""

    def __init__(self, steps: int, epochs: int):
        super().__init__()
        self.steps, self.epochs, self.bar = steps, epochs, None

    def on_epoch_begin(self, epoch, logs=None):
        from tqdm import tqdm

        self.bar = tqdm(total=self.steps, desc=f"epoch {epoch + 1}/{self.epochs}", file=sys.stderr,
                        leave=False, dynamic_ncols=True)

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1)
        if logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{float(logs['loss']):.3f}", refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        self.bar.close()


def _read_state(work_dir: Path) -> dict | None:
    p = work_dir / STATE
    return json.loads(p.read_text()) if p.exists() else None


def _cleanup(work_dir: Path, keep: set[str]) -> None:
    """Remove checkpoints and best-weight files the committed state no longer points to."""
    for p in work_dir.iterdir():
        if p.name != STATE and p.name not in keep and (p.name.startswith(("epoch_", "best_epoch_", ".epoch_", ".best_epoch_"))):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def history_csv(history: list[dict]) -> str:
    lines = [",".join(HISTORY_COLUMNS)]
    for row in history:
        lines.append(",".join(_fmt(row.get(k, "")) for k in HISTORY_COLUMNS))
    return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def set_determinism(enabled: bool) -> None:
    """TensorFlow's op determinism (README, "Determinism"): with the same seed, machine and thread
    count a run gives the same bytes. It lasts for the process: once on, it cannot be turned off."""
    if enabled:
        tf.config.experimental.enable_op_determinism()


def fit(
    student,
    train: Batches,
    val: ValidationSet,
    cfg: TrainConfig,
    work_dir: str | Path,
    teachers: Sequence[Teacher] = (),
    distill: DistillConfig | None = None,
    callbacks: Sequence = (),
    strategy=None,
    optimizer=None,
) -> FitResult:
    """Train `student` (logits) for cfg.epochs with KD from `teachers` (none = labels only).

    Resumes from `work_dir/state.json`; returns with the best epoch's weights loaded into `student`.
    Build `student` and the teachers inside `strategy.scope()` when a strategy is given. Under
    multi-worker training every worker runs this; only the chief writes `work_dir`, the others
    write a scratch copy, and all resume from the chief's state.json (train/distribute.py).
    """
    work_dir = Path(work_dir)
    strategy = strategy or tf.distribute.get_strategy()
    write_dir = distribute.write_path(work_dir, strategy)
    write_dir.mkdir(parents=True, exist_ok=True)
    set_determinism(cfg.deterministic)
    distill = distill or DistillConfig()
    with strategy.scope():
        optimizer = optimizer or make_optimizer(cfg)
        model = Distiller(student, teachers, alpha=distill.alpha, temperature=distill.temperature)
        model.compile(optimizer=optimizer)
        ckpt = tf.train.Checkpoint(student=student, optimizer=optimizer)

    state = _read_state(work_dir)
    if state is None:
        keras.utils.set_random_seed(cfg.seed)
        state = {"epochs_done": 0, "history": [], "best_epoch": 0, "best_val_log_loss": None,
                 "best_weights": None, "checkpoint": None, "wait": 0, "stopped_early": False, "seed": cfg.seed}
        if distribute.num_workers(strategy) > 1:
            state["workers"] = distribute.num_workers(strategy)  # global batch = train.batch_size, split among them
    else:
        with strategy.scope():
            optimizer.build(student.trainable_variables)
        try:
            ckpt.read(str(work_dir / state["checkpoint"] / "ckpt")).assert_existing_objects_matched().expect_partial()
        except (AssertionError, ValueError, tf.errors.OpError) as e:
            raise ModelError(f"{work_dir / state['checkpoint']}: checkpoint does not match the model being trained "
                             f"({type(e).__name__}); delete the run dir to start over") from None
    resumed_from = state["epochs_done"]
    progress = [_Progress(train.steps, cfg.epochs)] if cfg.verbose else []

    while state["epochs_done"] < cfg.epochs and not state["stopped_early"]:
        epoch = state["epochs_done"]
        lr = learning_rate(cfg, epoch)
        optimizer.learning_rate = lr
        # Reseed TF per epoch so a resumed run draws its dropout from the same seed the
        # uninterrupted run used for this epoch (data order and augmentation are exact; TF
        # randomness is as reproducible as TF makes it on the device).
        tf.random.set_seed(cfg.seed * 100_003 + epoch)
        t0 = _now()
        h = model.fit(train.dataset(epoch), initial_epoch=epoch, epochs=epoch + 1, steps_per_epoch=train.steps,
                      verbose=0, callbacks=[*progress, *callbacks])
        logs = {k: float(v[-1]) for k, v in h.history.items()}
        with strategy.scope():  # cross-replica context: TF-MOT's wrappers then update masks plainly
            prob = softmax(predict_logits(student, val.x, val.indices, val.standardizer))
        y = val.labels[val.indices]
        # Best epoch and early stopping follow these numbers: every worker takes the chief's.
        val_log_loss, val_acc = (float(v) for v in distribute.chief_values([log_loss(y, prob), accuracy(y, prob)], strategy))
        row = {"epoch": epoch + 1, "lr": float(lr), "loss": logs.get("loss"), "ce": logs.get("ce"),
               "kl": logs.get("kl"), "acc": logs.get("acc"), "val_log_loss": val_log_loss,
               "val_acc": val_acc, "seconds": round(_now() - t0, 2)}
        _commit_epoch(write_dir, state, row, student, ckpt, cfg)
        distribute.barrier(strategy)  # the chief's commit is complete before any worker reads it
        if cfg.verbose:
            print(f"epoch {row['epoch']}/{cfg.epochs}  loss {row['loss']:.4f}  acc {row['acc']:.3f}  "
                  f"val_log_loss {row['val_log_loss']:.4f}  val_acc {row['val_acc']:.3f}  lr {lr:.2e}  "
                  f"({row['seconds']:.1f} s){'  *' if state['best_epoch'] == row['epoch'] else ''}",
                  file=sys.stderr)

    student.load_weights(str(work_dir / state["best_weights"]))
    return FitResult(history=state["history"], best_epoch=state["best_epoch"],
                     best_val_log_loss=state["best_val_log_loss"], stopped_early=state["stopped_early"],
                     resumed_from=resumed_from)


def _commit_epoch(work_dir: Path, state: dict, row: dict, student, ckpt, cfg: TrainConfig) -> None:
    """Write this epoch's checkpoint (and best weights), then state.json as the commit point."""
    epoch = row["epoch"]
    new = dict(state, history=[*state["history"], row], epochs_done=epoch)
    best = state["best_val_log_loss"]
    if best is None or not row["val_log_loss"] >= best:  # NaN never counts as better
        name = f"best_epoch_{epoch:04d}.h5"
        with fileio.atomic_path(work_dir / name) as tmp:
            student.save_weights(str(tmp))
        new.update(best_epoch=epoch, best_val_log_loss=row["val_log_loss"], best_weights=name, wait=0)
    else:
        new["wait"] = state["wait"] + 1
        if cfg.early_stopping and new["wait"] >= cfg.early_stopping:
            new["stopped_early"] = True
    ckpt_name = f"epoch_{epoch:04d}"
    with fileio.atomic_dir(work_dir / ckpt_name) as tmp:
        ckpt.write(str(tmp / "ckpt"))
    new["checkpoint"] = ckpt_name
    new["next_rng"] = {"numpy": f"default_rng([{cfg.seed}, {epoch}])", "tf_seed": cfg.seed * 100_003 + epoch}
    fileio.write_json(work_dir / STATE, new)
    fileio.write_text(work_dir / artifacts.HISTORY_CSV, history_csv(new["history"]))
    state.clear()
    state.update(new)
    _cleanup(work_dir, {ckpt_name, new["best_weights"], artifacts.HISTORY_CSV})


def _now() -> float:
    import time

    return time.monotonic()
