"""The one config schema: every stage's section under one root, as in the YAML files.

The shared layer imports no stage: each stage's config module registers its sections with
`register_section`, and `Config` is assembled from the modules in CONFIG_MODULES, in that order
(and in registration order within a module), so a dumped config.yaml keeps its section order
whatever was imported first. A new stage adds its config module to CONFIG_MODULES.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any

from acdeploy.config import apply_overrides, field, from_dict, read_yaml

# The modules that register config sections; their order is the section order of config.yaml.
CONFIG_MODULES = (
    "acdeploy.data.config",
    "acdeploy.train.config",
    "acdeploy.compress.config",
    "acdeploy.deploy.config",
    "acdeploy.pipeline_config",
)


@dataclasses.dataclass(frozen=True)
class Section:
    name: str
    cls: type
    help: str
    module: str


_SECTIONS: dict[str, Section] = {}
_CONFIG: type | None = None


def register_section(name: str, cls: type, help: str) -> type:
    """Add the top-level section `name` (dataclass `cls`, one line of help) to the schema."""
    old = _SECTIONS.get(name)
    if old is not None and (old.cls.__module__, old.cls.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"config section '{name}' is registered twice ({old.module} and {cls.__module__})")
    if _CONFIG is not None and old is None:
        raise RuntimeError(f"config section '{name}' registered after the schema was built; "
                           f"list {cls.__module__} in acdeploy.schema.CONFIG_MODULES")
    _SECTIONS[name] = Section(name, cls, help, cls.__module__)
    return cls


def sections() -> list[Section]:
    """The registered sections in schema order (imports every module of CONFIG_MODULES)."""
    for name in CONFIG_MODULES:
        importlib.import_module(name)
    rank = {m: i for i, m in enumerate(CONFIG_MODULES)}
    stray = [s for s in _SECTIONS.values() if s.module not in rank]
    if stray:
        raise RuntimeError(f"config section '{stray[0].name}' comes from {stray[0].module}, "
                           f"which is not in acdeploy.schema.CONFIG_MODULES")
    return sorted(_SECTIONS.values(), key=lambda s: rank[s.module])  # stable: registration order within a module


def config_class() -> type:
    """The root `Config` dataclass: one field per registered section."""
    global _CONFIG
    if _CONFIG is None:
        fields = [(s.name, s.cls, field(s.cls(), help=s.help)) for s in sections()]
        cls = dataclasses.make_dataclass("Config", fields)
        cls.__module__ = __name__
        cls.__doc__ = "Every stage's config section under one root, as in the YAML files."
        _CONFIG = cls
    return _CONFIG


def __getattr__(name: str):
    if name == "Config":
        return config_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None):
    """Read a YAML config (or the defaults), apply dotted-key overrides, validate everything."""
    data = read_yaml(path) if path else {}
    data = apply_overrides(data, overrides or {})
    return from_dict(config_class(), data, where=str(path) if path else "config")


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
