"""Real TF-MOT on a tiny model: the fixed mask survives retraining even while a schedule fires,
and rewinding restores exactly the saved values."""

from __future__ import annotations

import numpy as np
import pytest
import tf_keras as keras

import acdeploy.compress.tfmot_wrap as tw
from acdeploy.compress.masks import prune

pytestmark = pytest.mark.slow  # trains models or runs QEMU: `make test-fast` leaves it out


def tiny_model(seed=0, n_classes=4):
    keras.utils.set_random_seed(seed)
    x = inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", name="c1")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(n_classes, name="fc")(x))


def tiny_data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = (rng.normal(size=(n, 8, 8, 1)) + y[:, None, None, None]).astype("float32")
    return x, y


def _fit(model, callbacks, epochs=2):
    x, y = tiny_data()
    model.compile(keras.optimizers.Adam(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=16, epochs=epochs, verbose=0, callbacks=callbacks)


def test_prunable_layers_skip_depthwise_bn_bias():
    assert list(tw.kernels(tiny_model())) == ["c1", "c2", "fc"]


@pytest.mark.parametrize("kind", ["polynomial", "constant"])
def test_fixed_mask_survives_a_live_schedule(kind):
    model = tiny_model()
    fixed = prune(tw.kernels(model), None, 0.5, "layer")
    steps = 2 * 6
    pruned = tw.wrap(model, {k: tw.make_schedule(kind, 0.5, 0.75, steps, 0.5) for k in fixed})
    tw.install_mask(pruned, fixed)
    _fit(pruned, tw.pruning_callbacks(pruned, fixed))
    after = tw.current_mask(pruned)
    stripped = tw.strip(pruned)
    k = tw.kernels(stripped)
    for name in fixed:
        assert not np.any(k[name][fixed[name] == 0]), f"{name}: a pruned weight came back"
        assert not np.any(after[name][fixed[name] == 0])
        # the schedule did prune further within the level
        assert abs((1 - after[name].mean()) - 0.75) < 0.05


def test_without_the_guard_weights_do_come_back():
    """The reason for FixedMaskCallback: TF-MOT alone recomputes masks from moved weights."""
    model = tiny_model()
    fixed = prune(tw.kernels(model), None, 0.5, "layer")
    pruned = tw.wrap(model, tw.make_schedule("constant", 0.0, 0.5, 12, 1.0))
    tw.install_mask(pruned, fixed)
    _fit(pruned, tw.pruning_callbacks(pruned, None), epochs=3)
    after = tw.current_mask(pruned)
    assert sum(int(after[n][fixed[n] == 0].sum()) for n in fixed) > 0


def test_rewind_restores_exact_values():
    model = tiny_model()
    rewind = tw.layer_weights(model)
    mask = prune(tw.kernels(model), None, 0.6, "global")
    pruned = tw.wrap(model)
    _fit(pruned, tw.pruning_callbacks(pruned, None), epochs=1)
    tw.set_layer_weights(pruned, rewind)
    tw.install_mask(pruned, mask)
    now = tw.layer_weights(pruned)
    for key, v in rewind.items():
        layer = key.split("::")[0]
        if layer in mask and key.endswith("::0"):
            np.testing.assert_array_equal(now[key], v * mask[layer])
        else:  # biases, BN statistics, depthwise kernel
            np.testing.assert_array_equal(now[key], v)


def test_m_by_n_with_a_fixed_mask():
    """TF-MOT's sparsity_m_by_n (2 zeros in every 4 input channels) on top of our fixed mask."""
    from acdeploy.compress.masks import m_by_n_keep

    model = tiny_model()
    fixed = prune(tw.kernels(model), None, 0.3, "layer")
    pruned = tw.wrap(model, m_by_n=(2, 4))
    tw.install_mask(pruned, fixed)
    _fit(pruned, tw.pruning_callbacks(pruned, fixed), epochs=1)
    k = tw.kernels(tw.strip(pruned))
    for name in ("c2", "fc"):  # c1 has a single input channel: groups of 1 keep their weight
        assert not np.any(k[name][fixed[name] == 0])
        keep = m_by_n_keep(k[name], 2, 4)
        assert not np.any(k[name][keep == 0]), f"{name}: more than 2 non-zeros in a group of 4"
