"""metrics.json figures against scikit-learn on fixed predictions; the plots are written whole."""

import numpy as np
import pytest
import sklearn.metrics as sk

from acdeploy.train.evaluate_keras import evaluate_probs, plot_confusion, plot_curves, softmax

CLASSES = ["airport", "bus", "metro", "park"]
DEVICES = np.array(["a", "b", "s4", "a", "s4", "b", "a", "s5", "a", "b", "s4", "a"] * 3)


@pytest.fixture(scope="module")
def fixed():
    rng = np.random.default_rng(42)
    y = rng.integers(0, len(CLASSES), len(DEVICES))
    logits = rng.normal(size=(len(y), len(CLASSES))) + 1.5 * np.eye(len(CLASSES))[y]
    return y, softmax(logits)


def test_metrics_match_sklearn_overall_per_device_and_unseen(fixed):
    y, prob = fixed
    m = evaluate_probs(prob, y, DEVICES, CLASSES, seen_devices=["a", "b"])
    labels = list(range(len(CLASSES)))
    pred = prob.argmax(1)
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(y, pred))
    assert m["macro_accuracy"] == pytest.approx(sk.balanced_accuracy_score(y, pred))
    assert m["log_loss"] == pytest.approx(sk.log_loss(y, prob, labels=labels))
    for dev in ("a", "b", "s4", "s5"):
        sel = DEVICES == dev
        assert m["per_device"][dev]["accuracy"] == pytest.approx(sk.accuracy_score(y[sel], pred[sel]))
        assert m["per_device"][dev]["log_loss"] == pytest.approx(sk.log_loss(y[sel], prob[sel], labels=labels))
    unseen = np.isin(DEVICES, ["s4", "s5"])
    assert m["unseen"]["n"] == unseen.sum()
    assert m["unseen"]["log_loss"] == pytest.approx(sk.log_loss(y[unseen], prob[unseen], labels=labels))
    assert m["seen"]["accuracy"] == pytest.approx(sk.accuracy_score(y[~unseen], pred[~unseen]))
    np.testing.assert_array_equal(m["confusion"], sk.confusion_matrix(y, pred, labels=labels))


def test_softmax_matches_a_direct_computation():
    z = np.array([[1000.0, 1001.0, 999.0], [0.0, 0.0, 0.0]])
    ref = np.exp(z[1]) / np.exp(z[1]).sum()
    p = softmax(z)
    np.testing.assert_allclose(p.sum(1), 1.0)
    np.testing.assert_allclose(p[1], ref)
    np.testing.assert_allclose(p[0], softmax(z[:1] - 1000.0)[0])


def test_plots_are_png_files(fixed, tmp_path):
    y, prob = fixed
    m = evaluate_probs(prob, y, DEVICES, CLASSES, seen_devices=["a", "b"])
    plot_confusion(m, tmp_path / "confusion.png")
    hist = [{"epoch": e, "loss": 1.0 / e, "ce": 1.0 / e, "kl": 0.1, "acc": 0.5, "val_log_loss": 1.2, "val_acc": 0.4} for e in (1, 2, 3)]
    plot_curves(hist, tmp_path / "curves.png")
    for name in ("confusion.png", "curves.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["confusion.png", "curves.png"]  # no temp files left
