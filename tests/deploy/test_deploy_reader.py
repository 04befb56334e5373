"""The .tflite reader against LiteRT's own view of the same file, and on bad input."""

from __future__ import annotations

import numpy as np
import pytest
from deploy_models import model_zoo

from acdeploy.deploy.tflite_reader import read_tflite
from acdeploy.errors import ModelError


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return model_zoo(tmp_path_factory.getbasetemp() / "deploy_models")


@pytest.mark.parametrize("name", ["mixed", "floatio", "mnv2"])
def test_tensors_match_litert(zoo, name):
    from ai_edge_litert.interpreter import Interpreter

    g = read_tflite(zoo[name])
    interp = Interpreter(model_path=str(zoo[name]), experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    details = {d["index"]: d for d in interp.get_tensor_details()}
    assert [d["index"] for d in interp.get_input_details()] == g.inputs
    assert [d["index"] for d in interp.get_output_details()] == g.outputs
    checked = 0
    for t in g.tensors:
        d = details.get(t.index)
        if d is None:  # LiteRT hides some constant tensors it folded
            continue
        assert d["name"] == t.name
        assert tuple(d["shape"]) == t.shape
        assert np.dtype(d["dtype"]).name == t.dtype
        qp = d["quantization_parameters"]
        if t.quant is None:
            assert qp["scales"].size == 0
        else:
            np.testing.assert_array_equal(qp["scales"], t.quant.scale)
            np.testing.assert_array_equal(qp["zero_points"], t.quant.zero_point)
            assert qp["quantized_dimension"] == t.quant.axis
        if t.is_constant:
            np.testing.assert_array_equal(interp.get_tensor(t.index), t.data)
            checked += 1
    assert checked >= 5


def test_operators_and_options(zoo):
    g = read_tflite(zoo["mixed"])
    ops = [op.opcode for op in g.operators]
    assert ops == ["CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MAX_POOL_2D", "PAD", "CONV_2D",
                   "AVERAGE_POOL_2D", "CONCATENATION", "MEAN", "FULLY_CONNECTED", "SOFTMAX"]
    conv0, dw = g.operators[0], g.operators[1]
    assert conv0.options["padding"] == "SAME" and conv0.options["fused_activation_function"] == "RELU"
    assert dw.options["fused_activation_function"] == "RELU6" and dw.options["depth_multiplier"] == 1
    assert g.operators[5].options["stride_h"] == 2
    assert g.operators[8].options["keep_dims"] is False
    assert g.operators[7].options["axis"] == 3
    assert conv0.name == g.tensors[conv0.outputs[0]].name
    assert g.operators[9].inputs[2] == -1  # FC without bias
    # per-channel weights: depthwise along axis 3, conv along axis 0
    assert g.tensors[dw.inputs[1]].quant.axis == 3 and g.tensors[dw.inputs[1]].quant.per_channel
    assert g.tensors[conv0.inputs[1]].quant.axis == 0
    assert "min_runtime_version" in g.metadata


def test_float_io_model_keeps_quantize_dequantize(zoo):
    g = read_tflite(zoo["floatio"])
    assert g.operators[0].opcode == "QUANTIZE" and g.operators[-1].opcode == "DEQUANTIZE"
    assert g.tensors[g.inputs[0]].dtype == "float32"


def test_bad_files(zoo, tmp_path):
    data = zoo["mixed"].read_bytes()
    cases = {
        "text.tflite": b"this is not a flatbuffer at all",
        "truncated.tflite": data[: len(data) // 2],
        "tail.tflite": data[:-16],
        "wrongid.tflite": data[:4] + b"XXXX" + data[8:],
        "empty.tflite": b"",
    }
    for fname, content in cases.items():
        p = tmp_path / fname
        p.write_bytes(content)
        with pytest.raises(ModelError, match=fname):
            read_tflite(p)
    with pytest.raises(ModelError, match="missing.tflite"):
        read_tflite(tmp_path / "missing.tflite")


def test_several_subgraphs(zoo):
    with pytest.raises(ModelError, match="2 subgraphs"):
        read_tflite(zoo["twosig"])
