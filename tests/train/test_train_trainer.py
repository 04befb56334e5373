"""The fit loop: resume after a finished shorter run and after an interrupt, schedules, the
validation split, the seeded input pipeline and the standardisation."""

import json

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import acdeploy  # noqa: F401
from acdeploy.errors import ModelError
from acdeploy.train.batches import Batches, Standardizer, identifiers, validation_split
from acdeploy.train.config import ModelConfig, TrainConfig
from acdeploy.train.models import build_model
from acdeploy.train.trainer import ValidationSet, fit, learning_rate

pytestmark = pytest.mark.slow  # trains models or runs QEMU: `make test-fast` leaves it out

N, C, SHAPE = 96, 3, (20, 8)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, C, N)
    x = (rng.normal(size=(N, *SHAPE)) + labels[:, None, None] + 2.0).astype(np.float32)
    ids = np.array([f"c-{i % 16}" for i in range(N)])
    tr, va = validation_split(labels, ids, 0.25, 0)
    std = Standardizer.fit(x, tr)
    batches = Batches(x, labels, np.array(["a"] * N), tr, C, 16, std, None, seed=3)
    return batches, ValidationSet(x, labels, va, std)


def _student():
    keras.utils.set_random_seed(0)
    # the baseline has few layers, so tf.function tracing (most of a tiny fit's time) stays short
    return build_model(ModelConfig(name="dcase2022_baseline", width=0.25, dropout=0.1), (*SHAPE, 1), C)


def _cfg(epochs, **kw):
    return TrainConfig(epochs=epochs, batch_size=16, verbose=False, schedule="constant", **kw)


def test_rerun_with_more_epochs_continues_without_redoing_finished_ones(data, tmp_path):
    batches, val = data
    work = tmp_path / "ckpt"
    first = fit(_student(), batches, val, _cfg(1), work)
    assert len(first.history) == 1 and first.resumed_from == 0
    student = _student()
    second = fit(student, batches, val, _cfg(2), work)
    assert second.resumed_from == 1 and [r["epoch"] for r in second.history] == [1, 2]
    assert second.history[0] == first.history[0]  # same row, wall time included: not redone
    state = json.loads((work / "state.json").read_text())
    assert state["epochs_done"] == 2 and (work / state["checkpoint"]).is_dir()
    assert len((work / "history.csv").read_text().splitlines()) == 3
    # a finished run is a no-op that returns the best weights
    again = fit(_student(), batches, val, _cfg(2), work)
    assert again.history == second.history and again.resumed_from == 2
    # a checkpoint of another architecture is refused with one line, not restored half-way
    other = build_model(ModelConfig(name="dcase2022_baseline", width=0.5), (*SHAPE, 1), C)
    with pytest.raises(ModelError, match="does not match the model"):
        fit(other, batches, val, _cfg(3), work)


def test_same_seed_same_machine_same_bytes(data, tmp_path):
    """The README's determinism promise on one machine and thread count: two fresh runs give
    bit-identical weights and history (wall times aside)."""
    batches, val = data
    runs = []
    for k in range(2):
        student = _student()
        res = fit(student, batches, val, _cfg(2), tmp_path / f"run{k}")
        runs.append(([w.tobytes() for w in student.get_weights()],
                     [{c: v for c, v in r.items() if c != "seconds"} for r in res.history]))
    assert runs[0] == runs[1]


class _Interrupt(keras.callbacks.Callback):
    """Ctrl-C in the middle of the second epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 1 and batch == 1:
            raise KeyboardInterrupt


def test_interrupt_mid_epoch_resumes_from_the_last_finished_epoch(data, tmp_path):
    batches, val = data
    work = tmp_path / "ckpt"
    with pytest.raises(KeyboardInterrupt):
        fit(_student(), batches, val, _cfg(3), work, callbacks=[_Interrupt()])
    state = json.loads((work / "state.json").read_text())
    assert state["epochs_done"] == 1
    student = _student()
    done = fit(student, batches, val, _cfg(3), work)
    assert done.resumed_from == 1 and [r["epoch"] for r in done.history] == [1, 2, 3]
    # the optimizer state came back with the weights: Adam's step counter covers all 3 epochs
    ckpt_opt = keras.optimizers.Adam()
    ckpt_opt.build(student.trainable_variables)
    tf.train.Checkpoint(student=student, optimizer=ckpt_opt).read(str(work / "epoch_0003" / "ckpt")).expect_partial()
    assert int(ckpt_opt.iterations.numpy()) == 3 * batches.steps


class _Sabotage(keras.callbacks.Callback):
    """From the second epoch on, scramble the output layer so validation cannot improve."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch >= 1:
            dense = self.model.student.get_layer("logits")
            kernel, bias = dense.get_weights()
            dense.set_weights([np.random.default_rng(epoch).normal(0, 50, kernel.shape), bias])


def test_early_stopping_stops_and_restores_the_best_epoch(data, tmp_path):
    from acdeploy.metrics import log_loss
    from acdeploy.train.evaluate_keras import predict_logits, softmax

    batches, val = data
    student = _student()
    res = fit(student, batches, val, _cfg(6, early_stopping=2), tmp_path / "w", callbacks=[_Sabotage()])
    assert res.stopped_early and len(res.history) == 3 and res.best_epoch == 1
    # the returned student carries the best epoch's weights, not the last ones
    prob = softmax(predict_logits(student, val.x, val.indices, val.standardizer))
    assert log_loss(val.labels[val.indices], prob) == pytest.approx(res.best_val_log_loss, rel=1e-5)


def test_learning_rate_schedules():
    cos = TrainConfig(epochs=5, learning_rate=1.0, schedule="cosine", min_lr_factor=0.1)
    assert [round(learning_rate(cos, e), 6) for e in (0, 2, 4)] == [1.0, 0.55, 0.1]
    step = TrainConfig(epochs=9, learning_rate=1.0, schedule="step", step_epochs=3, step_gamma=0.5)
    assert [learning_rate(step, e) for e in (0, 2, 3, 8)] == [1.0, 1.0, 0.5, 0.25]
    warm = TrainConfig(epochs=5, learning_rate=1.0, schedule="constant", warmup_epochs=3)
    assert [learning_rate(warm, e) for e in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]


def test_validation_split_keeps_locations_on_one_side():
    labels = np.repeat(np.arange(4), 30)
    names = [f"audio/s{c}-city{i % 3}-{c * 10 + i % 6}-{i}-a.wav" for c, i in zip(labels, range(120), strict=True)]
    ids = identifiers(names)
    assert ids[0] == "city0-0"
    tr, va = validation_split(labels, ids, 0.34, seed=5)
    assert set(ids[tr]).isdisjoint(ids[va]) and len(tr) + len(va) == 120
    assert sorted(set(labels[va])) == [0, 1, 2, 3]  # every class validated
    tr2, va2 = validation_split(labels, ids, 0.34, seed=5)
    assert np.array_equal(va, va2)


def test_batches_are_seeded_per_epoch_and_standardised(data):
    batches, _ = data
    e0 = list(batches.epoch(0))
    again = list(batches.epoch(0))
    e1 = list(batches.epoch(1))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(e0, again, strict=True))
    assert not np.array_equal(e0[0][0], e1[0][0])
    xs = np.concatenate([b[0] for b in e0])
    assert xs.shape == (len(batches.indices), *SHAPE, 1) and len(e0) == batches.steps
    assert sorted(np.concatenate([b[1] for b in e0]).argmax(1).tolist()) == sorted(batches.labels[batches.indices].tolist())
    raw = batches.x[batches.indices].astype(np.float64)
    assert batches.standardizer.mean == pytest.approx(raw.mean()) and batches.standardizer.std == pytest.approx(raw.std())
    assert abs(xs.mean()) < 1e-4 and xs.std() == pytest.approx(1.0, abs=1e-4)
