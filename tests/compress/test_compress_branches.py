"""LTH control branches are classes (compress/branches.py, open_lth's lottery/branch/): the CLI's
--control choices and the pipeline's `controls` key accept exactly the registered names."""

from __future__ import annotations

import click
import pytest

from acdeploy.cli import cli
from acdeploy.compress.branches import BRANCHES, Branch
from acdeploy.errors import ConfigError
from acdeploy.schema import load_config


def test_every_branch_has_a_name_and_a_description():
    assert list(BRANCHES) == ["reinit", "oneshot"]
    for name, cls in BRANCHES.items():
        assert issubclass(cls, Branch) and cls.name() == name
        assert cls.description().strip()


def test_the_cli_control_choices_are_the_branches():
    (control,) = [p for p in cli.commands["compress"].commands["lth"].params if p.name == "controls"]
    assert isinstance(control.type, click.Choice) and list(control.type.choices) == list(BRANCHES)
    for name, cls in BRANCHES.items():
        assert f"{name}: {cls.description()}" in control.help


@pytest.mark.parametrize("name", list(BRANCHES))
def test_the_pipeline_accepts_every_branch(name):
    assert load_config(overrides={"pipeline.controls": [name]}).pipeline.controls == [name]


def test_the_pipeline_refuses_an_unknown_control():
    with pytest.raises(ConfigError, match="pipeline.controls: unknown control 'lucky'"):
        load_config(overrides={"pipeline.controls": ["lucky"]})
