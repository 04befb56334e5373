"""model_info.json as a typed artifact (acdeploy/model_info.py): round trip, and one-line ModelErrors
naming the file and the key for hostile or truncated files (not a KeyError or TypeError in
whichever stage reads the key first)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from acdeploy import artifacts
from acdeploy.cli import main
from acdeploy.errors import ModelError
from acdeploy.model_info import ModelInfo, Standardize
from acdeploy.train.modeldir import read_info

MODEL = Path(__file__).parent / "deploy" / "golden" / "mixed.tflite"
TRAINED = {  # what train/run.py writes (abridged)
    "role": "student", "classes": ["airport", "bus"], "input_shape": [40, 51, 1], "outputs": "logits",
    "standardize": {"mean": -4.5, "std": 2.0},
    "feature_config": {"sample_rate": 44100, "n_fft": 2048, "hop_length": 882, "n_mels": 40, "fmin": 0.0,
                       "fmax": None, "window": "hann"},
    "seen_devices": ["a", "b"], "model": {"name": "student", "width": 1.0, "depth": 1}, "params": 1234,
    "macs": 56789, "dataset": "/data/tau", "n_train": 10, "n_val": 2, "distill": None,
}


def test_round_trip_keeps_every_key():
    info = ModelInfo.from_dict(TRAINED)
    assert info.classes == ["airport", "bus"] and info.input_shape == [40, 51, 1]
    assert info.standardize == Standardize(-4.5, 2.0) and info.standardisation() == (-4.5, 2.0)
    assert info.extra["params"] == 1234 and info.extra["distill"] is None
    assert info.to_dict() == TRAINED
    assert ModelInfo.from_json(info.to_json()) == info


def test_with_replaces_typed_fields_and_adds_extra_keys():
    info = ModelInfo.from_dict(TRAINED).with_(role="lth", standardize=Standardize(0.0, 1.0), n_train=7, lth={"level": 1})
    d = info.to_dict()
    assert d["role"] == "lth" and d["standardize"] == {"mean": 0.0, "std": 1.0}
    assert d["n_train"] == 7 and d["lth"] == {"level": 1} and d["classes"] == TRAINED["classes"]


def test_empty_object_is_a_valid_deploy_sidecar():
    info = ModelInfo.from_dict({})
    assert info.classes is None and info.standardisation() == (0.0, 1.0) and info.to_dict() == {}


@pytest.mark.parametrize("text,message", [
    ("[1, 2]", "not a JSON object (a list)"),
    ('"x"', "not a JSON object (a str)"),
    ('{"classes": ["a"', "not valid JSON"),
    ('{"classes": "airport"}', "classes is 'airport', not a list of strings"),
    ('{"classes": [1, 2]}', "classes is [1, 2], not a list of strings"),
    ('{"input_shape": [40, "51", 1]}', "input_shape is [40, '51', 1], not a list of positive integers"),
    ('{"input_shape": [40, -1, 1]}', "input_shape is [40, -1, 1], not a list of positive integers"),
    ('{"standardize": 3}', "standardize is 3, not an object with mean and std"),
    ('{"standardize": {"mean": 0.0}}', "missing key 'standardize.std'"),
    ('{"standardize": {"mean": "0", "std": 1}}', "standardize.mean is '0', not a finite number"),
    ('{"standardize": {"mean": 0, "std": 0}}', "standardize.std is 0, not a positive number"),
    ('{"feature_config": [1]}', "feature_config is [1], not an object"),
    ('{"feature_config": {"hop_length": true}}', "feature_config.hop_length is True, not a finite number"),
    ('{"feature_config": {"window": 5}}', "feature_config.window is 5, not a string"),
    ('{"dataset": ["a"]}', "dataset is ['a'], not a string"),
])
def test_bad_file_is_one_line_model_error_naming_file_and_key(tmp_path, text, message):
    path = tmp_path / artifacts.MODEL_INFO
    path.write_text(text)
    with pytest.raises(ModelError) as e:
        ModelInfo.read(path)
    assert str(e.value).startswith(f"{path}: ") and message in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("key", ["classes", "input_shape", "standardize"])
def test_model_dir_needs_its_keys(tmp_path, key):
    (tmp_path / artifacts.MODEL_KERAS).write_text("")
    (tmp_path / artifacts.MODEL_INFO).write_text(json.dumps({k: v for k, v in TRAINED.items() if k != key}))
    with pytest.raises(ModelError, match=f"model_info.json: missing key '{key}'"):
        read_info(tmp_path)


def test_truncated_sidecar_fails_build_with_one_line(tmp_path, capsys):
    model = tmp_path / "asc.tflite"
    model.write_bytes(MODEL.read_bytes())
    (tmp_path / "asc.model_info.json").write_text('{"classes": ["a", "b"], "standardize": {"mean": 1')
    assert main(["report", str(model)]) == 1
    err = capsys.readouterr().err
    assert "asc.model_info.json: not valid JSON" in err and len(err.strip().splitlines()) == 1


def test_hostile_sidecar_standardize_is_model_error_not_key_error(tmp_path, capsys):
    model = tmp_path / "asc.tflite"
    model.write_bytes(MODEL.read_bytes())
    (tmp_path / "asc.model_info.json").write_text('{"standardize": {"std": 2.0}}')
    assert main(["build", "--target", "host", "--model", str(model), "--out", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert "asc.model_info.json: missing key 'standardize.mean'" in err and "Traceback" not in err
