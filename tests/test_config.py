import dataclasses

import pytest

from acdeploy.config import help_lines
from acdeploy.errors import ConfigError
from acdeploy.schema import Config, load_config


def test_defaults_load_and_every_field_has_help():
    cfg = load_config()
    assert isinstance(cfg, Config)
    for key, help_text, _ in help_lines(Config):
        assert help_text.strip(), f"config key {key} has no help text"


def test_yaml_and_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("features:\n  n_mels: 64\n")
    cfg = load_config(p, {"features.hop_length": 441})
    assert cfg.features.n_mels == 64 and cfg.features.hop_length == 441


@pytest.mark.parametrize(
    "text, needle",
    [
        ("features:\n  n_melz: 3\n", "unknown key 'features.n_melz'"),
        ("features:\n  n_mels: many\n", "'features.n_mels' must be an integer"),
        ("features:\n  win_length: 4096\n", "features.win_length"),
        ("features: [1, 2\n", "line"),
        ("- a\n- b\n", "top level must be a mapping"),
    ],
)
def test_bad_config_names_key_and_file(tmp_path, text, needle):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert needle in str(e.value) and str(p) in str(e.value)


def test_sections_are_independent_copies():
    a, b = Config(), Config()
    assert a.features is not b.features and dataclasses.asdict(a) == dataclasses.asdict(b)


@pytest.mark.parametrize("value", ["[1, 2", "{a: 1", '"unclosed', "a: b: c"])
def test_set_value_with_yaml_syntax_error_is_a_one_line_config_error(value, capsys):
    from acdeploy.cli import main

    assert main(["data", "synth", "/nonexistent/never-written", "--set", f"data.seed={value}"]) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --set 'data.seed="), err
    assert "not valid YAML" in lines[0] and "internal error" not in err and "Traceback" not in err
