"""`lth.granularity`: block and N:M masks against their definitions, sparsity per level, both
scopes, the unstructured fallback of tensors the structure does not fit, and bad spellings."""

from __future__ import annotations

import numpy as np
import pytest

from acdeploy.cli import main
from acdeploy.compress import lth as lth_mod
from acdeploy.compress.config import LthConfig
from acdeploy.compress.masks import Mask, granularity_plan, group_ids, parse_granularity, prune


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    # stem: 1 input channel (falls back); c2: 3x3 conv 8 -> 16; pw: 1x1 conv 16 -> 24; fc: Dense 24 -> 10
    return {"stem": rng.normal(size=(3, 3, 1, 8)), "c2": 0.3 * rng.normal(size=(3, 3, 8, 16)),
            "pw": rng.normal(size=(1, 1, 16, 24)), "fc": 2 * rng.normal(size=(24, 10))}


def _groups(a: np.ndarray, size: int) -> np.ndarray:
    """[groups, size]: consecutive input channels (axis -2 of a Keras kernel) of one output and tap."""
    return np.moveaxis(a, a.ndim - 2, -1).reshape(-1, size)


def test_spellings():
    assert parse_granularity("unstructured") == ("unstructured", 1, 1)
    assert parse_granularity("block4") == ("block", 4, 4)
    assert parse_granularity("2:8") == ("nm", 2, 8)
    for bad in ("block", "block1", "blocks4", "4:2", "0:4", "2:", "n:m", "structured", ""):
        with pytest.raises(ValueError, match="granularity"):
            parse_granularity(bad)


def test_group_ids_follow_the_input_channels():
    ids = group_ids((3, 3, 8, 16), 4)
    assert ids.shape == (3, 3, 8, 16) and len(np.unique(ids)) == 3 * 3 * 2 * 16
    g = _groups(ids, 4)
    assert (g == g[:, :1]).all()  # each run of 4 input channels is one group
    assert ids[0, 0, 0, 0] != ids[0, 0, 0, 1] and ids[0, 0, 3, 0] != ids[0, 0, 4, 0]


def test_plan_falls_back_for_a_one_channel_stem():
    plan, why = granularity_plan(_weights(), "block4")
    assert plan == {"stem": "unstructured", "c2": "block4", "pw": "block4", "fc": "block4"}
    assert list(why) == ["stem"] and "input depth 1" in why["stem"]
    plan, why = granularity_plan(_weights(), "1:16")
    assert plan["c2"] == "unstructured" and plan["pw"] == "1:16" and "8" in why["c2"]


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_block4_levels_prune_whole_blocks_at_the_level_sparsity(scope):
    w = _weights(1)
    n = sum(v.size for v in w.values())
    m = None
    for k in range(1, 5):
        prev = m
        m = prune(w, m, 0.5, scope, granularity="block4")
        for name in ("c2", "pw", "fc"):
            g = _groups(m[name], 4)
            assert ((g.sum(1) == 0) | (g.sum(1) == 4)).all(), f"level {k}: a block of {name} is partly pruned"
        if prev is not None:
            assert not any(np.any(m[x][prev[x] == 0]) for x in w), "a pruned weight came back"
        # whole blocks overshoot the count by < one block per ranking (one ranking, or one per layer)
        slack = (4 if scope == "global" else 4 * len(w)) * k
        assert 1 - 0.5**k - 1e-9 <= m.sparsity <= 1 - 0.5**k + slack / n, (k, m.sparsity)


def test_block4_drops_the_blocks_of_smallest_norm():
    w = _weights(2)["pw"]
    m = prune({"pw": w}, None, 0.5, "layer", granularity="block4")["pw"]
    norms = np.linalg.norm(_groups(w, 4), axis=1)
    kept = _groups(m, 4)[:, 0].astype(bool)
    assert kept.sum() == len(norms) // 2
    assert norms[kept].min() > norms[~kept].max()


def test_global_block4_keeps_the_layer_floor():
    w = _weights(3)
    w["pw"] = 1e-3 * w["pw"]  # one ranking would empty this layer
    m = prune(w, None, 0.6, "global", min_density=0.1, granularity="block4")
    assert m["pw"].mean() >= 0.1
    g = _groups(m["pw"], 4)
    assert ((g.sum(1) == 0) | (g.sum(1) == 4)).all()


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_n_of_m_caps_every_group_and_prunes_on_per_level(scope):
    w = _weights(4)
    m = None
    for k in range(1, 5):
        m = prune(w, m, 0.4, scope, granularity="2:8")
        for name in ("c2", "pw", "fc"):
            assert (_groups(m[name], 8).sum(1) <= 2).all(), f"level {k}: {name} has a group of 8 with > 2 non-zeros"
        assert m.sparsity >= max(0.75 * (1 - w["stem"].size / m.total), 1 - 0.6**k) - 1e-9


def test_unstructured_granularity_is_the_old_rule():
    w = _weights(5)
    for scope in ("global", "layer"):
        a = prune(w, None, 0.5, scope, layer_rates={"stem": 0.5}, min_density=0.02)
        b = prune(w, None, 0.5, scope, layer_rates={"stem": 0.5}, min_density=0.02, granularity="unstructured")
        assert all(np.array_equal(a[k], b[k]) for k in w)


def test_masks_stay_tfmot_shaped_and_saveable(tmp_path):
    w = _weights(6)
    m = prune(w, None, 0.5, "layer", granularity="block4")
    assert all(m[k].shape == w[k].shape and m[k].dtype == np.uint8 for k in w)
    back = Mask.load(m.save(tmp_path / "mask.npz"))
    assert all(np.array_equal(back[k], m[k]) for k in w)


def test_next_mask_uses_the_config_and_logs_the_fallback(capsys):
    assert LthConfig(granularity="nm").mask_granularity() == "2:8"
    assert LthConfig(granularity="nm", nm=[1, 4]).mask_granularity() == "1:4"
    cfg = LthConfig(granularity="block4", scope="layer", prune_fraction=0.5)
    w = _weights(7)
    m = lth_mod.next_mask(w, Mask.ones_like(w), cfg)
    assert ((_groups(m["c2"], 4).sum(1) % 4) == 0).all()
    lth_mod.say_granularity(w, cfg)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["granularity block4: layer 'stem' pruned unstructured (input depth 1 is not a multiple of 4)"]


@pytest.mark.parametrize("sets, words", [
    (["lth.granularity=blocks"], "'lth.granularity' is 'blocks'; choose one of: unstructured, block4, nm"),
    (["lth.granularity=nm", "lth.nm=[8, 2]"], "lth.nm: must be [N, M] with 0 < N < M"),
    (["lth.granularity=block4", "lth.schedule=polynomial"], "needs schedule fixed"),
    (["lth.granularity=nm", "lth.m_by_n=[2, 4]"], "set only one"),
])
def test_bad_granularity_is_one_line_exit_1(tmp_path, capsys, sets, words):
    d = tmp_path / "student"
    d.mkdir()
    (d / "config.yaml").write_text("train:\n  epochs: 3\n")
    out = tmp_path / "out"
    args = [a for s in sets for a in ("--set", s)]
    assert main(["compress", "lth", "--model", str(d), "--out", str(out), *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and words in err and err.count("\n") == 1, err
    assert not out.exists()
