"""The pure mask rules against brute force: remove the smallest alive weight one at a time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from acdeploy.compress.masks import Mask, m_by_n_keep, prune, prune_global, prune_layerwise


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return {"c1": rng.normal(size=(3, 3, 1, 8)), "c2": 0.3 * rng.normal(size=(3, 3, 8, 16)), "fc": 2 * rng.normal(size=(16, 10))}


def _brute(values, alive, count):
    """Reference: repeatedly drop the alive entry of smallest |w| (first by position on ties)."""
    alive = alive.copy()
    for _ in range(count):
        best = None
        for i in range(len(values)):
            if alive[i] and (best is None or abs(values[i]) < abs(values[best])):
                best = i
        alive[best] = 0
    return alive


def test_layerwise_matches_brute_force_and_keeps_old_zeros():
    w = _weights()
    m = Mask.ones_like(w)
    for _level in range(3):
        new = prune_layerwise(w, m, 0.4)
        for k in w:
            alive = m[k].ravel()
            ref = _brute(w[k].ravel(), alive, math.ceil(0.4 * alive.sum()))
            np.testing.assert_array_equal(new[k].ravel(), ref)
            assert not np.any(new[k][m[k] == 0]), "a pruned weight came back"
        m = new


def test_global_matches_brute_force():
    w = _weights(1)
    m = prune_global(w, Mask.ones_like(w), 0.5)
    m2 = prune_global(w, m, 0.5)
    flat_w = np.concatenate([w[k].ravel() for k in w])
    flat_m = np.concatenate([m[k].ravel() for k in w])
    ref = _brute(flat_w, flat_m, math.ceil(0.5 * flat_m.sum()))
    np.testing.assert_array_equal(np.concatenate([m2[k].ravel() for k in w]), ref)


def test_sparsity_per_level_is_one_minus_density_power():
    w = _weights(2)
    n = sum(v.size for v in w.values())
    for scope in ("global", "layer"):
        m = None
        for k in range(1, 5):
            m = prune(w, m, 0.5, scope)
            # ceil per level (per layer for `layer`) can prune at most one extra weight per layer per level
            assert abs(m.sparsity - (1 - 0.5**k)) <= 3 * k / n + 1e-9


def test_global_and_layerwise_differ_as_they_should():
    w = _weights(3)
    glob = prune(w, None, 0.6, "global").report()["layers"]
    lay = prune(w, None, 0.6, "layer").report()["layers"]
    # per layer: every layer at the same rate; global: the small-magnitude layer c2 loses most
    assert all(abs(v["sparsity"] - 0.6) < 0.02 for v in lay.values())
    assert glob["c2"]["sparsity"] > 0.65 > 0.5 > glob["c1"]["sparsity"] > glob["fc"]["sparsity"]
    assert abs(prune(w, None, 0.6, "global").sparsity - 0.6) < 0.002


def test_layer_rates_and_ignore():
    w = _weights(4)
    m = prune(w, None, 0.5, "global", layer_rates={"c1": 0.0, "fc": 0.5})
    assert m["c1"].all()
    assert abs(1 - m["fc"].mean() - 0.25) < 0.01


def test_m_by_n_reference():
    rng = np.random.default_rng(5)
    k = rng.normal(size=(3, 3, 10, 4))
    keep = m_by_n_keep(k, 2, 4)
    for y in range(3):
        for x in range(3):
            for o in range(4):
                col, kcol = np.abs(k[y, x, :, o]), keep[y, x, :, o]
                for s in range(0, 10, 4):
                    grp, kg = col[s:s + 4], kcol[s:s + 4]
                    want = min(2, len(grp))
                    assert kg.sum() == want
                    assert set(np.flatnonzero(kg)) == set(np.argsort(-grp, kind="stable")[:want])


def test_mask_save_load_roundtrip(tmp_path):
    m = prune(_weights(), None, 0.3, "layer")
    m.save(tmp_path / "mask.npz")
    back = Mask.load(tmp_path / "mask.npz")
    assert back.keys() == m.keys() and all(np.array_equal(back[k], m[k]) for k in m)


def test_bad_fraction():
    with pytest.raises(ValueError):
        prune(_weights(), None, 1.0)


def test_global_never_empties_a_layer():
    w = _weights(6)
    w["c2"] = w["c2"] * 1e-3  # a layer at a tiny scale (as a conv before BatchNorm may be)
    plain = prune(w, None, 0.9, "global")
    assert plain["c2"].sum() == 0
    guarded = prune(w, None, 0.9, "global", min_density=0.05)
    keep = math.ceil(0.05 * w["c2"].size)
    assert guarded["c2"].sum() == keep
    # the kept ones are the largest of that layer; the other layers are untouched by the guard
    top = np.argsort(-np.abs(w["c2"].ravel()), kind="stable")[:keep]
    assert set(np.flatnonzero(guarded["c2"].ravel())) == set(top)
    assert all(np.array_equal(plain[k], guarded[k]) for k in ("c1", "fc"))
