"""The TensorFlow set-up acdeploy imposes before TensorFlow loads (acdeploy/__init__.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

# A strided 1x1 convolution's filter gradient on a batch of 5 with 8 input channels: the shape of
# the residual teacher's projection convs that oneDNN's backward-weights kernel gets wrong
# (crash, hang or wrong values depending on the CPU). Compared with numpy here.
GRADIENT = """
import sys, numpy as np
import acdeploy
import tensorflow as tf
rng = np.random.default_rng(0)
x = rng.normal(size=(5, 16, 26, 8)).astype(np.float32)
f = tf.Variable(rng.normal(size=(1, 1, 8, 16)).astype(np.float32))
for _ in range(20):
    with tf.GradientTape() as t:
        y = tf.nn.conv2d(tf.constant(x), f, strides=2, padding="SAME")
        loss = tf.reduce_sum(y * y)
    g = t.gradient(loss, f).numpy()
np.save(sys.argv[1], g)
"""


def test_strided_1x1_conv_gradient_is_right_on_two_threads(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    env.update(TF_NUM_INTRAOP_THREADS="2", OMP_NUM_THREADS="2")
    out = tmp_path / "g.npy"
    r = subprocess.run([sys.executable, "-c", GRADIENT, str(out)], capture_output=True, text=True,
                       timeout=300, env=env)
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr[-1500:]}"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 16, 26, 8))
    f = rng.normal(size=(1, 1, 8, 16))
    xs = x[:, ::2, ::2, :]  # SAME padding, kernel 1, stride 2: the even positions
    y = np.einsum("bhwc,co->bhwo", xs, f[0, 0])
    want = np.einsum("bhwc,bhwo->co", xs, 2 * y)[None, None]
    np.testing.assert_allclose(np.load(out), want, rtol=1e-4, atol=1e-3)


def test_a_users_onednn_choice_is_kept():
    code = "import os, acdeploy; print(os.environ['TF_ENABLE_ONEDNN_OPTS'])"
    for env_value, want in ((None, "0"), ("1", "1")):
        env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
        if env_value is not None:
            env["TF_ENABLE_ONEDNN_OPTS"] = env_value
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
        assert r.stdout.strip() == want
