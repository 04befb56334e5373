"""A training session: the data, split, standardiser, spectrum-correction profiles and teachers of
one training set-up, ready to build and fit models.

`acdeploy train` (train/run.py) fits one model in a session; the lottery-ticket run
(compress/lth.py) fits every level and control branch in one, so both see the same splits,
standardisation, augmentation and teachers. `open` and the constructor do the cheap checks
(no TensorFlow); `prepare` imports TensorFlow and loads the teachers.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from acdeploy.errors import ConfigError, DataError, ModelError
from acdeploy.train import modeldir as md


def open_data(cfg, data_dir: str | None):
    """(data_dir, train features, evaluate features), extracting the features on first use."""
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


def check_teachers(dirs: list[str], classes: list[str], input_shape: tuple) -> list[dict]:
    """Each teacher dir's model info; refuses a teacher trained on other classes or another input shape."""
    infos = []
    for d in dirs:
        info = md.read_info(d)
        if info.classes != list(classes):
            raise ModelError(f"{d}: teacher classes {info.classes} differ from the dataset's {list(classes)}")
        if tuple(info.input_shape) != tuple(input_shape):
            raise ModelError(f"{d}: teacher input shape {tuple(info.input_shape)} differs from the features' {tuple(input_shape)}")
        infos.append(info)
    return infos


class TrainingSession:
    """The training set-up shared by every model fitted on one config, dataset and teacher set."""

    def __init__(self, cfg, train_fs, eval_fs, data_dir, teacher_dirs=()):
        from acdeploy.train.batches import training_split

        self.cfg, self.train_fs, self.eval_fs, self.data_dir = cfg, train_fs, eval_fs, data_dir
        self.teacher_dirs = list(teacher_dirs)
        self.input_shape = (int(train_fs.x.shape[1]), int(train_fs.x.shape[2]), 1)
        self.classes = list(train_fs.classes)
        self.teacher_infos = check_teachers(self.teacher_dirs, self.classes, self.input_shape)
        self.train_idx, self.val_idx = training_split(train_fs, cfg.train.val_fraction, cfg.train.seed)
        self.profiles = None
        if cfg.augment.spectrum_correction:
            from acdeploy.data.spectrum_correction import training_profiles

            self.profiles = training_profiles(train_fs, self.train_idx, cfg.augment.reference_device, data_dir)
        self.strategy = self.std = self.batches = self.val = None
        self.teachers: list = []

    @classmethod
    def open(cls, cfg, data_dir: str | None, teacher_dirs=()) -> TrainingSession:
        """A session on the dataset `data_dir` (default data.path), its features extracted on first use."""
        data_dir, train_fs, eval_fs = open_data(cfg, data_dir)
        return cls(cfg, train_fs, eval_fs, data_dir, teacher_dirs)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_train(self) -> int:
        return len(self.train_idx)

    @property
    def n_val(self) -> int:
        return len(self.val_idx)

    def prepare(self, strategy=None) -> TrainingSession:
        """Standardiser, seeded batches, validation set and teachers (imports TensorFlow).
        Models are built and the teachers loaded inside `strategy.scope()` (default: TF's default)."""
        import tensorflow as tf

        from acdeploy.train.batches import Batches, Standardizer
        from acdeploy.train.distill import Teacher
        from acdeploy.train.trainer import ValidationSet, set_determinism

        cfg, fs = self.cfg, self.train_fs
        set_determinism(cfg.train.deterministic)
        self.strategy = strategy or tf.distribute.get_strategy()
        self.std = Standardizer.fit(fs.x, self.train_idx)
        self.batches = Batches(fs.x, fs.labels, fs.devices, self.train_idx, self.n_classes, cfg.train.batch_size,
                               self.std, cfg.augment, seed=cfg.train.seed, profiles=self.profiles)
        self.val = ValidationSet(fs.x, fs.labels, self.val_idx, self.std)
        with self.strategy.scope():
            models = [md.load_logits_model(d) for d in self.teacher_dirs]
        self.teachers = [
            Teacher.for_student(m, i.standardisation(), (self.std.mean, self.std.std), name=d)
            for m, i, d in zip(models, self.teacher_infos, self.teacher_dirs, strict=True)]
        return self

    def build(self, model_cfg, seed: int):
        """A fresh model of the registry (`model_cfg`: the student or teacher section), seeded."""
        import tf_keras as keras

        from acdeploy.train.models import build_model

        keras.utils.set_random_seed(seed)
        with self.strategy.scope():
            return build_model(model_cfg, self.input_shape, self.n_classes)

    def fit(self, model, work_dir: str | Path, epochs: int | None = None, callbacks=()):
        """Train `model` with the session's batches and teachers (KD per the distill section);
        checkpoints in `work_dir`, so a rerun resumes. Returns the trainer's FitResult."""
        from acdeploy.train.trainer import fit

        train_cfg = self.cfg.train if epochs is None else dataclasses.replace(self.cfg.train, epochs=epochs)
        return fit(model, self.batches, self.val, train_cfg, work_dir, teachers=self.teachers,
                   distill=self.cfg.distill, callbacks=callbacks, strategy=self.strategy)

    def evaluate(self, model) -> dict:
        """DCASE metrics of `model` on the evaluate split, standardised as in training."""
        from acdeploy.train.evaluate_keras import evaluate_model

        metrics, _ = evaluate_model(model, self.eval_fs, self.std)
        return metrics
