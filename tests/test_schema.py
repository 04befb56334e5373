"""The shared config schema imports no stage; stages register their sections, and the assembled
schema dumps and hashes exactly as before the registry existed."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass

import pytest

from acdeploy import schema
from acdeploy.config import dump_yaml
from acdeploy.pipeline import stage_keys
from acdeploy.schema import load_config

SECTION_ORDER = ["data", "features", "augment", "teacher", "student", "train", "distill", "lth", "quantize", "deploy", "pipeline"]
# Recorded with the schema that imported every stage's sections directly, then with the `deploy`
# section (weight format objective) added; the stage keys below are still the original ones, so
# saved config.yaml files and pipeline run dirs keyed by them stay valid.
DEFAULT_YAML_SHA256 = "c2b9652933e663ffa611193ba6dfc48a3c7b249c705c7aab3535924236b4d85c"
DEFAULT_STAGE_KEYS = {
    "data": "feee296a655e0dca", "features": "a25ebb3bb4881f63", "teacher": "c612b8c457cf246e",
    "student": "fb0b6bd1a8e0ff8c", "lth": "81c0da43c39a9d10", "quantize": "a804ec7b37f1ee20",
    "eval": "50eb3f4318fb3687", "build": "3f75d4bf8d815b51", "report": "e2be9da44f244876",
}
STAGES = ("acdeploy.data", "acdeploy.train", "acdeploy.compress", "acdeploy.deploy")


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_schema_module_imports_no_stage():
    loaded = _python("import sys, acdeploy.schema, acdeploy.config\n"
                     f"print(sorted(m for m in sys.modules if m.startswith({STAGES!r})))")
    assert loaded == "[]"


def test_default_config_dumps_and_hashes_as_before():
    cfg = load_config()
    assert list(cfg.__dataclass_fields__) == SECTION_ORDER
    assert hashlib.sha256(dump_yaml(cfg).encode()).hexdigest() == DEFAULT_YAML_SHA256
    assert stage_keys(cfg) == DEFAULT_STAGE_KEYS


def test_section_order_does_not_depend_on_import_order():
    order = _python("import acdeploy.pipeline_config, acdeploy.compress.config, acdeploy.train.config\n"
                    "from acdeploy.schema import load_config\n"
                    "print(','.join(load_config().__dataclass_fields__))")
    assert order.split(",") == SECTION_ORDER


def test_every_section_comes_from_a_listed_stage_module():
    assert [s.name for s in schema.sections()] == SECTION_ORDER
    assert {s.module for s in schema.sections()} <= set(schema.CONFIG_MODULES)


def test_a_section_name_registered_twice_is_refused():
    @dataclass
    class Other:
        x: int = 0

    with pytest.raises(ValueError, match="'train' is registered twice"):
        schema.register_section("train", Other, "another train section")


def test_a_section_from_an_unlisted_module_is_refused_once_the_schema_is_built():
    @dataclass
    class Late:
        x: int = 0

    schema.config_class()
    with pytest.raises(RuntimeError, match="CONFIG_MODULES"):
        schema.register_section("late", Late, "a section nobody lists")
    assert "late" not in schema._SECTIONS
