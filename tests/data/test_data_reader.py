"""The DCASE-layout reader: 2020 and 2022 file names, meta.csv fallbacks, audio loading."""

from __future__ import annotations

import librosa
import numpy as np
import soundfile as sf
from data_layouts import small_2022_layout, write_layout

from acdeploy.data.dataset import device_of, identifier_of, load_audio, read_dataset


def test_2022_names_with_subsegment_token(tmp_path):
    idx = read_dataset(small_2022_layout(tmp_path / "d"))
    assert idx.classes == ("airport", "bus", "park")  # sorted, any number of classes
    assert len(idx) == 18
    assert idx.seen_devices == ("a", "b")
    assert idx.count(split="evaluate", device="s4") == 3
    # Train rows come first (the feature cache keeps each split contiguous).
    assert list(idx.split) == ["train"] * 12 + ["evaluate"] * 6
    i = idx.filenames.index("audio/bus-lisbon-101-10-1-b.wav")
    assert (idx.devices[i], idx.identifiers[i], idx.scene_labels[i]) == ("b", "lisbon-101", "bus")
    assert idx.classes[idx.labels[i]] == "bus" and idx.labels.dtype == np.int64


def test_name_parsing_2020_and_2022():
    assert device_of("audio/airport-lisbon-1000-40000-a.wav") == "a"
    assert device_of("audio/airport-lisbon-1000-40000-3-s5.wav") == "s5"
    assert identifier_of("audio/airport-lisbon-1000-40000-a.wav") == "lisbon-1000"
    assert identifier_of("audio/airport-lisbon-1000-40000-3-s5.wav") == "lisbon-1000"


def test_meta_gives_device_and_identifier_and_files_outside_meta_fall_back(tmp_path):
    root = write_layout(tmp_path / "d", [
        ("audio/park-paris-7-0-a.wav", "park", "train"),
        ("audio/bus-paris-8-0-a.wav", "bus", "evaluate"),
    ])
    meta = root / "meta.csv"
    # meta.csv wins over the file name; a file missing from it falls back to the name.
    meta.write_text("filename\tscene_label\tidentifier\tsource_label\n"
                    "audio/park-paris-7-0-a.wav\tpark\tparis-77\tzz\n")
    idx = read_dataset(root)
    assert idx.devices == ("zz", "a")
    assert idx.identifiers == ("paris-77", "paris-8")
    assert idx.seen_devices == ("zz",)


def test_test_fold_may_be_missing_and_has_only_filenames(tmp_path):
    root = write_layout(tmp_path / "d", [("audio/park-paris-7-0-a.wav", "park", "train"),
                                         ("audio/park-rome-9-0-a.wav", "park", "evaluate")], test_fold=False)
    assert len(read_dataset(root)) == 2
    (root / "evaluation_setup" / "fold1_test.csv").write_text("filename\naudio/park-rome-9-0-a.wav\n")
    assert len(read_dataset(root)) == 2


def test_load_audio_resamples_with_soxr_and_mixes_to_mono(tmp_path):
    rng = np.random.default_rng(0)
    stereo = (0.1 * rng.standard_normal((11025, 2))).astype(np.float32)
    path = tmp_path / "x.wav"
    sf.write(path, stereo, 22050, subtype="FLOAT")
    y = load_audio(path, 16000)
    want = librosa.resample(stereo.mean(axis=1), orig_sr=22050, target_sr=16000, res_type="soxr_hq")
    assert y.dtype == np.float32 and y.shape == (8000,)
    np.testing.assert_allclose(y, want, atol=1e-6)
    # Same rate: the samples as stored, padded or cut to the requested length.
    same = load_audio(path, 22050, n_samples=12000)
    np.testing.assert_allclose(same[:11025], stereo.mean(axis=1), atol=1e-7)
    assert np.all(same[11025:] == 0)
    assert load_audio(path, 22050, n_samples=100).shape == (100,)
