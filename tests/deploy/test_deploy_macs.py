"""MAC counts against the `vela` CLI (ethos-u-vela 5.2, Regor core) on converter-made models."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_models import model_zoo

from acdeploy.deploy.macs import nessi_macs, vela_macs
from acdeploy.deploy.tflite_reader import read_tflite

NAMES = ["mixed", "copies", "floatio", "mnv2"]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return model_zoo(tmp_path_factory.getbasetemp() / "deploy_models", NAMES)


def _vela_total(model: Path, out: Path) -> int:
    exe = shutil.which("vela", path=str(Path(sys.executable).parent)) or shutil.which("vela")
    assert exe, "the vela CLI (ethos-u-vela) is a test dependency"
    r = subprocess.run([exe, "--accelerator-config", "ethos-u55-128", str(model), "--output-dir", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    m = re.search(r"Neural network macs\s+(\d+)", r.stdout)
    assert m, r.stdout[-2000:]
    return int(m.group(1))


# mixed: conv, depthwise, add, max pool, pad, avg pool, concat, mean, dense, softmax;
# copies: PAD and CONCATENATION that Vela copies or writes in place, requantize, add, reshape;
# floatio: QUANTIZE/DEQUANTIZE on the CPU; mnv2: tf_keras MobileNetV2(alpha=0.35) at 32x32x3.
@pytest.mark.parametrize("name", NAMES)
def test_total_equals_vela(zoo, tmp_path, name):
    ours = sum(vela_macs(read_tflite(zoo[name])))
    assert ours == _vela_total(zoo[name], tmp_path)


def test_per_layer_rules_on_mixed(zoo):
    g = read_tflite(zoo["mixed"])
    per = dict(zip((op.opcode + str(op.index) for op in g.operators), vela_macs(g), strict=True))
    # independent arithmetic from the layer shapes of deploy_models.mixed_model (16x16x3 input, width 8)
    assert per["CONV_2D0"] == 16 * 16 * 8 * 3 * 3 * 3
    assert per["DEPTHWISE_CONV_2D1"] == 16 * 16 * 8 * 3 * 3
    assert per["ADD2"] == 0 and per["PAD4"] == 0  # PAD folds into the VALID conv after it
    assert per["MAX_POOL_2D3"] == 8 * 8 * 8 * 2 * 2
    assert per["CONV_2D5"] == 4 * 4 * 16 * 3 * 3 * 8
    assert per["AVERAGE_POOL_2D6"] == 4 * 4 * 16 * 2 * 2
    assert per["CONCATENATION7"] == 4 * 4 * 16  # the conv output feeds the pool too: copied
    assert per["MEAN8"] == 4 * 4 * 32
    assert per["FULLY_CONNECTED9"] == 32 * 10
    assert per["SOFTMAX10"] == 2 * 10


def test_nessi_differs_as_documented(zoo):
    g = read_tflite(zoo["mixed"])
    v, n = vela_macs(g), nessi_macs(g)
    for op, a, b in zip(g.operators, v, n, strict=True):
        if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN", "FULLY_CONNECTED"):
            assert a == b, op.opcode
    assert n[2] == 16 * 16 * 8  # ADD: elements (Vela: 0)
    assert n[10] == 0 and n[7] == 0  # SOFTMAX, CONCATENATION: 0
