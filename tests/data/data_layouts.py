"""Hand-made DCASE-layout datasets for the data-stage tests (tiny, written with soundfile)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from acdeploy.data.config import FeatureConfig

# A 16 kHz feature config with the DCASE baseline's 40 ms / 20 ms framing: 40 x 51 per second.
FEAT_16K = {"features.sample_rate": 16000, "features.n_fft": 1024, "features.win_length": 640,
            "features.hop_length": 320, "features.workers": 1}


def feat16k(**kw) -> FeatureConfig:
    d = {k.split(".", 1)[1]: v for k, v in FEAT_16K.items()}
    d.update(kw)
    return FeatureConfig(**d)


def sets(overrides: dict) -> list[str]:
    """--set flags for a dict of dotted keys."""
    out = []
    for k, v in overrides.items():
        out += ["--set", f"{k}={v}"]
    return out


def write_layout(root: Path, clips: list[tuple[str, str, str]], sr: int = 8000, seconds: float = 0.5,
                 meta: bool = True, test_fold: bool = True, seed: int = 0) -> Path:
    """clips: (filename, scene_label, split). Writes WAVs, meta.csv and the fold files."""
    rng = np.random.default_rng(seed)
    (root / "evaluation_setup").mkdir(parents=True, exist_ok=True)
    meta_rows = ["filename\tscene_label\tidentifier\tsource_label"]
    folds = {"train": ["filename\tscene_label"], "evaluate": ["filename\tscene_label"]}
    test = ["filename"]
    for name, label, split in clips:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.1 * rng.standard_normal(int(sr * seconds))).astype(np.float32), sr, subtype="PCM_16")
        tokens = Path(name).stem.split("-")
        meta_rows.append(f"{name}\t{label}\t{tokens[1]}-{tokens[2]}\t{tokens[-1]}")
        folds[split].append(f"{name}\t{label}")
        if split == "evaluate":
            test.append(name)
    if meta:
        (root / "meta.csv").write_text("\n".join(meta_rows) + "\n")
    for split, rows in folds.items():
        (root / "evaluation_setup" / f"fold1_{split}.csv").write_text("\n".join(rows) + "\n")
    if test_fold:
        (root / "evaluation_setup" / "fold1_test.csv").write_text("\n".join(test) + "\n")
    return root


def small_2022_layout(root: Path, **kw) -> Path:
    """Three classes, 2022-style names (with the subsegment token), devices a/b train, s4 evaluate."""
    clips = []
    for c, scene in enumerate(("park", "bus", "airport")):
        for seg in range(2):
            for dev in ("a", "b"):
                clips.append((f"audio/{scene}-lisbon-{100 + c}-{seg * 10}-{seg}-{dev}.wav", scene, "train"))
        clips.append((f"audio/{scene}-milan-{200 + c}-90-0-a.wav", scene, "evaluate"))
        clips.append((f"audio/{scene}-milan-{200 + c}-90-0-s4.wav", scene, "evaluate"))
    return write_layout(root, clips, **kw)
