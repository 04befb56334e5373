"""`acdeploy eval` engines (LiteRT, LiteRT reference kernels, TFLM runtime) against Keras, and
bad model files through the CLI."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import tf_keras as keras

from acdeploy.cli import main
from acdeploy.deploy import evaluate as ev

pytestmark = pytest.mark.slow  # trains models or runs QEMU: `make test-fast` leaves it out


def _data(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.normal(size=(n, 8, 8)) + 0.8 * y[:, None, None] + np.linspace(0, 1, 8)[None, :, None] * (y[:, None, None] % 2)
    return x.astype(np.float32), y


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import tensorflow as tf

    from acdeploy.compress.quantize import convert_int8
    from acdeploy.train.models import inference_model

    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    h = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inp, keras.layers.Dense(4)(h))
    x, y = _data(256, 0)
    model.compile(keras.optimizers.Adam(0.02), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[..., None], y, epochs=4, batch_size=32, verbose=0)
    d = tmp_path_factory.mktemp("eval")
    (d / "m.tflite").write_bytes(convert_int8(inference_model(model), x[:64, ..., None]))
    # The same network cut in two: the convolutional trunk (no FULLY_CONNECTED) and the head (one).
    trunk = keras.Model(inp, h)
    head_in = keras.Input((8,))
    head = keras.Model(head_in, model.layers[-1](head_in))
    (d / "trunk.tflite").write_bytes(convert_int8(trunk, x[:64, ..., None]))
    (d / "head.tflite").write_bytes(convert_int8(head, trunk.predict(x[:64, ..., None], verbose=0)))
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    (d / "float.tflite").write_bytes(conv.convert())
    xe, ye = _data(120, 1)
    keras_prob = tf.nn.softmax(model.predict(xe[..., None], verbose=0)).numpy()
    return d, xe, ye, keras_prob


@pytest.mark.parametrize("engine", ["litert", "litert-ref", "tflm"])
def test_engines_agree_with_keras(trained, engine):
    d, xe, ye, keras_prob = trained
    prob = ev.predict(ev.read_model(d / "m.tflite"), xe, engine)
    assert prob.shape == keras_prob.shape
    assert np.mean(prob.argmax(1) == keras_prob.argmax(1)) >= 0.95
    assert np.mean(np.abs(prob - keras_prob)) < 0.03
    assert np.allclose(prob.sum(1), 1.0, atol=1e-6)


def _int8_outputs(model: bytes, x: np.ndarray, engine: str) -> np.ndarray:
    """Raw int8 outputs of an engine: its dequantized floats mapped back through the output's
    scale and zero point (exact: both engines dequantize the same int8 values the same way)."""
    from ai_edge_litert.interpreter import Interpreter

    out = Interpreter(model_content=model).get_output_details()[0]
    scale, zp = out["quantization"]
    y = ev.ENGINES[engine](model, x) / scale + zp
    assert np.allclose(y, np.round(y), atol=1e-3)
    return np.round(y).astype(np.int32)


def test_tflm_and_litert_reference_kernels_agree_exactly_but_fully_connected(trained):
    """The documented difference and nothing more: LiteRT's BUILTIN_REF kernels equal TFLM bit for
    bit on the convolutional trunk, and differ by at most 1 LSB on the FULLY_CONNECTED head
    (LiteRT requantizes it in double)."""
    d, xe, *_ = trained
    trunk = (d / "trunk.tflite").read_bytes()
    a, b = _int8_outputs(trunk, xe, "tflm"), _int8_outputs(trunk, xe, "litert-ref")
    assert np.array_equal(a, b)
    head = (d / "head.tflite").read_bytes()
    pooled = np.random.default_rng(3).normal(1.0, 1.0, (400, 8)).astype(np.float32)
    a, b = _int8_outputs(head, pooled, "tflm"), _int8_outputs(head, pooled, "litert-ref")
    assert np.max(np.abs(a - b)) <= 1


def test_evaluate_metrics_on_a_featureset(trained):
    d, xe, ye, keras_prob = trained
    fs = SimpleNamespace(x=xe, labels=ye, devices=np.array(["a", "b", "s4"] * 40), classes=list("wxyz"),
                         seen_devices=["a", "b"], root=d)
    m = ev.evaluate(d / "m.tflite", fs, "tflm", info=None)
    assert abs(m["accuracy"] - np.mean(keras_prob.argmax(1) == ye)) <= 0.05
    assert set(m["per_device"]) == {"a", "b", "s4"} and m["unseen"]["n"] == 40


def test_bad_model_files(trained, tmp_path, capsys):
    d, *_ = trained
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer at all")
    assert main(["eval", str(junk), "--data", str(tmp_path)]) == 1
    assert "not a TFLite model" in capsys.readouterr().err
    assert main(["eval", str(d / "float.tflite"), "--data", str(tmp_path)]) == 1
    assert "not an int8 model" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "missing.tflite"), "--data", str(tmp_path)]) == 1
    assert main(["eval", str(d / "m.tflite"), "--data", str(tmp_path), "--engine", "gpu"]) == 1
    assert "unknown engine" in capsys.readouterr().err


def test_eval_path_never_imports_tensorflow(trained):
    import subprocess
    import sys

    d, *_ = trained
    code = (
        "import sys, numpy as np\n"
        "import acdeploy.cli, acdeploy.data.featstore, acdeploy.data.features\n"
        "from acdeploy.deploy import evaluate as ev\n"
        f"m = ev.read_model({str(d / 'm.tflite')!r})\n"
        "ev.check_int8(m, 'm')\n"
        "for e in ('litert', 'litert-ref', 'tflm'): ev.predict(m, np.zeros((2, 8, 8), np.float32), e)\n"
        "assert 'tensorflow' not in sys.modules and 'tf_keras' not in sys.modules, 'TensorFlow was imported'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
