"""Spectrum correction (data/spectrum_correction.py): profiles against hand computations and the
synthetic devices' true responses, apply() on reference clips only, and a real training run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import librosa
import numpy as np
import pytest
from data_layouts import write_layout

from acdeploy.cli import main
from acdeploy.data import augment as A
from acdeploy.data import spectrum_correction as sc
from acdeploy.data.config import AugmentConfig
from acdeploy.data.featstore import FeatureSet
from acdeploy.data.synth import device_chains, device_response_db
from acdeploy.errors import ConfigError

OFF = {f.name: False for f in dataclasses.fields(AugmentConfig) if f.type in (bool, "bool")}
# The tiny-training settings of test_train_cli.py: 16 kHz, 20 ms hop, 20 mel bands.
FEATURES = ["data.seconds=0.5", "features.sample_rate=16000", "features.n_fft=512", "features.win_length=400",
            "features.hop_length=320", "features.n_mels=20", "features.workers=1",
            "train.batch_size=16", "train.verbose=false"]
SETS = [a for s in FEATURES for a in ("--set", s)]
LOG_OFFSET = 1e-6


def _featureset(names: list[str], splits: list[str], x: np.ndarray) -> FeatureSet:
    devices = [sc.pair_key(n)[1] for n in names]
    return FeatureSet(x=x, labels=np.zeros(len(names), dtype=np.int64), devices=np.asarray(devices),
                      filenames=np.asarray(names), split=np.asarray(splits), identifiers=np.asarray(["c-1"] * len(names)),
                      classes=["bus", "park"], seen_devices=sorted(set(devices)), feature_config={}, root=Path("."))


@pytest.fixture
def hand_built():
    """2020- and 2022-style names; pairs a/b (two), a/c (one), a b without its a twin, an
    evaluate-split a/s1 pair and a train s2 whose a twin is in evaluate (neither may count)."""
    clips = [
        ("audio/bus-lisbon-1-10-a.wav", "train"), ("audio/bus-lisbon-1-10-b.wav", "train"),
        ("audio/park-milan-2-20-3-a.wav", "train"), ("audio/park-milan-2-20-3-b.wav", "train"),
        ("audio/park-milan-2-20-3-c.wav", "train"),
        ("audio/bus-lisbon-1-30-b.wav", "train"),
        ("audio/bus-prague-5-40-a.wav", "evaluate"), ("audio/bus-prague-5-40-s1.wav", "evaluate"),
        ("audio/bus-prague-5-50-a.wav", "evaluate"), ("audio/bus-prague-5-50-s2.wav", "train"),
        ("audio/park-milan-2-60-a.wav", "train"),
    ]
    x = np.random.default_rng(0).normal(-5, 2, (len(clips), 6, 7)).astype(np.float32)
    return _featureset([c[0] for c in clips], [c[1] for c in clips], x)


def test_profiles_equal_an_explicit_loop_over_the_train_pairs(hand_built):
    fs = hand_built
    prof = sc.device_profiles(fs)
    assert sorted(prof) == ["b", "c"]  # s1 pair is evaluate-only, s2 has no train twin
    x = np.asarray(fs.x, dtype=np.float64)
    expect_b = ((x[1] - x[0]).mean(axis=1) + (x[3] - x[2]).mean(axis=1)) / 2
    np.testing.assert_allclose(prof["b"], expect_b, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(prof["c"], (x[4] - x[2]).mean(axis=1), rtol=1e-6, atol=1e-6)
    assert prof["b"].shape == (6,) and prof["b"].dtype == np.float32
    # Restricting the rows (the trainer drops its validation hold-out) drops the pairs outside them.
    only = sc.device_profiles(fs, indices=np.array([2, 3, 4, 0]), chunk=1)
    np.testing.assert_allclose(only["b"], (x[3] - x[2]).mean(axis=1), rtol=1e-6, atol=1e-6)
    assert sorted(only) == ["b", "c"] and sorted(sc.device_profiles(fs, indices=np.array([0, 2, 10]))) == []
    pairs = sc.paired_rows(fs)
    assert pairs["b"].tolist() == [[0, 1], [2, 3]] and pairs["c"].tolist() == [[2, 4]]


def test_a_linear_device_profile_multiplies_the_mel_power_exactly():
    """Features are ln(mel power + offset): a device with per-band power gain g must give the
    profile ln(g), and adding it to the a clip must reproduce the b clip's features."""
    rng = np.random.default_rng(1)
    mel_a = rng.uniform(1e-3, 10.0, (4, 8, 9))
    g = rng.uniform(0.05, 3.0, 8)
    feats = np.log(np.concatenate([mel_a, g[None, :, None] * mel_a]) + LOG_OFFSET).astype(np.float32)
    names = [f"audio/bus-x-1-{k}-a.wav" for k in range(4)] + [f"audio/bus-x-1-{k}-b.wav" for k in range(4)]
    fs = _featureset(names, ["train"] * 8, feats)
    prof = sc.device_profiles(fs)
    np.testing.assert_allclose(prof["b"], np.log(g), atol=2e-3)
    out, devs = sc.apply(feats[:4], np.array(["a"] * 4), prof, np.random.default_rng(2), p=1.0, min_scale=1.0)
    np.testing.assert_allclose(out, feats[4:], atol=2e-3)
    assert devs.tolist() == ["b"] * 4


def test_apply_changes_only_reference_clips_by_a_scaled_profile():
    rng = np.random.default_rng(3)
    x = rng.normal(-6, 2, (64, 10, 5)).astype(np.float32)
    devices = np.array(["a", "a", "b", "s1"] * 16)
    profiles = {"b": rng.normal(0, 1, 10).astype(np.float32), "s1": rng.normal(0, 1, 10).astype(np.float32)}
    x_before = x.copy()
    out, devs = sc.apply(x, devices, profiles, np.random.default_rng(4), p=1.0, min_scale=0.5)
    np.testing.assert_array_equal(x, x_before)  # input untouched
    ref = devices == "a"
    np.testing.assert_array_equal(out[~ref], x[~ref])
    assert devs[~ref].tolist() == devices[~ref].tolist() and set(devs[ref]) == {"b", "s1"}
    diff = (out - x).astype(np.float64)
    scales = []
    for i in np.flatnonzero(ref):
        np.testing.assert_allclose(diff[i], np.repeat(diff[i][:, :1], 5, axis=1), atol=1e-5)  # same every frame
        prof = profiles[devs[i]].astype(np.float64)
        s = float(diff[i][:, 0] @ prof / (prof @ prof))
        np.testing.assert_allclose(diff[i][:, 0], s * prof, atol=1e-5)
        scales.append(s)
    assert 0.5 - 1e-6 <= min(scales) and max(scales) <= 1 + 1e-6 and max(scales) - min(scales) > 0.2
    for p, prof in ((0.0, profiles), (1.0, {})):  # identity: p = 0, or no device has a profile
        same, same_devs = sc.apply(x, devices, prof, np.random.default_rng(5), p=p)
        np.testing.assert_array_equal(same, x)
        assert same_devs.tolist() == devices.tolist()
    half, _ = sc.apply(x, devices, profiles, np.random.default_rng(6), p=0.5)
    changed = np.any(half != x, axis=(1, 2))
    assert not changed[~ref].any() and 0 < changed[ref].sum() < ref.sum()


def test_augment_batch_applies_it_before_device_eq_and_only_when_given_profiles():
    rng = np.random.default_rng(7)
    x = rng.normal(-6, 2, (16, 10, 5)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 16)]
    devices = np.array(["a", "b"] * 8)
    profiles = {"c": rng.normal(0, 1, 10).astype(np.float32)}
    cfg = AugmentConfig(**{**OFF, "spectrum_correction": True, "device_eq": True, "device_eq_p": 1.0,
                           "spectrum_correction_p": 1.0, "spectrum_correction_min_scale": 1.0})
    out, yo = A.augment_batch(x, y, devices, cfg, np.random.default_rng(8), profiles)
    # Every a clip became a simulated c clip; device EQ then left it alone (it is no longer device a).
    np.testing.assert_allclose(out[devices == "a"] - x[devices == "a"],
                               np.broadcast_to(profiles["c"][None, :, None], (8, 10, 5)), atol=1e-5)
    np.testing.assert_array_equal(out[devices == "b"], x[devices == "b"])
    np.testing.assert_array_equal(yo, y)
    off, _ = A.augment_batch(x, y, devices, dataclasses.replace(cfg, spectrum_correction=False), np.random.default_rng(8))
    assert np.any(off[devices == "a"] != x[devices == "a"])  # without it, device EQ does change them
    with pytest.raises(ValueError, match="no device profiles"):
        A.augment_batch(x, y, devices, cfg, np.random.default_rng(8))
    from acdeploy.train.batches import Batches, Standardizer

    with pytest.raises(ConfigError, match="augment.spectrum_correction"):
        Batches(x, np.zeros(16, dtype=int), devices, np.arange(16), 4, 8, Standardizer(0.0, 1.0), cfg)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    data = tmp_path_factory.mktemp("sc") / "data"
    assert main(["data", "synth", str(data), "--clips-per-class", "8", "--seconds", "0.5",
                 "--sample-rate", "16000", "--seed", "1"]) == 0
    return data


def _config(**extra):
    from acdeploy.config import parse_override
    from acdeploy.schema import load_config

    return load_config(None, dict(parse_override(s) for s in FEATURES) | extra)


def _features(data):
    from acdeploy.data.featstore import open_features
    from acdeploy.data.features import ensure_features

    cfg = _config()
    return open_features(ensure_features(data, cfg.features, progress=False, seconds=cfg.data.seconds))


def test_synthetic_profiles_follow_the_simulated_device_chains(synth):
    fs = _features(synth)
    prof = sc.device_profiles(fs)
    assert sorted(prof) == ["b", "c", "s1", "s2", "s3"]  # the paired train devices; s4-s6 are unseen
    fc = _config().features
    f = np.fft.rfftfreq(fc.n_fft, 1 / fc.sample_rate)
    mel = librosa.filters.mel(sr=fc.sample_rate, n_fft=fc.n_fft, n_mels=fc.n_mels, fmin=fc.fmin, fmax=fc.fmax)
    chains = device_chains(0.5)  # the synth default difficulty

    def band_power(name):  # the chain's linear power response through the mel filterbank
        return mel @ 10 ** (device_response_db(chains[name], f, fc.sample_rate) / 10)

    for device in ("b", "c"):
        true = np.log(band_power(device) / band_power("a"))
        assert np.corrcoef(prof[device], true)[0, 1] > 0.95, device
        # Shape within 1 dB rms (the level differs: the chains also compress and clip).
        assert np.std(prof[device] - true) * sc.DB_PER_LOG < 1.0, device
    assert np.corrcoef(prof["b"], prof["c"])[0, 1] < 0.9  # devices are told apart, not one average


@pytest.mark.slow
def test_training_run_with_spectrum_correction_saves_its_profiles(synth, tmp_path):
    from acdeploy.train import modeldir as md
    from acdeploy.train.batches import validation_split

    out = tmp_path / "student"
    assert main(["train", "student", "--no-kd", "--data", str(synth), "--out", str(out), "--width", "0.25",
                 "--depth", "1", "--epochs", "1", *SETS, "--set", "augment.spectrum_correction=true",
                 "--set", "augment.spectrum_correction_p=1.0"]) == 0
    assert md.is_finished(out)
    saved = json.loads((out / md.PROFILES).read_text())
    train = _features(synth).subset("train")
    tr_idx, val_idx = validation_split(train.labels, train.identifiers, 0.15, 0)
    expect = sc.device_profiles(train, "a", tr_idx)
    assert sorted(saved["log_ratio"]) == sorted(expect) and saved["reference"] == "a"
    for d, v in expect.items():
        np.testing.assert_allclose(saved["log_ratio"][d], v, atol=1e-5)
        np.testing.assert_allclose(saved["db"][d], v * sc.DB_PER_LOG, atol=1e-2)
        assert saved["pairs"][d] == len(sc.paired_rows(train, "a", tr_idx)[d]) >= 1
    # The profiles come from the training rows only: pairs in the validation hold-out are left out.
    held_out = sc.paired_rows(train, "a", val_idx)
    assert held_out, "the fixture's validation split should hold some pairs"
    with_val = sc.device_profiles(train)
    assert any(not np.allclose(with_val[d], expect[d]) for d in held_out if d in expect)


def test_no_paired_recordings_is_a_one_line_error(tmp_path, capsys):
    """Train clips all on device a (the evaluate fold has a b twin, which must not count)."""
    clips = [(f"audio/{s}-lisbon-{10 * c + k}-{k}-a.wav", s, "train") for c, s in enumerate(("bus", "park")) for k in range(3)]
    clips += [(f"audio/{s}-milan-{90 + c}-50-{d}.wav", s, "evaluate") for c, s in enumerate(("bus", "park")) for d in ("a", "b")]
    data = write_layout(tmp_path / "only_a", clips, sr=16000)
    _features(data)  # extract first: only the error line on stderr
    out = tmp_path / "student"
    capsys.readouterr()
    code = main(["train", "student", "--no-kd", "--data", str(data), "--out", str(out), *SETS,
                 "--set", "augment.spectrum_correction=true"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1, err
    assert err.startswith("error:") and str(data) in err and "no paired recordings" in err
    assert not out.exists()
    code = main(["train", "student", "--no-kd", "--data", str(data), "--out", str(out), *SETS,
                 "--set", "augment.spectrum_correction_p=1.5"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "spectrum_correction_p" in err and not out.exists()


def test_runs_saved_before_the_new_keys_still_resume():
    """A run dir written before spectrum correction existed has no such keys: they mean the default."""
    from acdeploy.config import to_dict
    from acdeploy.train.run import _config_diff

    now = to_dict(_config())
    saved = json.loads(json.dumps(now))
    for key in [k for k in saved["augment"] if k.startswith("spectrum_correction")]:
        del saved["augment"][key]
    assert _config_diff(saved, now, "student") == []
    now["augment"]["spectrum_correction"] = True
    assert _config_diff(saved, now, "student") == ["augment.spectrum_correction"]
