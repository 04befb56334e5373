"""Bad inputs to `acdeploy data features`: one-line error naming the file (and line), exit 1,
no traceback, and no cache (complete or partial) left behind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from data_layouts import FEAT_16K, sets, small_2022_layout

from acdeploy.cli import main

FEATURES = ["data", "features"]


def _features_dir(root: Path) -> list[Path]:
    d = root / ".acdeploy" / "features"
    return list(d.iterdir()) if d.exists() else []


def _fails(capsys, args: list[str], *needles: str) -> str:
    assert main(args) == 1
    err = capsys.readouterr().err
    # What a terminal shows: a cleared progress bar ends in a carriage return.
    lines = [line.rsplit("\r", 1)[-1] for line in err.split("\n")]
    lines = [line for line in lines if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.fixture
def layout(tmp_path) -> Path:
    return small_2022_layout(tmp_path / "d")


def test_good_layout_works(layout, capsys):
    assert main(FEATURES + [str(layout)] + sets(FEAT_16K)) == 0
    assert len(_features_dir(layout)) == 1


def test_missing_dataset_dir(tmp_path, capsys):
    _fails(capsys, FEATURES + [str(tmp_path / "nope")], str(tmp_path / "nope"), "not found")


def test_meta_missing(layout, capsys):
    (layout / "meta.csv").unlink()
    _fails(capsys, FEATURES + [str(layout)], "meta.csv", "not found")


def test_meta_without_needed_columns(layout, capsys):
    (layout / "meta.csv").write_text("filename,scene_label,identifier,source_label\naudio/x.wav,park,p-1,a\n")
    _fails(capsys, FEATURES + [str(layout)], "meta.csv", "line 1", "scene_label")


def test_fold_names_absent_audio(layout, capsys):
    fold = layout / "evaluation_setup" / "fold1_train.csv"
    fold.write_text(fold.read_text() + "audio/park-lisbon-1-2-3-a.wav\tpark\n")
    n_lines = len(fold.read_text().splitlines())
    _fails(capsys, FEATURES + [str(layout)], "fold1_train.csv", f"line {n_lines}", "audio/park-lisbon-1-2-3-a.wav")
    test = layout / "evaluation_setup" / "fold1_test.csv"
    fold.write_text("\n".join(fold.read_text().splitlines()[:-1]) + "\n")
    test.write_text(test.read_text() + "audio/gone-x-1-1-a.wav\n")
    _fails(capsys, FEATURES + [str(layout)], "fold1_test.csv", "audio/gone-x-1-1-a.wav")


def _a_clip(layout: Path, device: str = "s4") -> Path:
    return next(layout.glob(f"audio/*-{device}.wav"))


@pytest.mark.parametrize("workers", [1, 2])
def test_corrupt_wav_leaves_no_cache(layout, capsys, workers, monkeypatch):
    from acdeploy.data import features

    monkeypatch.setattr(features, "CHUNK", 2)  # several tasks: the error comes from a worker
    bad = _a_clip(layout)
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    _fails(capsys, FEATURES + [str(layout)] + sets({**FEAT_16K, "features.workers": workers}),
           bad.name, "not a readable audio file")
    assert _features_dir(layout) == []  # neither a cache nor its temp directory


def test_empty_wav(layout, capsys):
    bad = _a_clip(layout)
    sf.write(bad, np.zeros(0, dtype=np.float32), 8000, subtype="PCM_16")
    _fails(capsys, FEATURES + [str(layout)] + sets(FEAT_16K), bad.name, "empty")
    assert _features_dir(layout) == []


def test_nan_in_float_wav(layout, capsys):
    bad = _a_clip(layout)
    y = np.zeros(4000, dtype=np.float32)
    y[123] = np.nan
    sf.write(bad, y, 8000, subtype="FLOAT")
    _fails(capsys, FEATURES + [str(layout)] + sets(FEAT_16K), bad.name, "NaN")
    assert _features_dir(layout) == []


def test_wrong_config_key(layout, tmp_path, capsys):
    _fails(capsys, FEATURES + [str(layout), "--set", "features.nmels=3"], "features.nmels")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("features:\n  n_mels: 40\n  hopp: 3\n")
    _fails(capsys, FEATURES + [str(layout), "--config", str(cfg)], str(cfg), "features.hopp")
    _fails(capsys, ["data", "synth", str(tmp_path / "s"), "--seconds", "-1"], "data.seconds")
    assert _features_dir(layout) == [] and not (tmp_path / "s").exists()


def test_unwritable_cache_location(layout, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    _fails(capsys, FEATURES + [str(layout), "--cache", str(blocker / "cache")] + sets(FEAT_16K),
           "cannot create the feature cache", "--cache")


def _train_fold_line(layout: Path, name: str) -> int:
    """Append `name` to fold1_train.csv; returns its line number."""
    fold = layout / "evaluation_setup" / "fold1_train.csv"
    lines = fold.read_text().splitlines() + [f"{name}\tpark"]
    fold.write_text("\n".join(lines) + "\n")
    return len(lines)


@pytest.mark.parametrize("name", ["../../../../../../../../etc/passwd", "/etc/passwd", "audio/../../outside.wav"])
def test_fold_path_outside_the_dataset_is_refused(layout, capsys, name):
    (layout.parent / "outside.wav").write_bytes((layout / "audio").iterdir().__next__().read_bytes())
    line = _train_fold_line(layout, name)
    _fails(capsys, FEATURES + [str(layout)] + sets(FEAT_16K), "fold1_train.csv", f"line {line}", name,
           "outside the dataset")
    assert _features_dir(layout) == []


@pytest.mark.parametrize("link", ["file", "dir"])
def test_symlink_escaping_the_dataset_is_refused(layout, tmp_path, capsys, link):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    wav = next((layout / "audio").iterdir())
    (outside / "x.wav").write_bytes(wav.read_bytes())
    if link == "file":
        (layout / "audio" / "x.wav").symlink_to(outside / "x.wav")
        name = "audio/x.wav"
    else:
        (layout / "linked").symlink_to(outside)
        name = "linked/x.wav"
    line = _train_fold_line(layout, name)
    _fails(capsys, FEATURES + [str(layout)] + sets(FEAT_16K), "fold1_train.csv", f"line {line}", name,
           str(outside / "x.wav"))


def test_symlink_inside_the_dataset_is_fine(layout, capsys):
    wav = next((layout / "audio").iterdir())
    (layout / "audio" / "alias-lisbon-1-1-0-a.wav").symlink_to(wav)
    _train_fold_line(layout, "audio/alias-lisbon-1-1-0-a.wav")
    assert main(FEATURES + [str(layout)] + sets(FEAT_16K)) == 0


@pytest.mark.parametrize("table", ["meta.csv", "evaluation_setup/fold1_test.csv"])
def test_meta_and_test_fold_paths_outside_the_dataset_are_refused(layout, capsys, table):
    path = layout / table
    lines = path.read_text().splitlines()
    row = "/etc/passwd\tpark\tlisbon-1\ta" if table == "meta.csv" else "/etc/passwd"
    path.write_text("\n".join(lines + [row]) + "\n")
    _fails(capsys, FEATURES + [str(layout)] + sets(FEAT_16K), table.split("/")[-1], f"line {len(lines) + 1}",
           "/etc/passwd", "outside the dataset")


def _first_train_clip(layout: Path) -> Path:
    fold = (layout / "evaluation_setup" / "fold1_train.csv").read_text().splitlines()
    return layout / fold[1].split("\t")[0]


def test_a_short_first_clip_does_not_set_every_clip_length(layout, capsys):
    """The configured clip length (data.seconds) decides the features' frames, not the first clip:
    a 10-sample first clip used to cut every clip to one frame and exit 0."""
    first = _first_train_clip(layout)
    sf.write(first, np.full(10, 0.1, dtype=np.float32), 8000, subtype="PCM_16")
    assert main(FEATURES + [str(layout)] + sets({**FEAT_16K, "data.seconds": 0.5})) == 0
    cap = capsys.readouterr()
    x = np.load(Path(cap.out.strip()) / "features.npy")
    assert x.shape[2] == 1 + 8000 // 320  # 0.5 s at 16 kHz, hop 320
    assert "1 clip(s) shorter than 0.5 s (data.seconds) were zero-padded" in cap.err and first.name in cap.err
    info = json.loads((Path(cap.out.strip()) / "info.json").read_text())
    assert info["clip_samples"] == 8000 and info["clips_padded"] == 1 and info["clips_cut"] == 0
    # Every other clip keeps its whole half second: its last frames are not silence.
    assert np.all(x[1:, :, -3:].max(axis=(1, 2)) > np.log(1e-6) + 5)


def test_short_clip_refused_when_the_config_says_error(layout, capsys):
    first = _first_train_clip(layout)
    sf.write(first, np.full(10, 0.1, dtype=np.float32), 8000, subtype="PCM_16")
    _fails(capsys, FEATURES + [str(layout)] + sets({**FEAT_16K, "data.seconds": 0.5, "features.short_clips": "error"}),
           first.name, "shorter than the configured clip length", "features.short_clips=pad")
    assert _features_dir(layout) == []
    _fails(capsys, FEATURES + [str(layout), "--set", "features.short_clips=drop"], "features.short_clips", "pad, error")


def test_longer_clips_are_cut_to_the_configured_length(layout, capsys):
    assert main(FEATURES + [str(layout), "--seconds", "0.25"] + sets(FEAT_16K)) == 0
    cap = capsys.readouterr()
    assert np.load(Path(cap.out.strip()) / "features.npy").shape[2] == 1 + 4000 // 320
    assert "clip(s) longer than 0.25 s (data.seconds) were cut" in cap.err


def test_caches_made_before_the_clip_length_setting_keep_their_key(layout):
    """Well-formed data at the default short_clips: the same key as before the setting existed
    (the settings hashed then: every feature field but workers; no clip length)."""
    import dataclasses
    import hashlib

    from data_layouts import feat16k

    from acdeploy.data.dataset import read_dataset
    from acdeploy.data.features import CACHE_FORMAT, cache_key

    index, cfg = read_dataset(layout), feat16k()
    old = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("workers", "short_clips")}
    blob = json.dumps({"format": CACHE_FORMAT, "dataset": index.identity(), "features": old}, sort_keys=True)
    legacy = hashlib.sha256(blob.encode()).hexdigest()[:16]
    assert cache_key(index, cfg, 8000, 8000) == legacy
    assert cache_key(index, cfg, 4000, 8000) != legacy
    assert cache_key(index, dataclasses.replace(cfg, short_clips="error"), 8000, 8000) != legacy
