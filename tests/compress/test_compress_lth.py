"""The LTH level runner with the real trainer, TF-MOT and a tiny student on tiny data:
sparsity per level, nested masks (no pruned weight returns), controls, resume, ticket rule,
and bad inputs through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from acdeploy.cli import main
from acdeploy.compress import lth as L
from acdeploy.compress.masks import Mask
from acdeploy.schema import load_config
from acdeploy.train.session import TrainingSession

pytestmark = pytest.mark.slow  # trains models or runs QEMU: `make test-fast` leaves it out

CLASSES = list("wxyz")


def _features(root):
    rng = np.random.default_rng(0)
    n = 200
    y = rng.integers(0, 4, n)
    ramp = np.linspace(-1, 1, 16)
    x = rng.normal(size=(n, 16, 16)) + 1.5 * np.where(y[:, None, None] % 2, ramp[None, :, None], ramp[None, None, :]) * (1 + y[:, None, None] // 2)
    devs = np.array(["a", "b", "s4"])[rng.integers(0, 3, n)]
    names = [f"sc{y[i]}-city{i % 5}-loc{i % 9}-{i}-{devs[i]}.wav" for i in range(n)]

    def part(idx):
        return SimpleNamespace(x=x[idx].astype(np.float32), labels=y[idx], devices=devs[idx],
                               filenames=[names[i] for i in idx], classes=CLASSES, seen_devices=["a", "b"],
                               root=root, feature_config={})

    return part(np.arange(150)), part(np.arange(150, 200))


def _cfg(**over):
    base = {"student.width": 0.25, "student.dropout": 0.0, "train.epochs": 2, "train.batch_size": 50,
            "train.learning_rate": 0.01, "train.verbose": False, "lth.levels": 2, "lth.prune_fraction": 0.5,
            "lth.rewind_epoch": 1, "lth.first_layer_rate": 1.0, "lth.last_layer_rate": 1.0,
            "lth.scope": "global", "lth.min_layer_density": 0.0}
    base.update(over)
    return load_config(None, base)


def _run(cfg, out: Path, controls=()):
    train, evaluate = _features(out)
    info_dir = out.parent / "dense"
    info_dir.mkdir(parents=True, exist_ok=True)
    (info_dir / "model_info.json").write_text(json.dumps({"classes": CLASSES, "input_shape": [16, 16, 1],
                                                          "standardize": {"mean": 0.0, "std": 1.0}}))
    run = L.Run(TrainingSession(cfg, train, evaluate, "synthetic"), info_dir, out)
    run.session.batches.augment_cfg = None  # augmentation has its own tests; keep these runs short
    run.dense()
    for k in range(1, cfg.lth.levels + 1):
        run.level(k)
    for c in controls:
        run.control(c)
    return L.summarize(out, cfg.lth)


@pytest.fixture(scope="module")
def trunk(tmp_path_factory):
    out = tmp_path_factory.mktemp("lth") / "run"
    cfg = _cfg()
    return cfg, out, _run(cfg, out, controls=("reinit", "oneshot"))


def _mask(out, k):
    return Mask.load(out / L.level_name(k) / "mask.npz")


def test_sparsity_per_level(trunk):
    cfg, out, summary = trunk
    n = _mask(out, 0).total
    for k in range(cfg.lth.levels + 1):
        m = _mask(out, k)
        # exact counts with one global ranking: ceil rounding adds at most one weight per level
        assert abs(m.sparsity - (1 - 0.5**k)) <= k / n + 1e-12
        assert abs(summary["levels"][k]["sparsity"] - m.sparsity) < 1e-12


def test_masks_nest_and_models_honour_them(trunk):
    from acdeploy.compress import tfmot_wrap as tw
    from acdeploy.train.modeldir import load_logits_model

    cfg, out, _ = trunk
    for k in range(1, cfg.lth.levels + 1):
        prev, cur = _mask(out, k - 1), _mask(out, k)
        kern = tw.kernels(load_logits_model(out / L.level_name(k)))
        for name in cur:
            assert not np.any(cur[name] & (1 - prev[name])), f"level {k} {name}: a pruned weight came back"
            assert not np.any(kern[name][cur[name] == 0]), f"level {k} {name}: masked weight non-zero"


def test_controls_and_summary(trunk):
    cfg, out, summary = trunk
    final = _mask(out, cfg.lth.levels)
    reinit = Mask.load(out / "branches" / "reinit" / "mask.npz")
    oneshot = Mask.load(out / "branches" / "oneshot" / "mask.npz")
    assert all(np.array_equal(reinit[k], final[k]) for k in final)
    assert abs(oneshot.sparsity - final.sparsity) < 0.01
    assert not all(np.array_equal(oneshot[k], final[k]) for k in final)
    assert {b["name"] for b in summary["branches"]} == {"reinit", "oneshot"}
    assert (out / "lth.png").stat().st_size > 1000
    for r in summary["levels"] + summary["branches"]:
        assert 0.0 <= r["accuracy"] <= 1.0 and np.isfinite(r["log_loss"]) and r["nonzero_params"] > 0
    # the ticket rule, recomputed by hand
    floor = summary["levels"][0]["accuracy"] - cfg.lth.max_drop / 100
    ok = [r for r in summary["levels"][1:] if r["accuracy"] >= floor and r["nonzero_bytes_int8"] <= cfg.lth.budget_bytes]
    if ok:
        assert summary["ticket"] == max(ok, key=lambda r: r["sparsity"])["name"]
        assert (out / "ticket" / "model.keras").is_file() and (out / "ticket" / "model_info.json").is_file()


def test_resume_gives_the_same_masks(trunk, tmp_path):
    """Kill during level 1: only level 0 and the rewind weights survive; the rerun must
    recompute the same masks as the uninterrupted run."""
    cfg, out, _ = trunk
    resumed = tmp_path / "run"
    resumed.mkdir()
    shutil.copytree(out / "level_00", resumed / "level_00")
    shutil.copy(out / L.REWIND, resumed / L.REWIND)
    _run(cfg, resumed)
    for k in (1, 2):
        a, b = _mask(out, k), _mask(resumed, k)
        assert all(np.array_equal(a[n], b[n]) for n in a), f"level {k} masks differ after resume"


def test_polynomial_schedule_level(trunk, tmp_path):
    """A TF-MOT PolynomialDecay ramps each layer from level 0 to 50 % during retraining."""
    _, trunk_out, _ = trunk
    cfg = _cfg(**{"lth.levels": 1, "lth.schedule": "polynomial", "lth.scope": "layer"})
    out = tmp_path / "run"
    out.mkdir()
    shutil.copytree(trunk_out / "level_00", out / "level_00")
    shutil.copy(trunk_out / L.REWIND, out / L.REWIND)
    _run(cfg, out)
    m0, m1 = _mask(out, 0), _mask(out, 1)
    assert all(not np.any(m1[k] & (1 - m0[k])) for k in m1)
    for name, layer in m1.report()["layers"].items():
        assert abs(layer["sparsity"] - 0.5) <= 1.0 / layer["total"] + 0.02, name


def _model_dir(tmp_path) -> Path:
    d = tmp_path / "student"
    d.mkdir()
    (d / "config.yaml").write_text("train:\n  epochs: 3\n")
    return d


@pytest.mark.parametrize("args, words", [
    (["--set", "lth.rewind_epoch=3"], "rewind_epoch"),
    (["--prune-fraction", "1.0"], "prune_fraction"),
    (["--prune-fraction", "-0.2"], "prune_fraction"),
    (["--set", "lth.first_layer_rate=3", "--prune-fraction", "0.5"], "first_layer_rate"),
    ([], "not a model directory"),
])
def test_bad_lth_inputs(tmp_path, capsys, args, words):
    d = _model_dir(tmp_path)
    out = tmp_path / "out"
    assert main(["compress", "lth", "--model", str(d), "--out", str(out), "--epochs", "3", *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and words in err and err.count("\n") == 1
    assert not out.exists()


def test_bad_quantize_inputs(tmp_path, capsys):
    d = _model_dir(tmp_path)
    assert main(["compress", "quantize", "--model", str(d), "--out", str(tmp_path / "m.tflite")]) == 1
    assert "not a model directory" in capsys.readouterr().err
    assert not (tmp_path / "m.tflite").exists()


def test_spectrum_correction_profiles_reach_lth_retraining(tmp_path):
    """With augment.spectrum_correction on, every level retrains on the same device profiles as
    dense training: computed from the level's own training rows (paired a/b recordings here)."""
    from acdeploy.data.spectrum_correction import device_profiles

    train, evaluate = _features(tmp_path)
    n = len(train.labels)
    # recordings 2k and 2k+1 are one segment on devices a and b, b louder by a fixed ramp
    train.filenames = [f"sc{train.labels[i - i % 2]}-city0-loc{i // 20}-{i // 2}-{'ab'[i % 2]}.wav" for i in range(n)]
    train.devices = np.array(["ab"[i % 2] for i in range(n)])
    train.labels = train.labels[np.arange(n) - np.arange(n) % 2]
    train.x = train.x.copy()
    train.x[1::2] = train.x[0::2] + np.linspace(0, 2, 16, dtype=np.float32)[None, :, None]
    info_dir = tmp_path / "dense"
    info_dir.mkdir()
    (info_dir / "model_info.json").write_text(json.dumps({"classes": CLASSES, "input_shape": [16, 16, 1],
                                                          "standardize": {"mean": 0.0, "std": 1.0}}))
    run = L.Run(TrainingSession(_cfg(**{"augment.spectrum_correction": True}), train, evaluate, "synthetic"),
                info_dir, tmp_path / "run")
    assert set(run.session.batches.profiles) == {"b"}
    expect = device_profiles(train, "a", run.session.batches.indices)["b"]
    np.testing.assert_allclose(run.session.batches.profiles["b"], expect)
    assert np.ptp(expect) > 1.0  # the ramp, not a flat offset


def test_rerun_accepts_a_config_saved_before_a_key_existed(tmp_path):
    """A run dir whose saved config lacks a newer key (at its default) still resumes."""
    import yaml

    from acdeploy.config import dump_yaml

    cfg = _cfg()
    saved = yaml.safe_load(dump_yaml(cfg))
    del saved["augment"]["spectrum_correction"]
    (tmp_path / L.RUN_CONFIG).write_text(yaml.safe_dump(saved))
    L.check_run_dir(tmp_path, cfg)
    with pytest.raises(L.ConfigError, match="another config"):
        L.check_run_dir(tmp_path, _cfg(**{"augment.spectrum_correction": True}))


def test_block4_level_keeps_whole_blocks_in_the_saved_model(trunk, tmp_path, capsys):
    """One block4 level from the trunk's dense level: the saved mask and the stripped model's
    kernels prune whole blocks of 4 input channels; the 1-channel stem falls back, and says so."""
    from acdeploy.train import modeldir as md

    _, trunk_out, _ = trunk
    cfg = _cfg(**{"lth.levels": 1, "lth.granularity": "block4"})
    out = tmp_path / "run"
    out.mkdir()
    shutil.copytree(trunk_out / "level_00", out / "level_00")
    shutil.copy(trunk_out / L.REWIND, out / L.REWIND)
    _run(cfg, out)
    assert "pruned unstructured (input depth 1 is not a multiple of 4)" in capsys.readouterr().err
    mask = _mask(out, 1)
    assert abs(mask.sparsity - 0.5) < 0.02
    model = md.load_logits_model(out / "level_01")
    blocked = 0
    for name, layer in mask.items():
        if layer.shape[-2] % 4:
            continue
        blocks = np.moveaxis(layer, layer.ndim - 2, -1).reshape(-1, 4).sum(1)
        assert set(np.unique(blocks)) <= {0, 4}, name
        kernel = model.get_layer(name).kernel.numpy()
        assert not np.any(kernel[layer == 0]), name
        blocked += 1
    assert blocked >= 2
