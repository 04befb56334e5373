"""`acdeploy eval --engine c-audio`: the firmware's own C, front end and network, built for the host,
over a dataset's WAV files, next to the host pipeline (librosa -> int8 -> TFLite Micro).

The clips are read as the device gets them (mono 16-bit PCM at the model's rate, deploy/wav_pcm.py),
cut or padded to the front end's clip length, and streamed through `firmware --audio-stream`, which
returns per clip the int8 model input the C front end computed and the network's int8 output. The
host's int8 inputs are the cached training features, standardised and quantized as every other
engine does it; agreement is reported as the share of equal input bytes, their largest difference
and the share of clips whose predicted class equals TFLite Micro's on the host's inputs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from acdeploy import artifacts, fileio
from acdeploy.errors import ModelError, ToolchainError


def run_audio_engine(model: bytes, model_path: Path, info, clips: np.ndarray) -> tuple[np.ndarray, np.ndarray, object]:
    """(int8 inputs [n, n_mels * frames], int8 outputs [n, classes], spec) of the host build of
    front end + network for int16 clips [n, clip_samples]."""
    from acdeploy.deploy import c_engine, firmware, frontend, frontend_step

    with fileio.scratch_dir("acdeploy-c-audio-") as tmp:
        fw = tmp / artifacts.FIRMWARE_DIR
        graph, net = c_engine.write_network_project(model, fw, name=str(model_path))
        spec = frontend.spec_for(info, graph, str(model_path))
        frontend_step.write_frontend(fw, spec, model_path.name)
        exe = firmware.build_firmware(tmp, "host")
        n_in = spec.features.n_mels * spec.frames
        n_out = int(np.prod(graph.tensor(net.output_tensor).shape))
        proc = subprocess.run([str(exe), "--audio-stream"], input=np.ascontiguousarray(clips, np.int16).tobytes(),
                              capture_output=True)
        if proc.returncode != 0 or len(proc.stdout) != len(clips) * (n_in + n_out):
            raise ToolchainError(f"the host build of front end + network failed in --audio-stream mode "
                                 f"(exit {proc.returncode}, {len(proc.stdout)} of {len(clips) * (n_in + n_out)} bytes "
                                 f"out): {proc.stderr.decode(errors='replace').strip()[:200]}")
    rec = np.frombuffer(proc.stdout, dtype=np.int8).reshape(len(clips), n_in + n_out)
    return rec[:, :n_in].copy(), rec[:, n_in:].copy(), (spec, graph, net)


def dataset_dir(features) -> Path:
    """The dataset a feature cache was made from (its info.json records it)."""
    import json

    from acdeploy.data.featstore import INFO

    return Path(json.loads((Path(features.root) / INFO).read_text())["dataset"])


def evaluate_audio(model_path: str | Path, features, info) -> dict:
    """DCASE metrics of front end + network on the split's WAVs, plus agreement with the host pipeline."""
    from acdeploy.deploy.evaluate import _run_tflm, check_int8, read_model, standardisation
    from acdeploy.deploy.wav_pcm import clip_pcm
    from acdeploy.interpreters import as_probabilities
    from acdeploy.metrics import dcase_metrics

    model_path = Path(model_path)
    model = read_model(model_path)
    check_int8(model, str(model_path))
    if info is None or not info.feature_config:
        raise ModelError(f"{model_path}: no model_info.json with a feature_config beside it: "
                         f"engine c-audio needs the model's feature settings")
    from acdeploy.deploy import frontend
    from acdeploy.deploy.validate import load_graph

    spec = frontend.spec_for(info, load_graph(model, name=str(model_path)), str(model_path))
    clips = np.stack([clip_pcm(dataset_dir(features) / name, spec) for name in features.filenames])
    c_in, c_out, (spec, graph, net) = run_audio_engine(model, model_path, info, clips)
    tin, tout = graph.tensor(net.input_tensor), graph.tensor(net.output_tensor)
    mean, std = standardisation(info)
    x = (np.asarray(features.x, dtype=np.float32) - mean) / std
    scale, zp = float(tin.quant.scale[0]), int(tin.quant.zero_point[0])
    host_in = np.clip(np.round(x.reshape(len(x), -1) / np.float32(scale)) + zp, -128, 127).astype(np.int8)
    diff = np.abs(c_in.astype(np.int16) - host_in.astype(np.int16))
    prob = as_probabilities((c_out.astype(np.float64) - int(tout.quant.zero_point[0])) * float(tout.quant.scale[0]))
    host_prob = as_probabilities(_run_tflm(model, x, name=str(model_path)))
    m = dcase_metrics(features.labels, prob, features.devices, features.classes, features.seen_devices)
    pred = np.argmax(prob, axis=1)
    m.update({
        "engine": "c-audio", "model": str(model_path),
        "input_bytes_equal": float(np.mean(diff == 0)),
        "input_max_abs_diff": int(diff.max()) if diff.size else 0,
        "prediction_agreement": float(np.mean(pred == np.argmax(host_prob, axis=1))),
        "predictions": pred.tolist(),
        "probabilities": np.round(prob, 5).tolist(),
    })
    return m


def agreement_line(m: dict) -> str:
    return (f"c-audio vs host pipeline (librosa -> int8 -> TFLite Micro): int8 inputs equal on "
            f"{100 * m['input_bytes_equal']:.2f} % of bytes (max abs diff {m['input_max_abs_diff']}), "
            f"predictions equal on {100 * m['prediction_agreement']:.1f} % of clips")
