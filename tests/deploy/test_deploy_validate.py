"""deploy/validate.py: the validation pass between the reader and everything after it.

Real int8 models (the committed golden fixture, ModelBuilder cases, converter models) are mutated
the way a flipped byte or a hostile file would: `acdeploy report` and `acdeploy build --target
host`, run as the user runs them, must exit 1 with one line naming the file, the layer and the
field, no traceback and no build dir. Every model the other tests use must still pass.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from deploy_models import MODELS, model_zoo
from kernel_cases import FAMILIES, ModelBuilder, _opts, cases
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

from acdeploy.deploy.validate import Limits, load_graph, validate_graph
from acdeploy.errors import ModelError

GOLDEN = Path(__file__).parent / "golden" / "mixed.tflite"


def mutate(fn, source: Path = GOLDEN) -> bytes:
    """The model in `source` with fn(subgraph, model) applied (schema object API, then repacked)."""
    m = fb.ModelT.InitFromPackedBuf(source.read_bytes(), 0)
    fn(m.subgraphs[0], m)
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _set_shape(tensor: int, shape):
    def fn(sg, _):
        sg.tensors[tensor].shape = np.array(shape, np.int32)
    return fn


def _set_zp(tensor: int, zp: int):
    def fn(sg, _):
        sg.tensors[tensor].quantization.zeroPoint = np.array([zp], np.int64)
    return fn


def _set_input(op: int, pos: int, index: int):
    def fn(sg, _):
        sg.operators[op].inputs = np.array([*sg.operators[op].inputs[:pos], index, *sg.operators[op].inputs[pos + 1:]], np.int32)
    return fn


def _pool_model(stride: int) -> bytes:
    """A MAX_POOL_2D whose declared shapes agree with its options (SAME: one output pixel)."""
    m = ModelBuilder()
    x = m.tensor((1, 8, 8, 4), scale=0.05, zp=3, name="input")
    y = m.tensor((1, 1, 1, 4), scale=0.05, zp=3, name="pooled")
    m.op("MAX_POOL_2D", [x], [y], _opts("Pool2DOptionsT", padding=fb.Padding.SAME, strideW=stride, strideH=stride,
                                       filterWidth=2, filterHeight=2, fusedActivationFunction=0))
    return m.build([x], [y])


def _fc_model(in_shape, out_shape, rows_out=None) -> bytes:
    m = ModelBuilder()
    depth = in_shape[-1]
    x = m.tensor(in_shape, scale=0.05, zp=0, name="input")
    w = m.tensor((4, depth), scale=0.01, zp=0, data=np.ones((4, depth), np.int8), name="weights")
    y = m.tensor(out_shape, scale=0.5, zp=0, name="logits")
    m.op("FULLY_CONNECTED", [x, w, -1], [y], _opts("FullyConnectedOptionsT"))
    return m.build([x], [y])


# (case, the model bytes, what the one-line message must contain)
MUTATIONS = {
    # defect 3: a flipped byte made the CONCATENATION output 1x4x16388x32 (ASan: overflow in ac_concat)
    "concat_shape": (lambda: mutate(_set_shape(17, [1, 4, 16388, 32])),
                     ["(CONCATENATION #7)", "declared [1, 4, 16388, 32]", "give [1, 4, 4, 32]"]),
    "conv_shape": (lambda: mutate(_set_shape(15, [1, 5, 4, 16])), ["(CONV_2D #5)", "declared [1, 5, 4, 16]"]),
    # defect 4: zero points outside int8, a stride of 2^30 + 1
    "zero_point_200": (lambda: mutate(_set_zp(10, 200)), ["(CONV_2D #0)", "zero point 200", "[-128, 127]"]),
    "stride": (lambda: _pool_model(2 ** 30 + 1), ["(MAX_POOL_2D #0)", "stride_h = 1073741825"]),
    # defect 5: a 1e9-element input, a dimension of -8
    "huge_input": (lambda: mutate(_set_shape(0, [1, 1000, 1000, 1000])),
                   ["(CONV_2D #0)", "1,000,000,000 elements", "ACDEPLOY_MAX_TENSOR_ELEMENTS"]),
    "huge_activation": (lambda: mutate(_set_shape(19, [1, 100000, 100000])), ["(FULLY_CONNECTED #9)", "elements"]),
    "negative_dim": (lambda: mutate(_set_shape(14, [1, -8, 8, 8])), ["(PAD #4)", "[1, -8, 8, 8]", "dimension"]),
    # defect 6: tensor indices below -1, and -1 where the input is required
    "negative_index": (lambda: mutate(_set_input(2, 1, -5)), ["(ADD #2): input #1 refers to tensor -5"]),
    "absent_required": (lambda: mutate(_set_input(5, 1, -1)), ["(CONV_2D #5)", "input #1 refers to tensor -1"]),
}


@pytest.fixture(scope="module")
def bad_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad_models")
    out = {}
    for case, (make, _) in MUTATIONS.items():
        out[case] = d / f"{case}.tflite"
        out[case].write_bytes(make())
    return out


def _acdeploy(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "acdeploy", *argv], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("case", list(MUTATIONS))
def test_report_and_build_refuse_the_mutated_model(bad_models, tmp_path, case):
    model = bad_models[case]
    out = tmp_path / "out"
    for argv in (["report", str(model)], ["build", "--target", "host", "--model", str(model), "--out", str(out)]):
        r = _acdeploy(*argv)
        err = r.stderr.strip()
        assert r.returncode == 1, (argv, r.returncode, err[-2000:])
        assert err.startswith(f"error: {model}: ") and "\n" not in err, err[-2000:]
        assert "Traceback" not in err and "internal error" not in err
        assert len(err) < 400, err
        for part in MUTATIONS[case][1]:
            assert part in err, (part, err)
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_the_unmutated_fixture_still_builds(tmp_path):
    # The mutations above differ from this file only where they say: the rest is valid.
    out = tmp_path / "host"
    r = _acdeploy("build", "--target", "host", "--model", str(GOLDEN), "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    assert (out / "firmware" / "acnet.c").is_file()


# ---- validate_graph on more mutations (fast, in process) -------------------------------------

def _err(data: bytes, limits: Limits | None = None) -> str:
    with pytest.raises(ModelError) as e:
        load_graph(data, name="m.tflite", limits=limits)
    msg = str(e.value)
    assert msg.startswith("m.tflite: ") and "\n" not in msg
    return msg


def _per_channel_count(sg, _):
    q = sg.tensors[9].quantization  # the first conv's filter: 8 output channels
    q.scale, q.zeroPoint = q.scale[:5], q.zeroPoint[:5]


def _stride(op: int, value: int):
    def fn(sg, _):
        sg.operators[op].builtinOptions.strideH = value
    return fn


def _tiny_scale(sg, _):
    sg.tensors[19].quantization.scale = np.array([1e-30], np.float32)  # the dense layer's output


def _mean_axis(sg, m):
    m.buffers[sg.tensors[2].buffer].data = np.frombuffer(np.array([1, 7], np.int32).tobytes(), np.uint8)


def _concat_axis(sg, _):
    sg.operators[7].builtinOptions.axis = 9


def _output_minus_one(sg, _):
    sg.operators[3].outputs = np.array([-1], np.int32)


def _bias_zp(sg, _):
    sg.tensors[7].quantization.zeroPoint = np.full(8, 3, np.int64)


def _nan_scale(sg, _):
    sg.tensors[13].quantization.scale = np.array([np.nan], np.float32)


def _pad_negative(sg, m):
    pads = np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)
    pads[1] = [-1, 3]
    m.buffers[sg.tensors[1].buffer].data = np.frombuffer(pads.tobytes(), np.uint8)


def _graph_output(sg, _):
    sg.outputs = np.array([21], np.int32)


@pytest.mark.parametrize("fn,parts", [
    (_per_channel_count, ["(CONV_2D #0)", "5 per-channel scales", "0 has 8 channels"]),
    (_stride(5, 0), ["(CONV_2D #5)", "stride_h = 0"]),
    (_stride(3, 3), ["(MAX_POOL_2D #3)", "declared [1, 8, 8, 8]", "give [1, 5, 8, 8]"]),
    (_tiny_scale, ["(FULLY_CONNECTED #9)", "requantization multiplier of channel 0", "shift must lie in [-31, 30]"]),
    (_mean_axis, ["(MEAN #8)", "axis 7 is out of range"]),
    (_concat_axis, ["(CONCATENATION #7)", "axis = 9"]),
    (_output_minus_one, ["operator #3 (MAX_POOL_2D) output #0 refers to tensor -1"]),
    (_bias_zp, ["(CONV_2D #0)", "zero point 3", "int32 zero points must be 0"]),
    (_nan_scale, ["(MAX_POOL_2D #3)", "scale nan"]),
    (_pad_negative, ["(PAD #4)", "paddings [0, 0, -1, 3"]),
    (_graph_output, ["graph output #0 refers to tensor 21"]),
])
def test_mutations_name_layer_and_field(fn, parts):
    msg = _err(mutate(fn))
    for part in parts:
        assert part in msg, (part, msg)


def test_fully_connected_keep_num_dims_and_rows():
    assert load_graph(_fc_model((3, 8), (3, 4)))
    assert "declared [1, 4]" in _err(_fc_model((3, 8), (1, 4)))
    assert "declared [12, 4]" in _err(_fc_model((3, 8), (12, 4)))


def _add_depthwise(c_shape=(1, 1, 1, 3), multiplier=2) -> bytes:
    m = ModelBuilder()
    x = m.tensor((1, 4, 4, 3), scale=0.05, zp=0, name="x")
    c = m.tensor(c_shape, scale=0.05, zp=0, data=np.ones(c_shape, np.int8), name="c")
    y = m.tensor((1, 4, 4, 3), scale=0.1, zp=0, name="sum")
    m.op("ADD", [x, c], [y], _opts("AddOptionsT"))
    w = m.tensor((1, 3, 3, 6), scale=np.full(6, 0.01, np.float32), zp=np.zeros(6, int), axis=3,
                 data=np.ones((1, 3, 3, 6), np.int8), name="dw")
    z = m.tensor((1, 2, 2, 6), scale=0.2, zp=0, name="dw_out")
    m.op("DEPTHWISE_CONV_2D", [y, w, -1], [z], _opts("DepthwiseConv2DOptionsT", padding=fb.Padding.VALID, strideW=1,
                                                   strideH=1, depthMultiplier=multiplier, dilationWFactor=1,
                                                   dilationHFactor=1))
    return m.build([x], [z])


def test_add_broadcast_and_depthwise_multiplier():
    load_graph(_add_depthwise())
    load_graph(_add_depthwise(c_shape=()))
    assert ("(DEPTHWISE_CONV_2D #1): filter 'dw' has 6 channels for 3 input channels and depth_multiplier 3"
            in _err(_add_depthwise(multiplier=3)))
    assert "(ADD #0): inputs [1, 4, 4, 3] and [1, 1, 2, 3] do not broadcast" in _err(_add_depthwise(c_shape=(1, 1, 2, 3)))


def test_limits_from_argument_and_environment(monkeypatch):
    g = load_graph(GOLDEN)
    validate_graph(g, "mixed.tflite")
    with pytest.raises(ModelError, match=r"\[1, 16, 16, 8\] = 2,048 elements, above the limit of 1,500"):
        validate_graph(g, "mixed.tflite", Limits(max_tensor_elements=1500))
    monkeypatch.setenv("ACDEPLOY_MAX_ARENA_BYTES", "4096")
    with pytest.raises(ModelError, match=r"mixed.tflite: the activations need [\d,]+ bytes, above the limit of 4,096 "
                                         r"\(ACDEPLOY_MAX_ARENA_BYTES\)"):
        validate_graph(g, "mixed.tflite")


# ---- other consumers: eval, the C engine, test vectors ------------------------------------------

def test_eval_and_c_engine_and_vectors_validate(bad_models):
    from acdeploy.deploy import c_engine, evaluate, vectors

    model = bad_models["concat_shape"]
    with pytest.raises(ModelError, match=r"concat_shape.tflite: .*\(CONCATENATION #7\)"):
        evaluate.read_model(model)
    with pytest.raises(ModelError, match=r"\(CONCATENATION #7\)"):
        vectors.make_vectors(model.read_bytes(), n=1)
    with pytest.raises(ModelError, match=r"m.tflite: .*\(CONCATENATION #7\)"):
        c_engine.run_c(model.read_bytes(), np.zeros((1, 16 * 16 * 3), np.float32), name="m.tflite")


def test_eval_cli_refuses_the_mutated_model(bad_models, tmp_path):
    r = _acdeploy("eval", str(bad_models["zero_point_200"]), "--data", str(tmp_path))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith(f"error: {bad_models['zero_point_200']}: layer 'model/conv2d/Relu;")
    assert r.stderr.strip().endswith("(CONV_2D #0): tensor 10 'model/conv2d/Relu;model/conv2d/Conv2D' has zero point "
                                     "200: int8 zero points lie in [-128, 127]")


def test_tflm_loader_errors_are_one_bounded_line():
    # A graph the TFLM bindings reject with a TypeError that repeats every argument (the model bytes).
    from acdeploy.deploy import vectors

    data = GOLDEN.read_bytes()
    g = load_graph(data)
    g.tensors[0].shape = (1, -1000000, 16, 3)  # as the reader returned it before validation existed
    with pytest.raises(ModelError) as e:
        vectors.tflm_interpreter(data, g, name="mixed.tflite")
    msg = str(e.value)
    assert msg.startswith("mixed.tflite: TFLite Micro cannot load the model (") and "\n" not in msg
    assert len(msg) < 300 and "\\x" not in msg


# ---- everything the other tests build still passes ----------------------------------------------

@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_kernel_cases_pass(family):
    for data in cases(family, 40, seed=7):
        load_graph(data, name=family)


def test_converter_models_and_fixture_pass(tmp_path_factory):
    zoo = model_zoo(tmp_path_factory.getbasetemp() / "deploy_models", [n for n in MODELS if n != "twosig"])
    for path in [GOLDEN, *zoo.values()]:
        load_graph(path)
