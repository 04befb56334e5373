"""The model directory a training run writes, and reading one back (teachers, later stages).

DIR/
  model.keras       the best logits model (tf_keras, standard layers only)
  model_info.json   classes, input shape, standardisation, feature config, seen devices,
                    architecture, params, MACs
  config.yaml       the full config of the run
  metrics.json      DCASE metrics on the evaluate fold (written last of the results)
  history.csv       one row per epoch
  curves.png, confusion.png
  device_profiles.json  spectrum correction's per-device mel profiles (only when it is on)
  checkpoints/      resume state (kept so a rerun with more epochs continues)
  .partial          present while the run is unfinished: such a dir never counts as a model
"""

from __future__ import annotations

from pathlib import Path

from acdeploy import artifacts
from acdeploy.errors import ModelError
from acdeploy.model_info import MODEL_DIR_KEYS, ModelInfo

MODEL = artifacts.MODEL_KERAS
INFO = artifacts.MODEL_INFO
CONFIG = artifacts.CONFIG_YAML
METRICS = artifacts.METRICS_JSON
HISTORY = artifacts.HISTORY_CSV
CURVES = artifacts.CURVES_PNG
CONFUSION = artifacts.CONFUSION_PNG
PROFILES = artifacts.DEVICE_PROFILES
PARTIAL = artifacts.PARTIAL
WORK = artifacts.CHECKPOINTS
RUN_CONFIG = artifacts.RUN_CONFIG  # in WORK: the config a resumed run must match


def is_finished(path: str | Path) -> bool:
    path = Path(path)
    return (path / METRICS).is_file() and (path / MODEL).is_file() and not (path / PARTIAL).exists()


def read_info(path: str | Path) -> ModelInfo:
    """model_info.json of a finished model dir, or a one-line ModelError saying what is missing."""
    path = Path(path)
    if not path.is_dir():
        raise ModelError(f"{path}: not a model directory (it does not exist)")
    if (path / PARTIAL).exists():
        raise ModelError(f"{path}: the training run is unfinished (.partial); rerun its train command first")
    for name in (MODEL, INFO):
        if not (path / name).is_file():
            raise ModelError(f"{path}: not a model directory (no {name}); expected the --out of 'acdeploy train'")
    return ModelInfo.read(path / INFO, required=MODEL_DIR_KEYS)


def load_logits_model(path: str | Path):
    """The logits keras model of a model dir (compile=False: inference and distillation only)."""
    import tf_keras as keras

    path = Path(path)
    try:
        return keras.models.load_model(str(path / MODEL), compile=False)
    except Exception as e:  # noqa: BLE001 - any loader failure is one user-facing line
        raise ModelError(f"{path / MODEL}: cannot load the Keras model ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
