"""Build test vectors from dataset clips: one clip per class, standardised and quantized as the
model's input tensor expects (checked against an independent numpy computation)."""

from pathlib import Path

import numpy as np
import pytest
from deploy_models import model_zoo

from acdeploy.data.featstore import FeatureSet
from acdeploy.deploy.dataset_inputs import vector_inputs
from acdeploy.deploy.tflite_reader import read_tflite
from acdeploy.errors import DataError
from acdeploy.model_info import ModelInfo


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    zoo = model_zoo(tmp_path_factory.getbasetemp() / "deploy_models", ("mixed", "floatio"))
    return {k: read_tflite(v) for k, v in zoo.items()}


def _features(n_per_class=3, classes=4, shape=(16, 48), seed=0):
    rng = np.random.default_rng(seed)
    n = n_per_class * classes
    labels = np.repeat(np.arange(classes), n_per_class)[rng.permutation(n)]
    return FeatureSet(
        x=rng.normal(-3.0, 2.0, size=(n, *shape)).astype(np.float32), labels=labels,
        devices=np.array(["a"] * n), filenames=np.array([f"f{i}.wav" for i in range(n)]),
        split=np.array(["evaluate"] * n), identifiers=np.array(["x-1"] * n),
        classes=[f"c{i}" for i in range(classes)], seen_devices=["a"], feature_config={}, root=Path("mem"),
    )


def test_int8_vectors_are_standardised_quantized_clips(graphs):
    g = graphs["mixed"]
    fs = _features()
    info = ModelInfo.from_dict({"standardize": {"mean": -3.0, "std": 2.0}})
    q = vector_inputs(g, fs, info, n=3)
    tin = g.tensor(g.inputs[0])
    assert q.dtype == np.int8 and q.shape == (3, *tin.shape[1:])
    for k in range(3):
        i = int(np.flatnonzero(fs.labels == k)[0])  # first clip of class k
        x = ((fs.x[i] + 3.0) / 2.0).reshape(tin.shape[1:])
        want = np.clip(np.round(x / tin.quant.scale[0]) + tin.quant.zero_point[0], -128, 127)
        np.testing.assert_array_equal(q[k], want.astype(np.int8))


def test_float_input_model_gets_float_vectors(graphs):
    g = graphs["floatio"]
    shape = g.tensor(g.inputs[0]).shape[1:]
    fs = _features(shape=(int(np.prod(shape)),))
    v = vector_inputs(g, fs, None, n=2)
    assert v.dtype == np.float32 and v.shape == (2, *shape)


def test_features_of_another_shape_are_refused(graphs):
    with pytest.raises(DataError, match="do not fit the model input"):
        vector_inputs(graphs["mixed"], _features(shape=(5, 7)), None, n=2)
