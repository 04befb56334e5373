"""The synthetic dataset: exact DCASE layout, split/device design, determinism, difficulty."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from data_layouts import feat16k

from acdeploy.cli import main
from acdeploy.data.dataset import read_dataset
from acdeploy.data.featstore import open_features
from acdeploy.data.features import ensure_features
from acdeploy.data.synth import DEVICES, SCENES, SynthSpec, synthesize

NAME = re.compile(r"^audio/([a-z_]+)-([a-z]+)-(\d+)-(\d+)-(a|b|c|s[1-6])\.wav$")


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "data"
    args = ["data", "synth", str(out), "--clips-per-class", "20", "--sample-rate", "16000", "--seed", "3"]
    assert main(args + ["--set", "data.synth_workers=2"]) == 0
    return out


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_files_and_headers_are_exactly_dcase(synth_dir):
    meta = _lines(synth_dir / "meta.csv")
    assert meta[0] == "filename\tscene_label\tidentifier\tsource_label"
    setup = synth_dir / "evaluation_setup"
    assert _lines(setup / "fold1_train.csv")[0] == "filename\tscene_label"
    assert _lines(setup / "fold1_evaluate.csv")[0] == "filename\tscene_label"
    test = _lines(setup / "fold1_test.csv")
    assert test[0] == "filename"
    evaluate = [line.split("\t")[0] for line in _lines(setup / "fold1_evaluate.csv")[1:]]
    assert test[1:] == evaluate
    for row in meta[1:]:
        name, scene, identifier, device = row.split("\t")
        m = NAME.match(name)
        assert m, name
        assert m.group(1) == scene and m.group(5) == device
        assert identifier == f"{m.group(2)}-{m.group(3)}"
    audio = sorted(p.name for p in (synth_dir / "audio").iterdir())
    assert audio == sorted(Path(r.split("\t")[0]).name for r in meta[1:])
    assert "synthetic" in (synth_dir / "README.txt").read_text()
    info = sf.info(str(synth_dir / meta[1].split("\t")[0]))
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 16000, "PCM_16")


def test_round_trip_split_and_devices(synth_dir):
    idx = read_dataset(synth_dir)
    assert idx.classes == tuple(sorted(SCENES))
    assert len(idx) == 200
    for scene in SCENES:
        assert idx.count(label=scene) == 20
        assert idx.count(split="evaluate", label=scene) == 6
    train_devices = {d for d, s in zip(idx.devices, idx.split, strict=True) if s == "train"}
    assert train_devices == {"a", "b", "c", "s1", "s2", "s3"} == set(idx.seen_devices)
    for d in ("s4", "s5", "s6"):
        assert idx.count(split="train", device=d) == 0 and idx.count(split="evaluate", device=d) > 0
    assert idx.count(split="train", device="a") / idx.count(split="train") >= 0.7
    eval_counts = [idx.count(split="evaluate", device=d) for d in DEVICES]
    assert max(eval_counts) - min(eval_counts) <= 1  # balanced over devices
    # Train and evaluate come from different recording locations.
    train_locs = {i for i, s in zip(idx.identifiers, idx.split, strict=True) if s == "train"}
    eval_locs = {i for i, s in zip(idx.identifiers, idx.split, strict=True) if s == "evaluate"}
    assert train_locs and eval_locs and not train_locs & eval_locs


def test_parallel_recordings_share_the_scene(synth_dir):
    """A segment's device-b file is the device-a scene through another chain: it correlates with
    its own device-a recording far more than with another segment's."""
    idx = read_dataset(synth_dir)
    pairs = [n for n, d in zip(idx.filenames, idx.devices, strict=True) if d == "b"][:3]

    def spec(name):
        y, _ = sf.read(str(synth_dir / name))
        return np.log(np.abs(np.fft.rfft(y)) ** 2 + 1e-9)[200:4000]

    for name in pairs:
        twin = name[: -len("-b.wav")] + "-a.wav"
        other = next(n for n in idx.filenames if n.endswith("-a.wav") and n != twin)
        own = np.corrcoef(spec(name), spec(twin))[0, 1]
        assert own > np.corrcoef(spec(name), spec(other))[0, 1] + 0.2


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    spec = SynthSpec(clips_per_class=4, seconds=0.5, sample_rate=16000, seed=7)
    a, _ = synthesize(tmp_path / "a", spec, workers=1, progress=False)
    b, _ = synthesize(tmp_path / "b", spec, workers=2, progress=False)  # scheduling must not matter
    c, _ = synthesize(tmp_path / "c", SynthSpec(4, 0.5, 16000, seed=8), workers=1, progress=False)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    wav_a = sorted((a / "audio").iterdir())[0].read_bytes()
    wav_c = sorted((c / "audio").iterdir())[0].read_bytes()
    assert wav_a != wav_c


def test_rerun_keeps_identical_dataset_and_refuses_foreign_dir(tmp_path, capsys):
    out = tmp_path / "d"
    args = ["data", "synth", str(out), "--clips-per-class", "2", "--seconds", "0.25", "--sample-rate", "8000"]
    assert main(args) == 0
    stamp = (out / "meta.csv").stat().st_mtime_ns
    assert main(args) == 0
    assert "kept" in capsys.readouterr().out
    assert (out / "meta.csv").stat().st_mtime_ns == stamp
    # Other settings replace our own dataset ...
    assert main(args[:-1] + ["16000"]) == 0
    assert sf.info(str(next((out / "audio").iterdir()))).samplerate == 16000
    # ... but never a directory we did not make.
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert main(["data", "synth", str(foreign)]) == 1
    assert "not an acdeploy synthetic dataset" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_difficulty_probe_is_well_below_perfect(tmp_path):
    """A logistic regression on per-band mean log-mels must be clearly above chance (10 %) and
    clearly below 100 % on the evaluate fold (the data is meant to be hard, not noise)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data, _ = synthesize(tmp_path / "probe", SynthSpec(clips_per_class=30, sample_rate=16000, seed=1),
                         workers=2, progress=False)
    fs = open_features(ensure_features(data, feat16k(workers=2), progress=False))
    x = fs.x.mean(axis=2)
    train = fs.split == "train"
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x[train], fs.labels[train])
    seen = ~train & np.isin(fs.devices, fs.seen_devices)
    acc = float(np.mean(clf.predict(x[seen]) == fs.labels[seen]))
    assert 0.2 < acc < 0.95, acc
