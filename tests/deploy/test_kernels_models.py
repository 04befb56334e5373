"""Whole networks through the generated C, bit-exact with TFLite Micro: tf_keras MobileNetV2
(weights=None, 32x32x3, alpha=0.35) and every model of our registry (train/models.py), each
converted to full int8 with the real TFLite converter, all linked into one ASan/UBSan binary
and run with the portable and the (emulated) DSP kernels.
"""

from __future__ import annotations

import numpy as np
import pytest
from kernel_harness import build_and_run, mismatches, prepare

REGISTRY_INPUT = (40, 51, 1)  # one DCASE 2022 clip: 40 mels x 51 frames


def _int8(model, shape, seed=0) -> bytes:
    from acdeploy.compress.quantize import convert_int8

    return convert_int8(model, np.random.default_rng(seed).normal(0, 1, (8, *shape)).astype(np.float32))


def _models() -> dict[str, bytes]:
    import tf_keras as keras

    from acdeploy.train.config import ModelConfig
    from acdeploy.train.models import REGISTRY, build_model, inference_model

    keras.utils.set_random_seed(0)
    # classifier_activation=None: with random weights the logits' int8 scale is ~1e-8, below
    # what TFLM's int8 softmax accepts (it aborts); softmax itself is covered by the op suite.
    mnv2 = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), alpha=0.35, classes=10,
                                          classifier_activation=None)
    out = {"mobilenet_v2": _int8(_calibrate_batchnorm(mnv2, (32, 32, 3)), (32, 32, 3))}
    for name in REGISTRY:
        logits = _calibrate_batchnorm(build_model(ModelConfig(name=name, width=0.5, depth=1), REGISTRY_INPUT, 10),
                                      REGISTRY_INPUT)
        out[name] = _int8(inference_model(logits), REGISTRY_INPUT)
    return out


def _calibrate_batchnorm(model, shape):
    """Random weights with BatchNorm's initial statistics shrink the activations layer by layer
    until the int8 output is constant. One training-mode pass with momentum 0 sets each
    BatchNorm's moving statistics to real batch statistics, so activations stay well scaled."""
    import tf_keras as keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    model(np.random.default_rng(1).normal(0, 1, (16, *shape)).astype(np.float32), training=True)
    return model


@pytest.fixture(scope="module")
def networks(tmp_path_factory):
    models = _models()
    nets = prepare(list(models.values()), n_vectors=3, seed=7)
    work = tmp_path_factory.mktemp("kernels_models")
    return {"names": list(models), "nets": nets,
            "portable": build_and_run(nets, work / "portable")[0],
            "dsp": build_and_run(nets, work / "dsp", dsp_emulate=True)[0]}


def test_registry_and_mobilenet_present(networks):
    assert networks["names"][0] == "mobilenet_v2"
    assert {"dcase2022_baseline", "teacher", "student"} <= set(networks["names"])
    ops = {op.opcode for n in networks["nets"] for op in n.graph.operators}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MEAN", "FULLY_CONNECTED", "SOFTMAX"} <= ops


@pytest.mark.parametrize("path", ["portable", "dsp"])
def test_networks_bit_exact_with_tflm(networks, path):
    bad = mismatches(networks["nets"], networks[path])
    assert bad == [], dict(zip(networks["names"], bad, strict=False))


def test_outputs_are_informative(networks):
    """Different inputs give different outputs (a network stuck on a constant proves little)."""
    for name, n in zip(networks["names"], networks["nets"], strict=True):
        assert len({bytes(r) for r in n.expected}) > 1, name


@pytest.mark.slow
@pytest.mark.toolchain
@pytest.mark.parametrize("index", range(4))
def test_networks_bit_exact_on_cortex_m55_helium(networks, index, tmp_path):
    """The same networks as firmware on the Cortex-M55 in QEMU (the Helium kernels, which the host
    cannot run), against TFLM's outputs."""
    from conftest import require_tools

    from acdeploy.deploy import firmware
    from acdeploy.deploy.c_engine import write_network_project
    from acdeploy.deploy.targets import get_target

    require_tools("arm-none-eabi-gcc", "qemu-system-arm", "make")
    t = get_target("cortex-m55")
    write_network_project(networks["nets"][index].model, tmp_path / "firmware", n_vectors=3)
    run = firmware.run_qemu(firmware.build_firmware(tmp_path, t), t.qemu_machine, timeout=300)
    assert run.passed, f"{networks['names'][index]} on {t.name}: outputs differ from TFLM\n{run.log[-1500:]}"
