"""Log-mel features: values against a direct librosa call, resampling, cache hits, featstore."""

from __future__ import annotations

import json
import os
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
from data_layouts import FEAT_16K, feat16k, sets

from acdeploy.cli import main
from acdeploy.data import features as features_module
from acdeploy.data.config import FeatureConfig
from acdeploy.data.featstore import INDEX_COLUMNS, open_features
from acdeploy.data.features import extract_features
from acdeploy.data.synth import SynthSpec, synthesize


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out, _ = synthesize(tmp_path_factory.mktemp("feat") / "data",
                        SynthSpec(clips_per_class=3, sample_rate=16000, seed=5), workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def cache16k(dataset) -> Path:
    out, hit = extract_features(dataset, feat16k(), progress=False)
    assert not hit
    return out


def _direct(path: Path, sr: int, n_fft: int, win: int, hop: int) -> np.ndarray:
    y, file_sr = sf.read(str(path), dtype="float32")
    if file_sr != sr:
        y = librosa.resample(y, orig_sr=file_sr, target_sr=sr, res_type="soxr_hq")
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, win_length=win, hop_length=hop,
                                         window="hamming", n_mels=40, power=2.0)
    return np.log(mel + 1e-6)


def test_features_equal_a_direct_librosa_call(dataset, cache16k):
    fs = open_features(cache16k)
    assert fs.x.shape == (30, 40, 51) and fs.x.dtype == np.float32
    assert isinstance(fs.x, np.memmap)
    for i in (0, 17, 29):
        want = _direct(dataset / fs.filenames[i], 16000, 1024, 640, 320)
        np.testing.assert_allclose(fs.x[i], want, rtol=0, atol=1e-4)


def test_default_config_resamples_to_44k1_and_gives_40x51(dataset, tmp_path):
    out, _ = extract_features(dataset, FeatureConfig(workers=2), cache=tmp_path, progress=False)
    fs = open_features(out)
    assert fs.x.shape == (30, 40, 51)
    assert json.loads((out / "info.json").read_text())["clip_samples"] == 44100
    want = _direct(dataset / fs.filenames[3], 44100, 2048, 1764, 882)
    np.testing.assert_allclose(fs.x[3], want, rtol=0, atol=1e-3)


def test_index_info_and_featstore(dataset, cache16k):
    fs = open_features(cache16k)
    lines = (cache16k / "index.csv").read_text().splitlines()
    assert tuple(lines[0].split("\t")) == INDEX_COLUMNS
    info = json.loads((cache16k / "info.json").read_text())
    assert info["shape"] == [30, 40, 51] and info["hash"] == cache16k.name
    assert info["feature_config"]["sample_rate"] == 16000 and "workers" not in info["feature_config"]
    assert fs.classes == sorted(fs.classes) and len(fs.classes) == 10
    assert fs.seen_devices == sorted(set(fs.devices[fs.split == "train"]))
    assert fs.labels.dtype == np.int64
    assert [fs.classes[k] for k in fs.labels[:3]] == [ln.split("\t")[1] for ln in lines[1:4]]
    train, evaluate = fs.subset("train"), fs.subset("evaluate")
    assert len(train) + len(evaluate) == 30 and set(train.split) == {"train"}
    assert isinstance(train.x, np.memmap) and isinstance(evaluate.x, np.memmap)  # contiguous: no copy
    a = fs.subset(fs.devices == "a")
    assert set(a.devices) == {"a"} and len(a.x) == len(a.labels) == len(a.filenames)
    np.testing.assert_array_equal(a.x[0], fs.x[np.flatnonzero(fs.devices == "a")[0]])
    assert len(fs.subset(np.array([2, 0]))) == 2


def test_second_run_is_a_cache_hit_and_changes_invalidate(dataset, cache16k, capsys):
    stamp = (cache16k / "features.npy").stat().st_mtime_ns
    args = ["data", "features", str(dataset)] + sets(FEAT_16K)
    assert main(args) == 0
    cap = capsys.readouterr()
    assert "cache hit" in cap.err and cap.out.strip() == str(cache16k)
    assert (cache16k / "features.npy").stat().st_mtime_ns == stamp
    # workers does not change the key; a feature setting does.
    assert extract_features(dataset, feat16k(workers=2), progress=False) == (cache16k, True)
    other, hit = extract_features(dataset, feat16k(n_mels=32), progress=False)
    assert not hit and other != cache16k and open_features(other).x.shape[1] == 32
    # So does a changed clip (size/mtime).
    wav = dataset / open_features(cache16k).filenames[0]
    st = wav.stat()
    os.utime(wav, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    try:
        moved, hit = extract_features(dataset, feat16k(n_mels=32), progress=False)
        assert not hit and moved != other
    finally:
        os.utime(wav, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_parallel_extraction_equals_serial(dataset, cache16k, tmp_path, monkeypatch):
    monkeypatch.setattr(features_module, "CHUNK", 4)  # several chunks, so the pool really runs
    out, _ = extract_features(dataset, feat16k(workers=2), cache=tmp_path, progress=False)
    np.testing.assert_array_equal(np.load(out / "features.npy"), np.load(cache16k / "features.npy"))
