"""Knowledge distillation: the KD loss and a Keras model that trains any student against teachers.

loss = (1 - a) * CE(y, s) + a * T^2 * KL(softmax(t / T) || softmax(s / T))

with y the (possibly soft, after mixup) labels, s the student logits, t the teachers' mean logits
on the SAME batch the student sees, KL summed over classes and averaged over the batch (the
Hinton convention; CP-JKU's `.mean()` over classes divides it by the class count again).
With no teachers the loss is plain cross-entropy, so teacher training and `--no-kd` use the same
code path.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tf_keras as keras


def kd_loss(y_soft, student_logits, teacher_logits, alpha: float, temperature: float):
    """Per-batch mean KD loss and its two parts (ce, kl) as scalars."""
    ce = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(y_soft, student_logits))
    if teacher_logits is None:
        return ce, ce, tf.zeros_like(ce)
    t = tf.nn.softmax(teacher_logits / temperature)
    log_t = tf.nn.log_softmax(teacher_logits / temperature)
    log_s = tf.nn.log_softmax(student_logits / temperature)
    kl = tf.reduce_mean(tf.reduce_sum(t * (log_t - log_s), axis=-1))
    loss = (1.0 - alpha) * ce + alpha * temperature**2 * kl
    return loss, ce, kl


class Teacher:
    """A frozen logits model plus the affine map from the student's standardised input to its own."""

    def __init__(self, model, scale: float = 1.0, shift: float = 0.0, name: str = "teacher"):
        model.trainable = False
        self.model, self.scale, self.shift, self.name = model, float(scale), float(shift), name

    @classmethod
    def for_student(cls, model, teacher_std: tuple[float, float], student_std: tuple[float, float], name="teacher"):
        """x_teacher = (x_student * std_s + mean_s - mean_t) / std_t."""
        (mt, st), (ms, ss) = teacher_std, student_std
        return cls(model, scale=ss / st, shift=(ms - mt) / st, name=name)


class Distiller(keras.Model):
    """Wraps a student keras model (plain or TF-MOT pruning-wrapped) and trains it with `kd_loss`.

    `fit` / `evaluate` take batches (x, y_soft); teacher logits are computed inside the step on the
    very batch the student gets, so augmentation (mixup included) is shared by construction.
    """

    def __init__(self, student, teachers: Sequence[Teacher] = (), alpha: float = 0.98,
                 temperature: float = 2.0, **kw):
        super().__init__(name="distiller", **kw)
        self.student = student
        self.teachers = list(teachers)
        # Teacher models are tracked as layers (so callbacks that walk `model.layers` still find
        # the student's pruning wrappers first) but never trained.
        self.teacher_models = [t.model for t in self.teachers]
        self.alpha = float(alpha)
        self.temperature = float(temperature)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.ce_tracker = keras.metrics.Mean(name="ce")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.acc = keras.metrics.CategoricalAccuracy(name="acc")

    @property
    def metrics(self):
        return [self.loss_tracker, self.ce_tracker, self.kl_tracker, self.acc]

    def call(self, x, training=False):
        return self.student(x, training=training)

    def teacher_logits(self, x):
        if not self.teachers:
            return None
        outs = [t.model(x * t.scale + t.shift, training=False) for t in self.teachers]
        return tf.add_n(outs) / float(len(outs))

    def _update(self, loss, ce, kl, y, s):
        self.loss_tracker.update_state(loss)
        self.ce_tracker.update_state(ce)
        self.kl_tracker.update_state(kl)
        self.acc.update_state(y, s)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, y = data
        t = self.teacher_logits(x)
        with tf.GradientTape() as tape:
            s = self.student(x, training=True)
            loss, ce, kl = kd_loss(y, s, t, self.alpha, self.temperature)
            total = loss + tf.add_n(self.student.losses) if self.student.losses else loss
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            if replicas > 1:  # gradients are summed over replicas: each contributes its share of the global mean
                total = total / replicas
        variables = self.student.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(total, variables), variables, strict=True))
        return self._update(loss, ce, kl, y, s)

    def test_step(self, data):
        x, y = data
        s = self.student(x, training=False)
        loss, ce, kl = kd_loss(y, s, self.teacher_logits(x), self.alpha, self.temperature)
        return self._update(loss, ce, kl, y, s)
