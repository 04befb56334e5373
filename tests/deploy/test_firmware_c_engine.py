"""`acdeploy eval --engine c`: the generated C network built for the host gives exactly the
TFLite Micro runtime's probabilities (int8 and float-I/O models)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_tools
from deploy_models import model_zoo

from acdeploy.deploy import evaluate as ev


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return model_zoo(tmp_path_factory.getbasetemp() / "deploy_models", ("mixed", "floatio"))


@pytest.mark.parametrize("name", ["mixed", "floatio"])
def test_c_engine_equals_tflm(zoo, name):
    require_tools("gcc", "make")
    model = zoo[name].read_bytes()
    x = np.random.default_rng(3).normal(0, 0.6, size=(24, 16, 16, 3)).astype(np.float32)
    c = ev.predict(model, x, "c", name)
    np.testing.assert_array_equal(c, ev.predict(model, x, "tflm", name))
    assert len(np.unique(c, axis=0)) > len(x) // 2  # outputs vary with the input: the comparison has teeth
