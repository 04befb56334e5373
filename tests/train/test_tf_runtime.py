"""Training under TensorFlow's oneDNN CPU kernels (on by default): oneDNN's backward-weights
kernel for strided 1x1 convolutions with few input channels writes past its workspace (oneDNN
issue 6035; TensorFlow 2.21 crashed training the tiny teacher on two threads at batches of 5, 7,
9 or 13, and other CPUs get wrong gradients instead). The registry's models avoid that kernel;
these tests hold them to it, on the real kernels, against TensorFlow's oneDNN-free ones."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from acdeploy.train.config import MODEL_NAMES, ModelConfig, TeacherModelConfig
from acdeploy.train.models import build_model

# Trains the tiny config's teacher (width 0.25: 12 input channels into its projection convs) on
# a batch of 5 with two threads for a few steps, then saves the gradients of one more batch.
GRADIENTS = """
import sys, numpy as np
import acdeploy
import tensorflow as tf
import tf_keras as keras
from acdeploy.train.config import TeacherModelConfig
from acdeploy.train.models import build_model
keras.utils.set_random_seed(0)
m = build_model(TeacherModelConfig(width=0.25, depth=1), (32, 51, 1), 10)
rng = np.random.default_rng(0)
x = rng.normal(size=(5, 32, 51, 1)).astype(np.float32)
y = rng.integers(0, 10, 5)
loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
with tf.GradientTape() as tape:
    value = loss(y, m(x, training=True))
grads = tape.gradient(value, m.trainable_variables)
np.savez(sys.argv[1], *[g.numpy() for g in grads])
m.compile(keras.optimizers.Adam(1e-3), loss)
for _ in range(10):
    m.train_on_batch(x, y)
"""


def _gradients(tmp_path, onednn: str) -> list[np.ndarray]:
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=onednn, TF_NUM_INTRAOP_THREADS="2", OMP_NUM_THREADS="2")
    out = tmp_path / f"grads_{onednn}.npz"
    r = subprocess.run([sys.executable, "-c", GRADIENTS, str(out)], capture_output=True, text=True,
                       timeout=300, env=env)
    assert r.returncode == 0, f"TF_ENABLE_ONEDNN_OPTS={onednn}: exit {r.returncode}: {r.stderr[-1500:]}"
    with np.load(out) as z:
        return [z[k] for k in z.files]


@pytest.mark.slow
def test_teacher_trains_on_odd_batches_with_onednn_and_its_gradients_are_right(tmp_path):
    with_onednn, reference = _gradients(tmp_path, "1"), _gradients(tmp_path, "0")
    assert len(with_onednn) == len(reference) > 10
    for a, b in zip(with_onednn, reference, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5 * max(1.0, float(np.abs(b).max())))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_no_registry_model_has_a_strided_1x1_convolution(name):
    cfg = (TeacherModelConfig if name == "teacher" else ModelConfig)(name=name, width=0.25, depth=2)
    model = build_model(cfg, (40, 51, 1), 10)
    strided = [layer.name for layer in model.layers
               if type(layer).__name__ == "Conv2D" and tuple(layer.kernel_size) == (1, 1) and tuple(layer.strides) != (1, 1)]
    assert strided == []
