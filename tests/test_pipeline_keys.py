"""Stage keys of `acdeploy pipeline`: a config change reruns the stage that reads it and every
stage after it, never the ones before (no TensorFlow, pure config hashing)."""

from __future__ import annotations

import dataclasses

import pytest

from acdeploy.deploy.config import DeployConfig
from acdeploy.pipeline import PIPELINE_FIELDS, STAGE_NAMES, stage_keys
from acdeploy.pipeline_config import PipelineConfig
from acdeploy.schema import load_config


def _rerun(**overrides) -> list[str]:
    """The stages whose key changes when `overrides` are set."""
    a, b = stage_keys(load_config()), stage_keys(load_config(overrides=overrides))
    return [s for s in STAGE_NAMES if a[s] != b[s]]


def after(stage: str) -> list[str]:
    return STAGE_NAMES[STAGE_NAMES.index(stage):]


@pytest.mark.parametrize("key, value, first", [
    ("data.clips_per_class", 7, "data"),
    ("features.n_mels", 32, "features"),
    ("teacher.width", 0.5, "teacher"),
    ("pipeline.teachers", 2, "teacher"),
    ("train.epochs", 3, "teacher"),
    ("distill.alpha", 0.5, "student"),
    ("lth.levels", 2, "lth"),
    ("pipeline.controls", ["reinit"], "lth"),
    ("quantize.representative_samples", 16, "quantize"),
    ("pipeline.engines", ["tflm", "c"], "eval"),
    ("pipeline.target", "cortex-m7", "build"),
    ("pipeline.budgets", ["dcase2021"], "build"),
    ("pipeline.run_firmware", False, "build"),
    ("deploy.objective", "speed", "build"),
    ("deploy.objective", "size", "build"),
])
def test_a_change_reruns_its_stage_and_the_later_ones(key, value, first):
    assert _rerun(**{key: value}) == after(first)


def test_run_name_changes_no_key():
    # the name guards the run dir (refused without --force); with --force nothing is redone
    assert _rerun(**{"pipeline.name": "other"}) == []


def test_every_pipeline_field_is_keyed():
    keyed = {f for fields in PIPELINE_FIELDS.values() for f in fields}
    assert keyed | {"name"} == {f.name for f in dataclasses.fields(PipelineConfig)}


@pytest.mark.parametrize("field", [f for f in dataclasses.fields(DeployConfig)], ids=lambda f: f.name)
def test_every_deploy_field_reruns_the_build(field):
    # `acdeploy build` reads the deploy section, so a finished pipeline must rebuild when it changes
    other = next(c for c in field.metadata["choices"] if c != field.default)
    assert _rerun(**{f"deploy.{field.name}": other}) == after("build")
