"""Budgets a report is checked against: the DCASE complexity rules by year, a target board, or a
YAML file. Each budget is a list of checks (name, value, limit, ok) over the report's totals.

DCASE rules (notes/asc-research.md section 2):
- dcase2021 (Task 1a): non-zero parameters at their stored width <= 128 KB, KB = 1024 bytes
  (the baseline README: "128 KB (= 32K float32, 64K float16 or 128K int8)"): zeros are free.
- dcase2022: parameters <= 128,000 (int8, zeros included) and MACs <= 30,000,000 per 1 s of
  audio. For a model whose input covers more than 1 s (known from model_info.json), the MACs are
  divided by the input duration; otherwise they are taken per inference.
- dcase2023/2024/2025: parameter memory at stored widths <= 128 kB (kB = 1000 bytes: the 2024
  README's 61,148 x 2 B = 122,296 B fits, int8 allows 128,000 parameters), zeros included, and
  MACs <= 30 M per 1 s as above.
Parameter bytes are the constant weights and biases of CONV_2D, DEPTHWISE_CONV_2D and
FULLY_CONNECTED at their stored width (int8 weights 1 B, int32 biases 4 B).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from acdeploy.deploy.targets import Target
from acdeploy.errors import ConfigError


@dataclass(frozen=True)
class Limit:
    check: str  # check name shown to the user
    total: str  # key in the report's totals
    limit: int


@dataclass(frozen=True)
class Budget:
    name: str
    limits: tuple[Limit, ...]
    note: str = ""


_MACS_1S = "macs_per_second"
DCASE_BUDGETS: dict[str, Budget] = {
    "dcase2021": Budget("dcase2021", (Limit("non-zero parameter bytes", "nonzero_param_bytes", 128 * 1024),),
                        "DCASE 2021 Task 1a: 128 KB of non-zero parameters at stored width"),
    "dcase2022": Budget("dcase2022", (Limit("parameters", "params", 128_000),
                                      Limit("MACs per second of audio", _MACS_1S, 30_000_000)),
                        "DCASE 2022 Task 1: 128 K int8 parameters, 30 M MACs per 1 s"),
    **{f"dcase{y}": Budget(f"dcase{y}", (Limit("parameter bytes", "param_bytes", 128_000),
                                         Limit("MACs per second of audio", _MACS_1S, 30_000_000)),
                           f"DCASE {y} Task 1: 128 kB parameter memory, 30 M MACs per 1 s")
       for y in (2023, 2024, 2025)},
}

# YAML budget keys -> (check name, totals key)
YAML_KEYS = {
    "max_params": ("parameters", "params"),
    "max_nonzero_params": ("non-zero parameters", "nonzero_params"),
    "max_param_bytes": ("parameter bytes", "param_bytes"),
    "max_nonzero_bytes": ("non-zero parameter bytes", "nonzero_param_bytes"),
    "max_macs": ("MACs", "macs"),
    "max_flash_bytes": ("flash (TFLM)", "flash_bytes"),
    "max_ram_bytes": ("RAM (TFLM arena)", "arena_bytes"),
    "max_c_flash_bytes": ("flash (generated C)", "c_flash_bytes"),
    "max_c_ram_bytes": ("RAM (generated C arena)", "c_arena_bytes"),
}


def board_budget(target: Target) -> Budget | None:
    if target.flash_bytes is None or target.ram_bytes is None:
        return None
    return Budget(f"board:{target.name}", (
        Limit("flash (TFLM)", "flash_bytes", target.flash_bytes),
        Limit("RAM (TFLM arena)", "arena_bytes", target.ram_bytes),
        Limit("flash (generated C)", "c_flash_bytes", target.flash_bytes),
        Limit("RAM (generated C arena)", "c_arena_bytes", target.ram_bytes),
    ), target.board)


def load_budget_file(path: Path) -> Budget:
    where = str(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise ConfigError(f"{where}: cannot read budget file: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{where}:{line} not valid YAML ({getattr(e, 'problem', e)})") from None
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{where}: a budget file is a mapping of limits, e.g. 'max_params: 128000'; "
                          f"keys: {', '.join(YAML_KEYS)}")
    name = data.pop("name", path.stem)
    limits = []
    for key, value in data.items():
        if key not in YAML_KEYS:
            raise ConfigError(f"{where}: unknown key '{key}'; known keys: name, {', '.join(YAML_KEYS)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"{where}: key '{key}' must be a non-negative number, got {value!r}")
        check, total = YAML_KEYS[key]
        limits.append(Limit(check, total, int(value)))
    return Budget(str(name), tuple(limits), f"from {path.name}")


def resolve_budgets(names: tuple[str, ...] | list[str], target: Target | None) -> list[Budget]:
    """Budget names or YAML paths from the command line, plus the target board's budget."""
    out = []
    for name in names:
        if name in DCASE_BUDGETS:
            out.append(DCASE_BUDGETS[name])
        elif name.endswith((".yaml", ".yml")) or Path(name).exists():
            out.append(load_budget_file(Path(name)))
        else:
            raise ConfigError(f"unknown budget '{name}'; choose one of {', '.join(DCASE_BUDGETS)} "
                              "or give a YAML budget file")
    if target is not None:
        board = board_budget(target)
        if board is not None:
            out.append(board)
    return out


def evaluate(budget: Budget, totals: dict) -> dict:
    checks = []
    for lim in budget.limits:
        value = int(totals[lim.total])
        checks.append({"name": lim.check, "key": lim.total, "value": value, "limit": lim.limit,
                       "ok": value <= lim.limit})
    return {"name": budget.name, "note": budget.note, "ok": all(c["ok"] for c in checks), "checks": checks}
