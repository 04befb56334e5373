"""The generator inside `acdeploy build`, the requantization helpers and the test vectors.

The arithmetic itself is checked bit for bit against TFLM by test_kernels_ops.py; here: the
build-dir contract the firmware relies on (DIR/firmware/acnet.c/.h, test_vectors.h, kernels/),
the float-I/O entry point, one-line errors, and QuantizeMultiplier's edge cases.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from kernel_cases import ModelBuilder, cases

from acdeploy.cli import main
from acdeploy.deploy import quant
from acdeploy.deploy.vectors import make_vectors, tflm_interpreter


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("h4_build_models")
    out = {}
    for name, fam in (("int8", "chain"), ("floatio", "float_io")):
        p = d / f"{name}.tflite"
        p.write_bytes(cases(fam, 1, 11)[0])
        out[name] = p
    m = ModelBuilder()
    x = m.tensor((1, 4), scale=0.1, zp=0, name="input")
    y = m.tensor((1, 4), scale=1 / 128, zp=0, name="squash")
    m.op("TANH", [x], [y], None)
    out["tanh"] = d / "tanh.tflite"
    out["tanh"].write_bytes(m.build([x], [y]))
    return out


def _macros(header: str) -> dict[str, str]:
    return dict(re.findall(r"#define\s+(ACNET_\w+)\s+(\S+)", header))


@pytest.mark.parametrize("name", ["int8", "floatio"])
def test_build_writes_the_network_contract(models, tmp_path, name):
    out = tmp_path / "build"
    assert main(["build", "--target", "host", "--model", str(models[name]), "--out", str(out), "--run"]) == 0
    fw = out / "firmware"
    header = (fw / "acnet.h").read_text()
    source = (fw / "acnet.c").read_text()
    vectors = (fw / "test_vectors.h").read_text()
    macros = _macros(header)
    for key in ("ACNET_INPUT_SIZE", "ACNET_OUTPUT_SIZE", "ACNET_ARENA_SIZE", "ACNET_MACS", "ACNET_INPUT_SCALE",
                "ACNET_INPUT_ZERO_POINT", "ACNET_OUTPUT_SCALE", "ACNET_OUTPUT_ZERO_POINT"):
        assert key in macros, key
    assert "int acnet_invoke(const int8_t *input, int8_t *output);" in header
    assert ("acnet_invoke_float(const float *input, float *output)" in header) == (name == "floatio")
    assert "static AC_ALIGN(16) int8_t acnet_arena[ACNET_ARENA_SIZE];" in source
    # Every arena offset is a macro named after its tensor, and the calls use the macros.
    offsets = re.findall(r"#define (ACNET_T_\w+) (\d+)", source)
    assert offsets and len({n for n, _ in offsets}) == len(offsets)
    assert not re.search(r"acnet_arena \+ \d", source)
    assert "if (input == NULL || output == NULL) {\n        return ACNET_ERROR_NULL;" in source
    assert re.search(r"static const int8_t acnet_l0\d_filter\[", source)
    assert re.search(r"/\* layer \d: CONV_2D 'conv_out' \*/\n    (ac_conv2d_\w+|AC_CONV2D_\w+)\(&acnet_l\d\d_params", source)
    assert "RESHAPE 'flat': no code, output aliases input" in source
    assert "#define ACNET_NUM_VECTORS 4" in vectors
    assert (fw / "kernels" / "ac_kernels.h").is_file() and (fw / "kernels" / "ac_conv_ref.c").is_file()
    import json

    report = json.loads((out / "report.json").read_text())
    assert int(macros["ACNET_MACS"]) == report["totals"]["macs"] > 0
    assert report["network"]["float_io"] == (name == "floatio")
    fwr = report["firmware"]
    assert fwr["ran"] and fwr["passed"] and fwr["mismatches"] == 0 and fwr["vectors"] == 4


def test_unsupported_op_is_one_line_naming_op_and_layer(models, tmp_path, capsys):
    code = main(["build", "--target", "host", "--model", str(models["tanh"]), "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1 and "TANH" in err and "squash" in err
    assert not (tmp_path / "b").exists()


def test_vectors_use_the_callers_inputs(models):
    data = models["int8"].read_bytes()
    rng = np.random.default_rng(5)
    xs = rng.integers(-128, 128, size=(2, 1, *_input_shape(data)[1:])).astype(np.int8)
    x, y = make_vectors(data, inputs=xs)
    assert np.array_equal(x, xs.reshape(2, -1))
    it = tflm_interpreter(data, __import__("acdeploy.deploy.tflite_reader", fromlist=["read_tflite"]).read_tflite(data))
    it.set_input(xs[1], 0)
    it.invoke()
    assert np.array_equal(y[1], np.asarray(it.get_output(0)).reshape(-1))


def test_float_model_vectors_are_the_int8_core(models):
    """Float inputs on the int8 grid: the int8 core input is exactly their quantized value."""
    data = models["floatio"].read_bytes()
    x, y = make_vectors(data, n=3, seed=1)
    assert x.dtype == np.int8 and y.dtype == np.int8 and len(x) == 3
    assert len({bytes(r) for r in x}) == 3


def _input_shape(data: bytes):
    from acdeploy.deploy.tflite_reader import read_tflite

    g = read_tflite(data)
    return g.tensor(g.inputs[0]).shape


@pytest.mark.parametrize(("real", "expected"), [
    (0.0, (0, 0)),
    (0.5, (1 << 30, 0)),
    (1.0, (1 << 30, 1)),
    (0.75, (3 << 29, 0)),
    (1 - 2.0 ** -40, (1 << 30, 1)),  # rounds up to 2^31: halved, shift + 1
    (2.0 ** -40, (0, 0)),  # shift below -31 flushes to zero
    (3.0, (3 << 29, 2)),
])
def test_quantize_multiplier_edge_cases(real, expected):
    assert quant.quantize_multiplier(real) == expected


def test_quantize_multiplier_is_accurate():
    rng = np.random.default_rng(0)
    for r in np.exp(rng.uniform(np.log(1e-6), np.log(100), 200)):
        m, s = quant.quantize_multiplier(float(r))
        assert (1 << 30) <= m < (1 << 31)
        assert abs(m * 2.0 ** (s - 31) - r) <= r * 2.0 ** -30


def test_activation_ranges():
    assert quant.activation_range("NONE", 0.1, 3) == (-128, 127)
    assert quant.activation_range("RELU", 0.1, -5) == (-5, 127)
    assert quant.activation_range("RELU6", 0.05, -128) == (-128, -8)  # 6 / 0.05 = 120
    assert quant.activation_range("RELU_N1_TO_1", 0.01, 0) == (-100, 100)
    with pytest.raises(ValueError):
        quant.activation_range("TANH", 0.1, 0)
