"""KD loss against a numpy hand computation; the Distiller really passes teacher targets to the student."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import acdeploy  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from acdeploy.train.config import ModelConfig
from acdeploy.train.distill import Distiller, Teacher, kd_loss
from acdeploy.train.models import build_model

pytestmark = pytest.mark.slow  # trains models or runs QEMU: `make test-fast` leaves it out

S = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, -0.3], [-1.5, 3.0, 0.0]])
T_LOGITS = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, -1.0], [0.3, 0.3, 2.0]])
Y = np.array([[1.0, 0.0, 0.0], [0.3, 0.7, 0.0], [0.0, 0.0, 1.0]])  # a mixup row in the middle


def _np_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _np_kd(y, s, t, a, temp):
    ce = -np.sum(y * np.log(_np_softmax(s)), axis=1).mean()
    pt, ps = _np_softmax(t / temp), _np_softmax(s / temp)
    kl = np.sum(pt * (np.log(pt) - np.log(ps)), axis=1).mean()
    return (1 - a) * ce + a * temp**2 * kl, ce, kl


@pytest.mark.parametrize("a, temp", [(0.98, 2.0), (0.5, 1.0), (0.0, 3.0), (1.0, 4.0)])
def test_kd_loss_equals_hand_computation(a, temp):
    loss, ce, kl = kd_loss(tf.constant(Y), tf.constant(S), tf.constant(T_LOGITS), a, temp)
    ref = _np_kd(Y, S, T_LOGITS, a, temp)
    np.testing.assert_allclose([float(loss), float(ce), float(kl)], ref, rtol=1e-6)


def test_kd_loss_without_teacher_is_cross_entropy():
    loss, ce, kl = kd_loss(tf.constant(Y), tf.constant(S), None, 0.98, 2.0)
    ref = keras.losses.CategoricalCrossentropy(from_logits=True)(Y, S)
    assert float(loss) == pytest.approx(float(ref), rel=1e-6) and float(kl) == 0.0


def _grad(a, temp, teacher=T_LOGITS):
    s = tf.Variable(S)
    with tf.GradientTape() as tape:
        loss, _, _ = kd_loss(tf.constant(Y), s, None if teacher is None else tf.constant(teacher), a, temp)
    return tape.gradient(loss, s).numpy()


def test_alpha_and_temperature_change_the_gradient_and_alpha_zero_is_ce():
    g = _grad(0.98, 2.0)
    assert not np.allclose(g, _grad(0.5, 2.0))
    assert not np.allclose(g, _grad(0.98, 4.0))
    assert not np.allclose(g, _grad(0.98, 2.0, teacher=-T_LOGITS))
    np.testing.assert_allclose(_grad(0.0, 2.0), _grad(0.0, 2.0, teacher=None), atol=1e-12)
    # CE gradient w.r.t. logits is (softmax(s) - y) / batch: the independent reference
    np.testing.assert_allclose(_grad(0.0, 5.0), (_np_softmax(S) - Y) / len(S), atol=1e-12)
    # pure KD gradient is T * (softmax(s/T) - softmax(t/T)) / batch
    np.testing.assert_allclose(_grad(1.0, 2.0), 2.0 * (_np_softmax(S / 2) - _np_softmax(T_LOGITS / 2)) / len(S), atol=1e-12)


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(0)
    shape, n = (20, 8, 1), 3
    student = build_model(ModelConfig(name="dcase2022_baseline", width=0.25, dropout=0.0), shape, n)
    teacher = build_model(ModelConfig(name="dcase2022_baseline", width=0.5, dropout=0.0), shape, n)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, *shape)).astype(np.float32)
    y = np.eye(n, dtype=np.float32)[rng.integers(0, n, 8)]
    return student, teacher, x, y


def _step(student, teachers, a, temp, x, y):
    clone = keras.models.clone_model(student)
    clone.set_weights(student.get_weights())
    d = Distiller(clone, teachers, alpha=a, temperature=temp)
    d.compile(optimizer=keras.optimizers.SGD(0.1))
    d.train_on_batch(x, y)
    return clone.get_weights()


def test_distiller_student_receives_teacher_targets(tiny):
    student, teacher, x, y = tiny
    plain = _step(student, [], 0.98, 2.0, x, y)
    kd = _step(student, [Teacher(teacher)], 0.98, 2.0, x, y)
    other_t = _step(student, [Teacher(teacher, scale=-1.0)], 0.98, 2.0, x, y)
    a_zero = _step(student, [Teacher(teacher)], 0.0, 2.0, x, y)
    differs = lambda u, v: any(not np.allclose(p, q) for p, q in zip(u, v, strict=True))  # noqa: E731
    assert differs(plain, kd) and differs(kd, other_t)
    assert not differs(plain, a_zero)
    # the teacher itself is frozen
    before = [w.copy() for w in teacher.get_weights()]
    _step(student, [Teacher(teacher)], 0.98, 2.0, x, y)
    assert not differs(before, teacher.get_weights())


def test_ensemble_uses_mean_logits(tiny):
    student, teacher, x, _ = tiny
    d = Distiller(student, [Teacher(teacher), Teacher(teacher, scale=0.5, shift=1.0)])
    ref = (teacher(x).numpy() + teacher(x * 0.5 + 1.0).numpy()) / 2
    np.testing.assert_allclose(d.teacher_logits(tf.constant(x)).numpy(), ref, rtol=1e-5, atol=1e-6)


def test_teacher_affine_maps_student_inputs_to_teacher_standardisation():
    raw = np.array([-3.0, 0.0, 7.5])
    t = Teacher.for_student(keras.Sequential(), (2.0, 4.0), (-1.0, 0.5))
    student_in = (raw - -1.0) / 0.5
    np.testing.assert_allclose(student_in * t.scale + t.shift, (raw - 2.0) / 4.0)


def test_distiller_trains_a_pruning_wrapped_student(tiny):
    import tensorflow_model_optimization as tfmot
    student, teacher, x, y = tiny
    clone = keras.models.clone_model(student)
    pruned = tfmot.sparsity.keras.prune_low_magnitude(
        clone, pruning_schedule=tfmot.sparsity.keras.ConstantSparsity(0.5, begin_step=0, frequency=1))
    d = Distiller(pruned, [Teacher(teacher)])
    d.compile(optimizer=keras.optimizers.Adam(1e-3))
    d.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    kernel = [w for w in pruned.trainable_weights if "conv2" in w.name and "kernel" in w.name][0].numpy()
    assert 0.45 <= np.mean(kernel == 0) <= 0.55
