"""Typed configuration: dataclasses with a help string per field, one YAML schema for all stages.

Each stage with settings declares its sections next to its code (`data/config.py`,
`train/config.py`, `compress/config.py`; deploy takes its settings as command-line flags) and
registers them with `acdeploy.schema`, which only assembles them. The same objects feed the CLI overrides, the validation messages and the
`config.yaml` saved with every artifact.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from acdeploy.errors import ConfigError


def field(default: Any, help: str, choices: typing.Sequence[Any] | None = None, key_neutral: bool = False,
          **kw) -> Any:
    """A config field: its default, one line of help, and optionally the allowed values.

    key_neutral: a field added after caches and run dirs were keyed by hashes of their section, whose
    default does what every run did before it existed; at its default `keyed_dict` leaves it out,
    so those keys stay valid.
    """
    meta = {"help": help}
    if key_neutral:
        meta["key_neutral"] = True
    if choices is not None:
        meta["choices"] = tuple(choices)
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=meta, **kw)
    if dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=lambda d=default: dataclasses.replace(d), metadata=meta, **kw)
    return dataclasses.field(default=default, metadata=meta, **kw)


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _coerce(value: Any, tp: Any, key: str, where: str) -> Any:
    """Check `value` against the annotation `tp`; return it converted (int -> float, list -> tuple)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key, where)
            except ConfigError as e:
                errors.append(e)
        raise errors[0] if errors else ConfigError(f"{where}: '{key}' may not be null")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: '{key}' must be a list, got {value!r}")
        inner = args[0] if args else Any
        return [_coerce(v, inner, f"{key}[{i}]", where) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: '{key}' must be a mapping, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where, prefix=key)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: '{key}' must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: '{key}' must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: '{key}' must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: '{key}' must be a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: '{key}' has unsupported type {_type_name(tp)}")


def from_dict(cls, data: Any, where: str = "config", prefix: str = ""):
    """Build dataclass `cls` from a mapping, naming the bad key and value on any mismatch."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: '{prefix or 'top level'}' must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{where}: unknown key '{full}' (known keys: {known})")
        f = fields[key]
        v = _coerce(value, hints[key], full, where)
        choices = f.metadata.get("choices")
        if choices is not None and v not in choices:
            allowed = ", ".join(map(str, choices))
            raise ConfigError(f"{where}: '{full}' is {v!r}; choose one of: {allowed}")
        kwargs[key] = v
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if check is not None:
        try:
            check()
        except ValueError as e:
            # `check` says "key: problem"; prefix the section so the message names the full key.
            raise ConfigError(f"{where}: {prefix + '.' if prefix else ''}{e}") from None
    return obj


def to_dict(obj) -> dict:
    return dataclasses.asdict(obj)


def keyed_dict(obj) -> dict:
    """to_dict(obj) without the key_neutral fields that hold their default: what cache and run keys hash."""
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if f.metadata.get("key_neutral") and v == f.default:
            continue
        out[f.name] = keyed_dict(v) if dataclasses.is_dataclass(v) else copy.deepcopy(v)
    return out


def config_hash(*parts: Any) -> str:
    """A short stable hash of config sections (and any other JSON-able values), for cache keys."""
    blob = json.dumps(
        [keyed_dict(p) if dataclasses.is_dataclass(p) else p for p in parts], sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def help_lines(cls, prefix: str = "") -> list[tuple[str, str, Any]]:
    """(key, help, default) for every leaf field: used by `acdeploy config show` and a test that all fields have help."""
    out = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(hints[f.name]):
            out += help_lines(hints[f.name], key + ".")
        else:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            out.append((key, f.metadata.get("help", ""), default))
    return out


def parse_override(text: str) -> tuple[str, Any]:
    """'train.epochs=5' -> ('train.epochs', 5); the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set '{text}': expected KEY=VALUE, e.g. train.epochs=5")
    key, raw = text.split("=", 1)
    try:
        return key.strip(), yaml.safe_load(raw)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise ConfigError(f"--set '{text}': the value is not valid YAML ({problem}); quote it, e.g. "
                          f"--set \"{key.strip()}='...'\"") from None


def apply_overrides(data: dict, overrides: dict[str, Any]) -> dict:
    """Set dotted keys in a nested mapping (the YAML), before validation."""
    for key, value in overrides.items():
        if value is None:
            continue
        node = data
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override '{key}': '{p}' is not a section")
        node[parts[-1]] = value
    return data


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config ({e.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}:{line}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections, got {type(data).__name__}")
    return data


def dump_yaml(obj) -> str:
    return yaml.safe_dump(to_dict(obj), sort_keys=False)
