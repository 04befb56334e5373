"""Tiny .tflite models for the deploy tests, made with the real TFLite converter.

`model_zoo(dir)` builds every model once into `dir` (skipping files that exist), so test modules
that share a session temp dir share the models. Also used by benchmarks/bench_report.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MODELS = ("mixed", "copies", "floatio", "mnv2", "dense", "tanh", "dilated", "float", "hybrid", "twosig")


def _quantize(model, shape, *, int8_io=True, seed=0) -> bytes:
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    def rep():
        for _ in range(16):
            yield [rng.uniform(-1, 1, (1, *shape)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_io:
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return conv.convert()


def mixed_model(shape=(16, 16, 3), classes=10, width=8, seed=0):
    """Every supported layer kind once: conv, depthwise, add, max/avg pool, pad, concat, mean, dense."""
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    L = keras.layers
    x_in = keras.Input(shape)
    x = L.Conv2D(width, 3, padding="same", activation="relu")(x_in)
    y = L.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    x = L.Add()([x, y])
    x = L.MaxPooling2D(2)(x)
    x = L.ZeroPadding2D(1)(x)
    x = L.Conv2D(width * 2, 3, strides=2, activation="relu")(x)
    z = L.AveragePooling2D(2, strides=1, padding="same")(x)
    x = L.Concatenate()([x, z])
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(classes)(x)
    x = L.Softmax()(x)
    model = keras.Model(x_in, x)
    # Sparsify the first conv so non-zero counts differ from dense counts.
    w, b = model.layers[1].get_weights()
    w[np.abs(w) < np.quantile(np.abs(w), 0.5)] = 0
    model.layers[1].set_weights([w, b])
    return model


def copies_model(seed=0):
    """PAD and CONCATENATION that Vela must copy (graph input) or can write in place, ADD, RESHAPE."""
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    L = keras.layers
    x_in = keras.Input((8, 8, 4))
    a = L.AveragePooling2D(2)(L.ZeroPadding2D(((1, 2), (0, 3)))(x_in))  # pads the graph input
    b = L.MaxPooling2D(2)(L.ZeroPadding2D(1)(L.Conv2D(4, 1)(x_in)))  # pads a single-use conv output
    y = L.Concatenate()([a, b])
    z = L.Concatenate()([x_in, L.Conv2D(4, 3, padding="same")(x_in)])  # concatenates the graph input
    z = L.Conv2D(8, 4, activation="relu")(z)
    x = L.Dense(3)(L.Flatten()(L.Add()([y, z])))
    return keras.Model(x_in, L.Softmax()(x))


def sized_model(params=128_000, shape=(40, 51, 1), classes=10, seed=0):
    """A plain int8 CNN with about `params` weights (for the report benchmark)."""
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    L = keras.layers
    x_in = keras.Input(shape)
    x = L.Conv2D(16, 3, padding="same", activation="relu")(x_in)
    x = L.MaxPooling2D(2)(x)
    x = L.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = L.MaxPooling2D(2)(x)
    x = L.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    done = 16 * 9 + 32 * 16 * 9 + 64 * 32 * 9 + 64 * classes
    hidden = max(1, (params - done) // (64 + classes))
    x = L.Dense(hidden, activation="relu")(x)
    x = L.Dense(classes)(x)
    return keras.Model(x_in, x)


def _build(name: str) -> bytes:
    import tensorflow as tf
    import tf_keras as keras

    L = keras.layers
    if name == "mixed":
        return _quantize(mixed_model(), (16, 16, 3))
    if name == "copies":
        return _quantize(copies_model(), (8, 8, 4))
    if name == "floatio":
        return _quantize(mixed_model(seed=1), (16, 16, 3), int8_io=False, seed=1)
    if name == "mnv2":
        # logits out: an untrained MobileNetV2's softmax input scale is below what TFLM accepts
        m = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), alpha=0.35, classes=10,
                                           classifier_activation=None)
        return _quantize(m, (32, 32, 3))
    if name == "dense":  # a wide fully connected layer: its Prepare, not the plan, sets TFLM's arena
        x_in = keras.Input((10,))
        return _quantize(keras.Model(x_in, L.Dense(200)(L.Dense(3)(x_in))), (10,))
    if name == "tanh":
        x_in = keras.Input((8, 8, 2))
        m = keras.Model(x_in, L.Dense(4)(L.Flatten()(L.Conv2D(4, 3, activation="tanh")(x_in))))
        return _quantize(m, (8, 8, 2))
    if name == "dilated":
        x_in = keras.Input((12, 12, 2))
        m = keras.Model(x_in, L.Conv2D(4, 3, dilation_rate=2, padding="same")(x_in))
        return _quantize(m, (12, 12, 2))
    if name == "float":
        x_in = keras.Input((8, 8, 2))
        m = keras.Model(x_in, L.Dense(4)(L.Flatten()(L.Conv2D(4, 3)(x_in))))
        return tf.lite.TFLiteConverter.from_keras_model(m).convert()
    if name == "hybrid":  # dynamic-range quantization: int8 weights, float activations
        x_in = keras.Input((8, 8, 2))
        m = keras.Model(x_in, L.Dense(4)(L.Flatten()(L.Conv2D(4, 3)(x_in))))
        conv = tf.lite.TFLiteConverter.from_keras_model(m)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        return conv.convert()
    if name == "twosig":
        class Two(tf.Module):
            def __init__(self):
                super().__init__()
                self.w = tf.Variable(tf.ones([4, 4]))

            @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
            def a(self, x):
                return {"y": tf.matmul(x, self.w)}

            @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
            def b(self, x):
                return {"y": tf.nn.relu(x) + 1.0}

        mod = Two()
        conv = tf.lite.TFLiteConverter.from_concrete_functions(
            [mod.a.get_concrete_function(), mod.b.get_concrete_function()], mod)
        return conv.convert()
    raise KeyError(name)


def model_zoo(directory: str | Path, names=MODELS) -> dict[str, Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in names:
        path = directory / f"{name}.tflite"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(_build(name))
            tmp.replace(path)
        out[name] = path
    return out


if __name__ == "__main__":
    import sys

    print(model_zoo(sys.argv[1]))
