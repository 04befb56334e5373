"""Full-int8 export of a pruned tiny model: every pruned weight stays zero, checked from the
.tflite bytes against the Keras kernels; the check fails when zeros are missing."""

from __future__ import annotations

import numpy as np
import pytest
from test_compress_tfmot import _fit, tiny_data, tiny_model

import acdeploy.compress.quantize as q
import acdeploy.compress.tfmot_wrap as tw
from acdeploy.compress.masks import prune
from acdeploy.errors import DataError

pytestmark = pytest.mark.slow  # trains models or runs QEMU: `make test-fast` leaves it out


@pytest.fixture(scope="module")
def pruned_and_dense():
    from acdeploy.train.models import inference_model

    dense = tiny_model()
    _fit(dense, [], epochs=2)
    dense_kernels = tw.kernels(dense)
    mask = prune(dense_kernels, None, 0.7, "global")
    pruned = tw.wrap(dense)
    tw.install_mask(pruned, mask)
    _fit(pruned, tw.pruning_callbacks(pruned, mask), epochs=1)
    sparse = tw.strip(pruned)
    x, _ = tiny_data(64, seed=1)
    tfl = q.convert_int8(inference_model(sparse), x)
    return sparse, dense_kernels, mask, tfl


def test_int8_keeps_every_zero(pruned_and_dense):
    sparse, _, mask, tfl = pruned_and_dense
    rep = q.zero_check(tw.kernels(sparse), tfl)
    assert rep["ok"], rep
    for name, layer in rep["layers"].items():
        assert layer["found"]
        assert layer["keras_zeros"] == int((mask[name] == 0).sum()) > 0
        assert layer["int8_zeros"] >= layer["keras_zeros"]
        # independent read: the reported tensor really holds these zeros
        assert layer["revived"] == 0


def test_zero_check_catches_nonzero(pruned_and_dense):
    """Against the kernels of a differently-pruned model the check must fail."""
    sparse, dense_kernels, mask, tfl = pruned_and_dense
    other = {k: v * (1 - prune(dense_kernels, None, 0.3, "layer")[k]) for k, v in dense_kernels.items()}
    rep = q.zero_check(other, tfl)
    assert not rep["ok"]
    assert sum(v["revived"] for v in rep["layers"].values()) > 0


def test_representative_shape_is_checked():
    x = np.zeros((10, 8, 9), np.float32)
    with pytest.raises(DataError, match="representative features have shape"):
        q.representative(x, (8, 8, 1), 5, 0, "model")
    assert q.representative(np.zeros((10, 8, 8), np.float32), (8, 8, 1), 5, 0, "m").shape == (5, 8, 8, 1)


def test_pqat_keeps_zeros(pruned_and_dense):
    from acdeploy.compress.config import QuantizeConfig
    from acdeploy.train.config import DistillConfig
    from acdeploy.train.models import inference_model

    sparse, _, _, _ = pruned_and_dense
    x, y = tiny_data(64, seed=2)
    cfg = QuantizeConfig(mode="pqat", finetune_epochs=1, batch_size=16, learning_rate=1e-3)
    qm = q.quantize_aware(sparse, "pqat")
    q._finetune(qm, x, y, 4, [], DistillConfig(), cfg)
    tfl = q.convert_int8(inference_model(qm), x)
    assert q.zero_check(tw.kernels(sparse), tfl)["ok"]
