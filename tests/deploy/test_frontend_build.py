"""`acdeploy build --frontend` / `--run --audio`: WAVs through front end + network in the firmware
(host build; QEMU cortex-m4 and the q31 cortex-m0plus build slow-marked); bad WAVs and models
without a feature configuration give one line."""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest
import soundfile as sf
from conftest import require_tools
from deploy_models import _quantize, mixed_model, model_zoo

from acdeploy.cli import main
from acdeploy.deploy import firmware, frontend_step
from acdeploy.deploy.wav_pcm import read_pcm16
from acdeploy.errors import DataError

SR = 16000
FEATURES = {"sample_rate": SR, "n_fft": 512, "win_length": 400, "hop_length": 320, "n_mels": 32, "fmin": 0.0,
            "fmax": None, "window": "hamming", "log_offset": 1e-6, "short_clips": "pad"}
FRAMES = 26  # 0.5 s at hop 320


@pytest.fixture(scope="module")
def audio_model(tmp_path_factory):
    """A real int8 model taking [32 mels, 26 frames, 1], with the model_info.json training writes."""
    d = tmp_path_factory.mktemp("audio_model")
    path = d / "model_int8.tflite"
    path.write_bytes(_quantize(mixed_model(shape=(32, FRAMES, 1), classes=4), (32, FRAMES, 1)))
    info = {"classes": ["park", "bus", "tram", "metro"], "input_shape": [32, FRAMES, 1],
            "standardize": {"mean": -6.0, "std": 3.0}, "feature_config": FEATURES}
    (d / "model_int8.model_info.json").write_text(json.dumps(info))
    return path


def wav(path, data, sr=SR, subtype="PCM_16"):
    sf.write(str(path), data, sr, subtype=subtype)
    return path


def clip(seed=0, n=(FRAMES - 1) * 320):
    return np.random.default_rng(seed).normal(0, 0.1, n).astype(np.float32)


def test_build_run_audio_prints_class_and_probabilities(audio_model, tmp_path, capsys):
    require_tools("gcc", "make")
    wavs = [wav(tmp_path / f"c{i}.wav", clip(i)) for i in range(2)]
    out = tmp_path / "host"
    assert main(["build", "--target", "host", "--model", str(audio_model), "--out", str(out), "--run",
                 "--audio", *map(str, wavs)]) == 0
    text = capsys.readouterr().out
    assert "front end:" in text and "instructions per frame" in text
    lines = [ln for ln in text.splitlines() if ln.startswith(str(wavs[0])) or ln.startswith(str(wavs[1]))]
    assert len(lines) == 2 and all(any(c in ln for c in ("park", "bus", "tram", "metro")) for ln in lines)
    assert (out / "firmware" / "frontend" / "acfront_tables.c").is_file()
    fe = json.loads((out / "report.json").read_text())["frontend"]
    assert fe["clips"] == 2 and fe["frames"] == FRAMES and not fe["fixed_point"] and fe["table_bytes"] > 0
    assert "## Audio front end" in (out / "report.md").read_text()


@pytest.mark.parametrize("kind,message", [
    ("rate", "22050 Hz; the model was trained on 16000 Hz"),
    ("stereo", "2 channels; the front end takes mono"),
    ("8bit", "8-bit samples; the front end takes 16-bit PCM"),
    ("float", "not a 16-bit PCM WAV (32-bit float)"),
    ("truncated", "truncated: the header announces"),
])
def test_bad_wavs_are_one_line(audio_model, tmp_path, capsys, kind, message):
    p = tmp_path / f"{kind}.wav"
    if kind == "rate":
        wav(p, clip(), sr=22050)
    elif kind == "stereo":
        wav(p, np.stack([clip(), clip(1)], axis=1))
    elif kind == "8bit":
        wav(p, clip(), subtype="PCM_U8")
    elif kind == "float":
        wav(p, clip(), subtype="FLOAT")
    else:
        wav(p, clip())
        p.write_bytes(p.read_bytes()[:-1001])
    with pytest.raises(DataError, match=re.escape(message)):
        read_pcm16(p, SR)
    out = tmp_path / "out"
    assert main(["build", "--target", "host", "--model", str(audio_model), "--out", str(out), "--run",
                 "--audio", str(p)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(p) in err[0] and message in err[0]
    assert not out.exists()


def test_a_model_without_feature_config_builds_without_the_front_end(tmp_path, capsys, tmp_path_factory):
    model = model_zoo(tmp_path_factory.getbasetemp() / "deploy_models", ["mixed"])["mixed"]
    out = tmp_path / "b"
    assert main(["build", "--target", "host", "--model", str(model), "--out", str(out)]) == 0
    said = capsys.readouterr()
    # not asked for: said in the build's output, stderr stays for errors; asked for: on stderr
    assert "building without the audio front end" in said.out and "front end" not in said.err
    assert not (out / "firmware" / "frontend").exists()
    assert main(["build", "--target", "host", "--model", str(model), "--out", str(tmp_path / "f"), "--frontend"]) == 0
    assert "building without the audio front end" in capsys.readouterr().err
    a = wav(tmp_path / "a.wav", clip())
    assert main(["build", "--target", "host", "--model", str(model), "--out", str(tmp_path / "c"), "--run",
                 "--audio", str(a)]) == 1
    assert "no model_info.json with a feature_config" in capsys.readouterr().err


@pytest.mark.slow
def test_qemu_m4_float_and_m0plus_q31_classify_like_the_host(audio_model, tmp_path, capsys):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm", "gcc", "make")
    wavs = [wav(tmp_path / f"c{i}.wav", clip(i)) for i in range(2)]
    outputs = {}
    for target in ("host", "cortex-m4"):
        out = tmp_path / target
        assert main(["build", "--target", target, "--model", str(audio_model), "--out", str(out), "--run",
                     "--audio", *map(str, wavs)]) == 0
        log = next((out / "firmware" / "build" / target).glob("run.log")).read_text()
        front, clips = frontend_step.audio_results(log)
        assert front["frames"] == FRAMES and front["fixed"] == 0
        if target == "cortex-m4":  # the report's RAM figure is the C's own sizeof sum on a 32-bit core
            fe = json.loads((out / "report.json").read_text())["frontend"]
            assert fe["ram_bytes"] == front["ram_bytes"] and fe["instructions_per_frame"] == front["instructions_per_frame"]
            assert 0 < fe["flash_bytes"] < 64 * 1024
        outputs[target] = [c["outputs"] for c in clips]
        hashes = [c["input_hash"] for c in clips]
    # the M4's loops in assembly (window, mel sums) give the C loops' network inputs, byte for byte
    fw = tmp_path / "cortex-m4" / "firmware"
    subprocess.run(["make", "-s", "-C", str(fw), "TARGET=cortex-m4", "OUT=build/c-window",
                    "OPT=-O2 -DACFRONT_ASM=0"], check=True, capture_output=True)
    run = firmware.run_qemu(fw / "build" / "c-window" / "firmware.elf", "mps2-an386", timeout=600)
    c_front, c_clips = frontend_step.audio_results(run.log)
    assert [c["input_hash"] for c in c_clips] == hashes
    assert c_front["instructions_per_frame"] > front["instructions_per_frame"]  # the C loops: more instructions
    # the same float C on both (the M4 build fuses multiply-adds: rounding may differ, the class not)
    for got, want in zip(outputs["cortex-m4"], outputs["host"], strict=True):
        assert int(np.argmax(got)) == int(np.argmax(want)) and np.abs(np.subtract(got, want)).max() <= 2
    # cortex-m0plus: the q31 front end; the ARMv6-M image runs on QEMU's ARMv7-M mps2-an386
    assert main(["build", "--target", "cortex-m0plus", "--model", str(audio_model), "--out", str(tmp_path / "m0"),
                 "--audio", *map(str, wavs)]) == 0
    run = firmware.run_qemu(firmware.build_firmware(tmp_path / "m0", "cortex-m0plus"), "mps2-an386", timeout=600)
    front, clips = frontend_step.audio_results(run.log)
    assert front["fixed"] == 1 and front["frames"] == FRAMES
    for got, want in zip([c["outputs"] for c in clips], outputs["host"], strict=True):
        assert int(np.argmax(got)) == int(np.argmax(want))


def test_an_input_the_front_end_cannot_feed_is_skipped_unless_asked_for(tmp_path, capsys, tmp_path_factory):
    zoo = model_zoo(tmp_path_factory.getbasetemp() / "deploy_models", ["mixed"])
    model = tmp_path / "mixed.tflite"
    model.write_bytes(zoo["mixed"].read_bytes())  # input [1, 16, 16, 3]
    (tmp_path / "mixed.model_info.json").write_text(json.dumps({"feature_config": FEATURES}))
    assert main(["build", "--target", "host", "--model", str(model), "--out", str(tmp_path / "a")]) == 0
    assert "the audio front end cannot feed it: building without it" in capsys.readouterr().out
    assert main(["build", "--target", "host", "--model", str(model), "--out", str(tmp_path / "b"), "--frontend"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not int8 [1, 32 mels, frames, 1]" in err[0]
    assert not (tmp_path / "b").exists()
