"""model_info.json as a typed artifact: what a trained model needs to be used again.

train writes it into every model dir (and compress into every LTH level and beside the int8 model
as `<stem>.model_info.json`); compress and deploy read it. Reading validates it, so a hostile or
truncated file is one ModelError line naming the file and the key, never a KeyError later.

The fields the stages read are typed; every other key (architecture, params, MACs, training
figures) is kept in `extra` and written back unchanged.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from acdeploy import artifacts
from acdeploy.errors import ModelError

# feature_config keys that must be numbers (null allowed: fmax null means the Nyquist frequency)
FEATURE_NUMBERS = ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels", "fmin", "fmax", "log_offset")
# what a model dir must have to be used as a teacher or quantized (deploy needs none of them)
MODEL_DIR_KEYS = ("classes", "input_shape", "standardize")


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _not_a(source: str, key: str, value, what: str) -> ModelError:
    return ModelError(f"{source}: {key} is {value!r:.60}, not {what}")


@dataclass(frozen=True)
class Standardize:
    """The scalar standardisation the training pipeline applied to the log-mels."""

    mean: float
    std: float

    def to_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, d, source: str) -> Standardize:
        if not isinstance(d, dict):
            raise _not_a(source, "standardize", d, "an object with mean and std")
        for key in ("mean", "std"):
            if key not in d:
                raise ModelError(f"{source}: missing key 'standardize.{key}'")
            if not _is_number(d[key]):
                raise _not_a(source, f"standardize.{key}", d[key], "a finite number")
        if d["std"] <= 0:
            raise _not_a(source, "standardize.std", d["std"], "a positive number")
        return cls(float(d["mean"]), float(d["std"]))


@dataclass(frozen=True)
class ModelInfo:
    classes: list[str] | None = None
    input_shape: list[int] | None = None  # [n_mels, frames, 1] as the Keras model takes it
    standardize: Standardize | None = None
    feature_config: dict | None = None  # data.config.FeatureConfig's fields, as written at training time
    role: str | None = None  # teacher, student, lth
    dataset: str | None = None  # the dataset dir the model was trained on
    extra: dict = field(default_factory=dict)  # every other key, written back unchanged

    def to_dict(self) -> dict:
        d = {"role": self.role, "classes": self.classes, "input_shape": self.input_shape,
             "standardize": None if self.standardize is None else self.standardize.to_dict(),
             "feature_config": self.feature_config, "dataset": self.dataset}
        return {**{k: v for k, v in d.items() if v is not None}, **self.extra}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, d, source: str = artifacts.MODEL_INFO, required: tuple[str, ...] = ()) -> ModelInfo:
        """Validate and type a parsed model_info.json; `source` names the file in errors."""
        if not isinstance(d, dict):
            raise ModelError(f"{source}: not a JSON object (a {type(d).__name__})")
        for key in required:
            if d.get(key) is None:
                raise ModelError(f"{source}: missing key '{key}'")
        classes = d.get("classes")
        if classes is not None and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
            raise _not_a(source, "classes", classes, "a list of strings")
        shape = d.get("input_shape")
        if shape is not None and not (isinstance(shape, list) and shape
                                      and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)):
            raise _not_a(source, "input_shape", shape, "a list of positive integers")
        std = d.get("standardize")
        fc = d.get("feature_config")
        if fc is not None:
            if not isinstance(fc, dict):
                raise _not_a(source, "feature_config", fc, "an object")
            for key in FEATURE_NUMBERS:
                if fc.get(key) is not None and not _is_number(fc[key]):
                    raise _not_a(source, f"feature_config.{key}", fc[key], "a finite number")
            if fc.get("window") is not None and not isinstance(fc["window"], str):
                raise _not_a(source, "feature_config.window", fc["window"], "a string")
        for key in ("role", "dataset"):
            if d.get(key) is not None and not isinstance(d[key], str):
                raise _not_a(source, key, d[key], "a string")
        typed = {"classes", "input_shape", "standardize", "feature_config", "role", "dataset"}
        return cls(classes=None if classes is None else list(classes),
                   input_shape=None if shape is None else list(shape),
                   standardize=None if std is None else Standardize.from_dict(std, source),
                   feature_config=None if fc is None else dict(fc),
                   role=d.get("role"), dataset=d.get("dataset"),
                   extra={k: v for k, v in d.items() if k not in typed})

    @classmethod
    def from_json(cls, text: str, source: str = artifacts.MODEL_INFO, required: tuple[str, ...] = ()) -> ModelInfo:
        try:
            d = json.loads(text)
        except ValueError as e:
            raise ModelError(f"{source}: not valid JSON ({e})") from None
        return cls.from_dict(d, source, required)

    @classmethod
    def read(cls, path: str | Path, required: tuple[str, ...] = ()) -> ModelInfo:
        path = Path(path)
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise ModelError(f"{path}: unreadable ({e})") from None
        return cls.from_json(text, str(path), required)

    def with_(self, **changes) -> ModelInfo:
        """A copy with typed fields replaced; other keywords go into `extra`."""
        typed = {k: v for k, v in changes.items() if k in self.__dataclass_fields__ and k != "extra"}
        rest = {k: v for k, v in changes.items() if k not in typed}
        return replace(self, **typed, extra={**self.extra, **rest})

    def standardisation(self) -> tuple[float, float]:
        """(mean, std) the training pipeline applied; (0, 1) when the file gives none."""
        return (0.0, 1.0) if self.standardize is None else (self.standardize.mean, self.standardize.std)
