"""The one config schema: every stage's section under one root, as in the YAML files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acdeploy.compress.config import LthConfig, QuantizeConfig
from acdeploy.config import apply_overrides, field, from_dict, read_yaml
from acdeploy.data.config import AugmentConfig, DataConfig, FeatureConfig
from acdeploy.pipeline_config import PipelineConfig
from acdeploy.train.config import DistillConfig, ModelConfig, TeacherModelConfig, TrainConfig


@dataclass
class Config:
    data: DataConfig = field(DataConfig(), help="dataset: a DCASE-layout directory or the synthetic one")
    features: FeatureConfig = field(FeatureConfig(), help="log-mel feature settings (travel with every model)")
    augment: AugmentConfig = field(AugmentConfig(), help="training-time augmentations on log-mel batches")
    teacher: TeacherModelConfig = field(TeacherModelConfig(), help="teacher architecture (acdeploy train teacher)")
    student: ModelConfig = field(ModelConfig(), help="student architecture (acdeploy train student)")
    train: TrainConfig = field(TrainConfig(), help="fit loop: epochs, optimiser, schedule, validation split, seed, strategy")
    distill: DistillConfig = field(DistillConfig(), help="knowledge distillation: weight, temperature, teachers")
    lth: LthConfig = field(LthConfig(), help="lottery-ticket pruning: levels, rate, scope, schedule, rewind, ticket rule")
    quantize: QuantizeConfig = field(QuantizeConfig(), help="full-integer int8 export: ptq, qat or prune-preserving qat")
    pipeline: PipelineConfig = field(PipelineConfig(), help="acdeploy pipeline: which stages, target, budgets, engines")


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Read a YAML config (or the defaults), apply dotted-key overrides, validate everything."""
    data = read_yaml(path) if path else {}
    data = apply_overrides(data, overrides or {})
    return from_dict(Config, data, where=str(path) if path else "config")


def flatten(d: dict, prefix: str = "") -> dict:
    """A nested config dict as dotted keys: {"train": {"epochs": 3}} -> {"train.epochs": 3}."""
    out = {}
    for k, v in d.items():
        out.update(flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def changed_keys(saved: dict, now: dict, decides=lambda key: True) -> list[str]:
    """Dotted keys for which `decides(key)` holds and the two config dicts differ. A key missing on
    one side counts as its default, so a run saved before a key existed still matches."""
    from acdeploy.config import to_dict

    a, b, default = flatten(saved), flatten(now), flatten(to_dict(load_config()))
    return sorted(k for k in set(a) | set(b) if decides(k) and a.get(k, default.get(k)) != b.get(k, default.get(k)))
