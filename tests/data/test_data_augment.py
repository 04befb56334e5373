"""Each augmentation's effect, checked against its definition in numpy."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from acdeploy.data import augment as A
from acdeploy.data.config import AugmentConfig

OFF = {f.name: False for f in dataclasses.fields(AugmentConfig) if f.type in (bool, "bool")}


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    x = rng.normal(-6.0, 2.0, size=(16, 40, 51)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 16)]
    devices = np.array(["a", "b", "s1", "a"] * 4)
    return x, y, devices


def test_mixup_is_a_convex_combination_with_soft_labels(batch):
    x, y, _ = batch
    xm, ym, perm, lam = A.mixup(x, y, 0.3, np.random.default_rng(1))
    assert np.all(lam >= 0.5) and np.all(lam <= 1)
    np.testing.assert_allclose(xm, lam[:, None, None] * x + (1 - lam[:, None, None]) * x[perm], rtol=1e-6)
    np.testing.assert_allclose(ym, lam[:, None] * y + (1 - lam[:, None]) * y[perm], rtol=1e-6)
    np.testing.assert_allclose(ym.sum(axis=1), 1.0, rtol=1e-6)
    assert sorted(perm) == list(range(len(x))) and not np.array_equal(xm, x)


def _spans(mask_1d: np.ndarray) -> list[int]:
    edges = np.diff(np.concatenate([[0], mask_1d.astype(int), [0]]))
    return list(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1))


def test_specaugment_masks_have_the_right_widths_and_fill(batch):
    x, _, _ = batch
    out = A.spec_augment(x, np.random.default_rng(2), freq_masks=1, freq_width=5, time_masks=0, time_width=0)
    fill = x.mean(axis=(1, 2))
    masked_total = 0
    for i in range(len(x)):
        rows = np.all(out[i] == fill[i], axis=1)
        assert all(w <= 5 for w in _spans(rows))
        np.testing.assert_array_equal(out[i][~rows], x[i][~rows])  # the rest untouched
        masked_total += rows.sum()
    assert masked_total > 0
    out = A.spec_augment(x, np.random.default_rng(3), freq_masks=0, freq_width=0, time_masks=2, time_width=4)
    for i in range(len(x)):
        cols = np.all(out[i] == fill[i], axis=0)
        assert sum(_spans(cols)) <= 8 and all(w <= 4 for w in _spans(cols))
        np.testing.assert_array_equal(out[i][:, ~cols], x[i][:, ~cols])
    same = A.spec_augment(x, np.random.default_rng(4), 0, 0, 0, 0)
    np.testing.assert_array_equal(same, x)


def test_device_eq_changes_only_reference_rows_by_a_per_band_curve(batch):
    x, _, devices = batch
    out = A.device_eq(x, devices, np.random.default_rng(5), p=1.0, max_db=6.0)
    diff = out - x
    ref = devices == "a"
    np.testing.assert_array_equal(diff[~ref], 0)
    # A response is a gain per band, the same in every frame, and bounded by the dB settings.
    np.testing.assert_allclose(diff[ref], np.repeat(diff[ref][:, :, :1], x.shape[2], axis=2), atol=1e-5)
    assert np.all(np.abs(diff[ref]).max(axis=(1, 2)) > 0)
    assert np.abs(diff).max() <= (3 + 3 * 6 + 12) * A.DB_TO_LOG
    np.testing.assert_array_equal(A.device_eq(x, devices, np.random.default_rng(5), p=0.0, max_db=6.0), x)


def test_freq_mixstyle_mixes_per_band_statistics():
    rng = np.random.default_rng(6)
    x = np.concatenate([rng.normal(0, 1, (4, 40, 51)), rng.normal(10, 3, (4, 40, 51))]).astype(np.float32)
    out = A.freq_mixstyle(x, np.random.default_rng(7), alpha=0.3, p=1.0)
    assert out.shape == x.shape
    # The definition (CP-JKU): per-band mean/std over time, mixed with a permuted partner's.
    draws = np.random.default_rng(7)
    assert draws.random() < 1.0
    lam = draws.beta(0.3, 0.3, size=(8, 1, 1))
    perm = draws.permutation(8)
    mu, sd = x.mean(axis=2, keepdims=True), np.sqrt(x.var(axis=2, keepdims=True) + 1e-6)
    want = (x - mu) / sd * (lam * sd + (1 - lam) * sd[perm]) + lam * mu + (1 - lam) * mu[perm]
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4)
    # Output band means lie between the two clips' band means; some clips really moved.
    mu_out = out.mean(axis=2)
    lo = np.minimum(mu[:, :, 0], mu[perm, :, 0]) - 1e-3
    hi = np.maximum(mu[:, :, 0], mu[perm, :, 0]) + 1e-3
    assert np.all((mu_out >= lo) & (mu_out <= hi))
    assert np.max(np.abs(mu_out - mu[:, :, 0])) > 1.0
    np.testing.assert_array_equal(A.freq_mixstyle(x, np.random.default_rng(7), 0.3, p=0.0), x)


def test_gain_and_time_shift(batch):
    x, _, _ = batch
    g = A.random_gain(x, np.random.default_rng(8), max_db=3.0) - x
    per_clip = g[:, 0, 0]
    np.testing.assert_allclose(g, np.broadcast_to(per_clip[:, None, None], g.shape), atol=1e-5)
    assert np.all(np.abs(per_clip) <= 3.0 * A.DB_TO_LOG + 1e-6) and np.ptp(per_clip) > 0
    out = A.time_shift(x, np.random.default_rng(9), max_frames=4)
    for i in range(len(x)):
        shifts = [s for s in range(-4, 5) if np.array_equal(out[i], np.roll(x[i], s, axis=1))]
        assert shifts, f"clip {i} is not a roll of at most 4 frames"


def test_augment_batch_disabled_is_identity_and_defaults_are_seeded(batch):
    x, y, devices = batch
    xo, yo = A.augment_batch(x, y, devices, AugmentConfig(**OFF), np.random.default_rng(10))
    np.testing.assert_array_equal(xo, x)
    np.testing.assert_array_equal(yo, y)
    cfg = AugmentConfig()
    x1, y1 = A.augment_batch(x, y, devices, cfg, np.random.default_rng(11))
    x2, y2 = A.augment_batch(x, y, devices, cfg, np.random.default_rng(11))
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert x1.shape == x.shape and x1.dtype == np.float32 and not np.array_equal(x1, x)
    np.testing.assert_allclose(y1.sum(axis=1), 1.0, rtol=1e-6)
    assert np.any(y1.max(axis=1) < 1)  # mixup made soft labels
    assert np.array_equal(batch[0], x)  # inputs untouched
