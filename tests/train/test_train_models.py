"""Registry models: sizes against hand counts, knobs, errors, and int8 TFLite conversion to the
built-in ops the C runtime supports."""

import numpy as np
import pytest

import acdeploy  # noqa: F401
from acdeploy.compress.quantize import convert_int8
from acdeploy.errors import ModelError
from acdeploy.train.complexity import count_macs, deployed_params, summary
from acdeploy.train.config import ModelConfig
from acdeploy.train.models import REGISTRY, build_model, inference_model

ALLOWED_OPS = {
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN",
    "ADD", "RESHAPE", "SOFTMAX", "PAD", "CONCATENATION", "QUANTIZE", "DEQUANTIZE",
}


def test_baseline_matches_the_dcase2022_figures():
    m = build_model(ModelConfig(name="dcase2022_baseline"), (40, 51, 1), 10)
    assert m.count_params() == 46_246  # the DCASE baseline README's Keras count
    assert deployed_params(m) == 45_990  # NeSsi's count after BatchNorm folding
    # hand count: conv1, conv2 on 40x51, conv3 on 8x10, pools 8x10x16 (5x5) and 2x1x32 (4x10), dense
    hand = 40 * 51 * 16 * 49 * 1 + 40 * 51 * 16 * 49 * 16 + 8 * 10 * 32 * 49 * 16 + 8 * 10 * 16 * 25 + 2 * 32 * 40 + 64 * 100 + 100 * 10
    assert count_macs(m) == hand
    assert m.output_shape == (None, 10) and m.layers[-1].get_config()["activation"] == "linear"


def test_student_macs_and_params_by_hand_for_a_tiny_instance():
    m = build_model(ModelConfig(name="student", width=0.25, depth=1), (8, 8, 1), 4)  # base 8 channels
    # stem 3x3 s2: 4x4x8; s1: expand 8->24, dw, project 24->8 on 4x4; s2 (s2): 8->24 on 4x4, dw on 2x2,
    # 24->16; s3: 16->48 on 2x2, dw on 1x1, 48->32; head 32->4 on 1x1; mean over 1x1x4
    hand = (16 * 8 * 9) + (16 * 24 * 8 + 16 * 24 * 9 + 16 * 8 * 24) + (16 * 24 * 8 + 4 * 24 * 9 + 4 * 16 * 24) \
        + (4 * 48 * 16 + 1 * 48 * 9 + 1 * 32 * 48) + 1 * 4 * 32 + 4
    assert count_macs(m) == hand
    params = (9 * 8 + 8) + (8 * 24 + 24 + 9 * 24 + 24 + 24 * 8 + 8) + (8 * 24 + 24 + 9 * 24 + 24 + 24 * 16 + 16) \
        + (16 * 48 + 48 + 9 * 48 + 48 + 48 * 32 + 32) + (32 * 4 + 4)
    assert deployed_params(m) == params


def test_width_and_depth_move_the_student_across_the_dcase_budget():
    small = summary(build_model(ModelConfig(name="student"), (40, 51, 1), 10))
    big = summary(build_model(ModelConfig(name="student", width=2.0), (40, 51, 1), 10))
    deep = summary(build_model(ModelConfig(name="student", depth=2), (40, 51, 1), 10))
    assert small["params"] < 128_000 and small["macs"] < 30e6
    assert big["params"] > 128_000 and big["macs"] > 30e6
    assert deep["params"] > small["params"] and deep["macs"] > small["macs"]
    teacher = summary(build_model(ModelConfig(name="teacher", depth=2), (40, 51, 1), 10))
    assert 1e6 <= teacher["params"] <= 3e6


@pytest.mark.parametrize(
    "cfg, shape, needle",
    [
        (ModelConfig(name="student", width=0.01), (40, 51, 1), "width 0.01"),
        (ModelConfig(name="dcase2022_baseline"), (10, 51, 1), "too small"),
        (ModelConfig(name="nope"), (40, 51, 1), "unknown model 'nope'"),
    ],
)
def test_impossible_models_raise_one_line_model_errors(cfg, shape, needle):
    with pytest.raises(ModelError) as e:
        build_model(cfg, shape, 10)
    assert needle in str(e.value) and "\n" not in str(e.value)


def _ops(tflite_bytes: bytes) -> set[str]:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tflite_bytes)
    return {op["op_name"] for op in it._get_ops_details()}, it


@pytest.mark.parametrize("name, width, depth", [("dcase2022_baseline", 0.25, 1), ("teacher", 0.125, 1), ("student", 0.25, 1)])
def test_every_registry_model_converts_to_int8_builtin_ops(name, width, depth):
    assert name in REGISTRY
    shape = (20, 16, 1)  # small: conversion time grows with the graph, not with what we check
    model = build_model(ModelConfig(name=name, width=width, depth=depth), shape, 10)
    rep = np.random.default_rng(0).normal(size=(8, *shape)).astype(np.float32)
    ops, it = _ops(convert_int8(inference_model(model), rep))
    assert ops <= ALLOWED_OPS, f"{name}: unsupported ops {ops - ALLOWED_OPS}"
    assert "CONV_2D" in ops and "SOFTMAX" in ops
    assert it.get_input_details()[0]["dtype"] == np.int8 and it.get_output_details()[0]["dtype"] == np.int8
    # BatchNorm folded: no standalone MUL/ADD-by-constant pairs survive (ADD only where the
    # architecture has residual additions)
    n_add = sum(1 for op in it._get_ops_details() if op["op_name"] == "ADD")
    n_keras_add = sum(1 for layer in model.layers if type(layer).__name__ == "Add")
    assert n_add == n_keras_add
