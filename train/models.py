"""Model registry: functional tf_keras CNNs that output logits and convert to int8 TFLite built-ins.

Every architecture keeps to layers whose int8 kernels the C runtime has (Conv2D, DepthwiseConv2D,
Dense, MaxPool/AveragePool, GlobalAveragePooling -> MEAN, Add, Flatten -> RESHAPE) in the order
Conv -> BatchNorm -> ReLU so the converter folds BatchNorm into the convolution and fuses the ReLU.
No dilation (the converter wraps dilated convolutions in SPACE_TO_BATCH_ND), no Normalization
layer (standardisation is a scalar applied in the data pipeline and saved in model_info.json).
The training model ends in logits; `inference_model` appends the Softmax for conversion.
"""

from __future__ import annotations

from collections.abc import Callable

from acdeploy.errors import ModelError
from acdeploy.train.config import ModelConfig


def _keras():
    import tf_keras

    return tf_keras


# PyTorch's BatchNorm momentum (0.1, i.e. Keras 0.9): the Keras default 0.99 leaves the moving
# statistics near their initial values after the few hundred steps of a small dataset, and the
# inference-mode model then collapses to near-constant logits.
BN_MOMENTUM = 0.9


def _bn(name: str):
    return _keras().layers.BatchNormalization(momentum=BN_MOMENTUM, name=name)


def _channels(base: int, width: float, model: str) -> int:
    c = int(round(base * width))
    if c < 1:
        raise ModelError(f"model '{model}': width {width} leaves {base} x {width} < 1 channel; use a larger width")
    return c


def _conv_bn_relu(x, filters, kernel, strides=1, relu=True, name=""):
    L = _keras().layers
    x = L.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}conv")(x)
    x = _bn(f"{name}bn")(x)
    return L.ReLU(name=f"{name}relu")(x) if relu else x


def dcase2022_baseline(input_shape, n_classes: int, cfg: ModelConfig):
    """The DCASE 2022 Task 1 baseline CNN (46,246 Keras parameters, ~29 M MACs on 40x51x1)."""
    L = _keras().layers
    h, w, _ = input_shape
    if h < 20 or w < 5:
        raise ModelError(f"model 'dcase2022_baseline': input {h}x{w} is too small (needs >= 20 mel bands and >= 5 frames for its 5x5 and 4xN pools)")
    c1, c2 = _channels(16, cfg.width, cfg.name), _channels(32, cfg.width, cfg.name)
    inp = L.Input(shape=input_shape, name="logmel")
    x = L.Conv2D(c1, 7, padding="same", name="conv1")(inp)
    x = L.ReLU(name="relu1")(_bn("bn1")(x))
    x = L.Conv2D(c1, 7, padding="same", name="conv2")(x)
    x = L.ReLU(name="relu2")(_bn("bn2")(x))
    x = L.MaxPooling2D((5, 5), name="pool1")(x)
    x = L.Dropout(cfg.dropout, name="drop1")(x)
    x = L.Conv2D(c2, 7, padding="same", name="conv3")(x)
    x = L.ReLU(name="relu3")(_bn("bn3")(x))
    # (4, 10) on 40x51 leaves a 2x1 map, as the baseline; clamp for shorter inputs.
    x = L.MaxPooling2D((4, min(10, w // 5)), name="pool2")(x)
    x = L.Dropout(cfg.dropout, name="drop2")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(_channels(100, cfg.width, cfg.name), activation="relu", name="dense1")(x)
    x = L.Dropout(cfg.dropout, name="drop3")(x)
    out = L.Dense(n_classes, name="logits")(x)
    return _keras().Model(inp, out, name="dcase2022_baseline")


def teacher(input_shape, n_classes: int, cfg: ModelConfig):
    """A ResNet-style teacher: stem + three stages of basic residual blocks (48/96/192 channels at width 1)."""
    L = _keras().layers
    base = _channels(48, cfg.width, cfg.name)
    inp = L.Input(shape=input_shape, name="logmel")
    x = _conv_bn_relu(inp, base, 3, name="stem_")
    x = L.MaxPooling2D(2, padding="same", name="stem_pool")(x)
    for s, mult in enumerate((1, 2, 4)):
        for b in range(cfg.depth):
            stride = 2 if (s > 0 and b == 0) else 1
            x = _basic_block(x, base * mult, stride, name=f"s{s + 1}b{b + 1}_")
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dropout(cfg.dropout, name="drop")(x)
    out = L.Dense(n_classes, name="logits")(x)
    return _keras().Model(inp, out, name="teacher")


def _basic_block(x, filters, stride, name):
    L = _keras().layers
    y = _conv_bn_relu(x, filters, 3, strides=stride, name=f"{name}a_")
    y = _conv_bn_relu(y, filters, 3, relu=False, name=f"{name}b_")
    if stride != 1:
        # A strided 1x1 conv only reads every stride-th pixel: pick those pixels with a 1x1 pool,
        # then a stride-1 1x1 conv computes the same function with the same weights. oneDNN's
        # backward-weights kernel for strided 1x1 convs with few input channels writes past its
        # workspace (oneDNN issue 6035): TensorFlow 2.21 crashed training on two threads at
        # batches of 5, 7, 9 or 13, and the same bug gives wrong gradients on other CPUs.
        x = L.MaxPooling2D(1, strides=stride, padding="same", name=f"{name}proj_pool")(x)
    if stride != 1 or x.shape[-1] != filters:
        x = _conv_bn_relu(x, filters, 1, relu=False, name=f"{name}proj_")
    return L.ReLU(name=f"{name}out")(L.Add(name=f"{name}add")([x, y]))


def student(input_shape, n_classes: int, cfg: ModelConfig):
    """A CP-Mobile-like student: stride-2 stem, inverted-residual blocks (1x1 expand, depthwise 3x3,
    1x1 project) in three stages (32/64/128 channels at width 1, expansion 3), a 1x1 conv to the
    classes and global average pooling. `width` scales channels, `depth` repeats blocks per stage."""
    L = _keras().layers
    base = _channels(32, cfg.width, cfg.name)
    inp = L.Input(shape=input_shape, name="logmel")
    x = _conv_bn_relu(inp, base, 3, strides=2, name="stem_")
    for s, mult in enumerate((1, 2, 4)):
        for b in range(cfg.depth):
            stride = 2 if (s > 0 and b == 0) else 1
            x = _inverted_residual(x, base * mult, stride, expansion=3, name=f"s{s + 1}b{b + 1}_")
    x = L.Dropout(cfg.dropout, name="drop")(x)
    # no BatchNorm on the class map: normalising logits per class over the batch lets the trained
    # model lean on batch statistics that inference does not have
    x = L.Conv2D(n_classes, 1, name="head_conv")(x)
    out = L.GlobalAveragePooling2D(name="logits")(x)
    return _keras().Model(inp, out, name="student")


def _inverted_residual(x, filters, stride, expansion, name):
    L = _keras().layers
    y = _conv_bn_relu(x, x.shape[-1] * expansion, 1, name=f"{name}expand_")
    y = L.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"{name}dw_conv")(y)
    y = L.ReLU(name=f"{name}dw_relu")(_bn(f"{name}dw_bn")(y))
    y = _conv_bn_relu(y, filters, 1, relu=False, name=f"{name}project_")
    if stride == 1 and x.shape[-1] == filters:
        y = L.Add(name=f"{name}add")([x, y])
    return y


REGISTRY: dict[str, Callable] = {
    "dcase2022_baseline": dcase2022_baseline,
    "teacher": teacher,
    "student": student,
}


def build_model(cfg: ModelConfig, input_shape, n_classes: int):
    """Build the logits model `cfg.name` for inputs (n_mels, n_frames, 1) and n_classes outputs."""
    if cfg.name not in REGISTRY:
        raise ModelError(f"unknown model '{cfg.name}'; choose one of: {', '.join(REGISTRY)}")
    if n_classes < 2:
        raise ModelError(f"model '{cfg.name}': needs at least 2 classes, got {n_classes}")
    return REGISTRY[cfg.name](tuple(int(d) for d in input_shape), int(n_classes), cfg)


def inference_model(logits_model):
    """The model to convert: the logits model with a final Softmax layer (weights shared)."""
    keras = _keras()
    probs = keras.layers.Softmax(name="probabilities")(logits_model.output)
    return keras.Model(logits_model.input, probs, name=f"{logits_model.name}_inference")
