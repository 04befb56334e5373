"""Stage seams (architecture): a stage imports only itself, earlier stages and the shared
`acdeploy/` layer, never a private name of another stage; the shared layer imports no stage
(the pipeline orchestrator and the CLI's module list aside)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("data", "train", "compress", "deploy")  # pipeline order: each may use the ones before it
# The orchestrator runs every stage; it imports them inside functions, when a stage runs.
SHARED_MAY_IMPORT_STAGES = {"pipeline.py"}


def _imports(path: Path):
    """(module, imported names) of every import statement in `path`."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, []


def _stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "acdeploy" and parts[1] in STAGES else None


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).glob("*.py"))


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_imports_only_itself_and_earlier_stages(stage):
    allowed = set(STAGES[:STAGES.index(stage) + 1])
    bad = [f"{p.name}: {mod}" for p in _modules(stage) for mod, _ in _imports(p)
           if _stage_of(mod) and _stage_of(mod) not in allowed]
    assert not bad, f"{stage}/ imports a later stage: {bad}"


@pytest.mark.parametrize("stage", STAGES)
def test_no_private_name_crosses_a_stage_boundary(stage):
    bad = [f"{p.name}: {mod}.{n}" for p in _modules(stage) for mod, names in _imports(p)
           if _stage_of(mod) not in (None, stage) for n in names if n.startswith("_")]
    assert not bad, f"{stage}/ imports private names of another stage: {bad}"


def test_the_shared_layer_imports_no_stage():
    bad = [f"{p.name}: {mod}" for p in _modules("acdeploy") if p.name not in SHARED_MAY_IMPORT_STAGES
           for mod, _ in _imports(p) if _stage_of(mod)]
    assert not bad, f"acdeploy/ imports a stage: {bad}"
