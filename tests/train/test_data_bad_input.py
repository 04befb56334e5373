"""Bad inputs to `acdeploy data features`: one-line error naming the file (and line), exit 1,
no traceback, and no cache (complete or partial) left behind."""

from __future__ import annotations

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
    from acdeploy.train import features

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
