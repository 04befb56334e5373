"""`acdeploy train teacher|student` end to end on a tiny synthetic dataset, through acdeploy.cli.main:
the model dir, KD vs --no-kd, interrupt + resume + no-op, and bad inputs that leave nothing behind."""

import json
import shutil

import numpy as np
import pytest
import tf_keras as keras

import acdeploy  # noqa: F401
from acdeploy.cli import main
from acdeploy.errors import ModelError
from acdeploy.metrics import dcase_metrics
from acdeploy.model_info import ModelInfo
from acdeploy.train import modeldir as md

pytestmark = pytest.mark.slow  # trains models or runs QEMU: `make test-fast` leaves it out

# Small features so a tiny model trains in seconds: 16 kHz, 20 ms hop, 20 mel bands.
FEATURES = ["data.seconds=0.5", "features.sample_rate=16000", "features.n_fft=512", "features.win_length=400",
            "features.hop_length=320", "features.n_mels=20", "features.workers=1",
            "train.batch_size=16", "train.verbose=false"]
SETS = [a for s in FEATURES for a in ("--set", s)]
TINY_TEACHER = ["--width", "0.125", "--depth", "1", "--epochs", "1"]
TINY_STUDENT = ["--width", "0.25", "--depth", "1"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("train_cli")
    data = root / "data"
    assert main(["data", "synth", str(data), "--clips-per-class", "8", "--seconds", "0.5",
                 "--sample-rate", "16000", "--seed", "1"]) == 0
    return data


@pytest.fixture(scope="module")
def teacher(dataset):
    out = dataset.parent / "teacher"
    assert main(["train", "teacher", "--data", str(dataset), "--out", str(out), *TINY_TEACHER, *SETS]) == 0
    return out


def _config(**extra):
    from acdeploy.config import parse_override
    from acdeploy.schema import load_config

    return load_config(None, dict(parse_override(s) for s in FEATURES) | extra)


def _features(data):
    from acdeploy.data.featstore import open_features
    from acdeploy.data.features import ensure_features

    cfg = _config()
    return open_features(ensure_features(data, cfg.features, seconds=cfg.data.seconds))


def test_teacher_model_dir_is_complete_and_metrics_reproduce(dataset, teacher):
    names = {p.name for p in teacher.iterdir()}
    assert {md.MODEL, md.INFO, md.CONFIG, md.METRICS, md.HISTORY, md.CURVES, md.CONFUSION} <= names
    assert md.PARTIAL not in names and md.is_finished(teacher)
    info = md.read_info(teacher)
    fs = _features(dataset)
    assert info.classes == list(fs.classes) and info.input_shape == [20, int(fs.x.shape[2]), 1]
    assert info.role == "teacher" and info.dataset and info.feature_config["n_mels"] == 20
    assert info.extra["model"]["name"] == "teacher" and info.extra["params"] > 0 and info.extra["macs"] > 0
    assert ModelInfo.read(teacher / md.INFO).to_dict() == json.loads((teacher / md.INFO).read_text())
    # metrics.json equals a fresh computation from the saved model on the evaluate fold
    ev = fs.subset("evaluate")
    model = keras.models.load_model(str(teacher / md.MODEL), compile=False)
    x = (np.asarray(ev.x, dtype=np.float32) - info.standardize.mean) / info.standardize.std
    logits = model.predict(x[..., None], verbose=0).astype(np.float64)
    prob = np.exp(logits - logits.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    ref = dcase_metrics(ev.labels, prob, ev.devices, ev.classes, ev.seen_devices)
    saved = json.loads((teacher / md.METRICS).read_text())
    assert saved["accuracy"] == pytest.approx(ref["accuracy"]) and saved["log_loss"] == pytest.approx(ref["log_loss"], rel=1e-4)
    assert set(saved["per_device"]) == set(np.unique(ev.devices)) and "unseen" in saved


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 1:
            raise KeyboardInterrupt


def test_kd_student_interrupted_resumes_and_then_is_a_no_op(dataset, teacher, capsys):
    from acdeploy.train.run import train_run

    out = dataset.parent / "student_kd"
    cfg = _config(**{"train.epochs": 2, "student.width": 0.25, "distill.teachers": [str(teacher)]})
    with pytest.raises(KeyboardInterrupt):
        train_run(cfg, "student", str(dataset), out, callbacks=[_Interrupt()])
    assert (out / md.PARTIAL).exists() and not (out / md.METRICS).exists()
    with pytest.raises(ModelError, match="unfinished"):
        md.read_info(out)
    args = ["train", "student", "--data", str(dataset), "--out", str(out), "--teacher", str(teacher),
            *TINY_STUDENT, "--epochs", "2", *SETS]
    assert main(args) == 0
    assert not (out / md.PARTIAL).exists()
    rows = (out / md.HISTORY).read_text().splitlines()
    assert len(rows) == 3
    info = md.read_info(out)
    assert info.extra["distill"]["teachers"] == [str(teacher.resolve())] and info.extra["distill"]["alpha"] == 0.98
    assert float(rows[1].split(",")[4]) > 0  # the kl column: the teacher's targets were used
    before = (out / md.METRICS).stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0
    assert "already finished" in capsys.readouterr().err and (out / md.METRICS).stat().st_mtime_ns == before


def test_no_kd_student_uses_labels_only(dataset, teacher):
    out = dataset.parent / "student_nokd"
    assert main(["train", "student", "--data", str(dataset), "--out", str(out), "--teacher", str(teacher), "--no-kd",
                 *TINY_STUDENT, "--epochs", "1", *SETS]) == 0
    info = md.read_info(out)
    assert info.extra["distill"] is None
    assert float((out / md.HISTORY).read_text().splitlines()[1].split(",")[4]) == 0.0


def _bad_teacher(teacher, tmp_path, **change):
    bad = tmp_path / "bad_teacher"
    shutil.copytree(teacher, bad)
    info = json.loads((bad / md.INFO).read_text())
    info.update(change)
    (bad / md.INFO).write_text(json.dumps(info))
    return bad


@pytest.mark.parametrize("case", ["not_a_model", "other_classes", "other_shape", "unknown_model", "impossible_width"])
def test_bad_inputs_fail_with_one_line_and_leave_nothing(dataset, teacher, tmp_path, capsys, case):
    out = tmp_path / "run"
    args = ["train", "student", "--data", str(dataset), "--out", str(out), "--epochs", "1", *SETS]
    if case == "not_a_model":
        args += ["--teacher", str(dataset)]
        needle = "not a model directory"
    elif case == "other_classes":
        args += ["--teacher", str(_bad_teacher(teacher, tmp_path, classes=["x", "y"]))]
        needle = "teacher classes"
    elif case == "other_shape":
        args += ["--teacher", str(_bad_teacher(teacher, tmp_path, input_shape=[40, 51, 1]))]
        needle = "input shape"
    elif case == "unknown_model":
        args += ["--no-kd", "--model", "resnet9000"]
        needle = "resnet9000"
    else:
        args += ["--no-kd", "--width", "0.001"]
        needle = "width"
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0]
    assert not out.exists()


def test_one_class_dataset_is_refused(dataset, tmp_path, capsys):
    one = tmp_path / "one_class"
    shutil.copytree(dataset, one, ignore=shutil.ignore_patterns(".acdeploy*", "*cache*"))
    keep = None
    for rel in ("meta.csv", "evaluation_setup/fold1_train.csv", "evaluation_setup/fold1_evaluate.csv",
                "evaluation_setup/fold1_test.csv"):
        p = one / rel
        if not p.exists():
            continue
        lines = p.read_text().splitlines()
        keep = keep or lines[1].split("\t")[0].split("/")[-1].split("-")[0]
        p.write_text("\n".join([lines[0]] + [ln for ln in lines[1:] if ln.split("\t")[0].split("/")[-1].startswith(keep + "-")]) + "\n")
    out = tmp_path / "run"
    capsys.readouterr()
    assert main(["train", "teacher", "--data", str(one), "--out", str(out), *TINY_TEACHER, *SETS]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "class" in err[0] and not out.exists()


def test_resume_check_compares_only_the_sections_that_decide_the_run():
    from acdeploy.train.run import _config_diff

    saved = {"lth": {"scope": "global"}, "train": {"epochs": 1, "learning_rate": 0.001}, "distill": {"alpha": 0.98},
             "teacher": {"width": 1.0}, "student": {"width": 1.0}}
    later = {"lth": {"scope": "layer", "new_key": 3}, "train": {"epochs": 5, "learning_rate": 0.001},
             "distill": {"alpha": 0.5}, "teacher": {"width": 1.0}, "student": {"width": 2.0}}
    assert _config_diff(saved, later, "teacher") == []
    assert _config_diff(saved, later, "student") == ["distill.alpha", "student.width"]
    later["train"]["learning_rate"] = 0.01
    assert _config_diff(saved, later, "teacher") == ["train.learning_rate"]
