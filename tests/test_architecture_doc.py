"""docs/ARCHITECTURE.md names only paths that exist: every backticked repo path (one with a
slash, or a .py/.md/.toml file) outside the fenced diagram is checked."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
PATH = re.compile(r"[\w.\-]+(?:/[\w.\-]*)+|[\w.\-]+\.(?:py|md|toml)")


def named_paths(text: str) -> list[str]:
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return [span for span in re.findall(r"`([^`\n]+)`", prose) if PATH.fullmatch(span)]


def test_named_paths_exist():
    paths = named_paths(DOC.read_text())
    assert len(paths) > 20  # the extraction finds the doc's paths, not nothing
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert not missing, f"{DOC}: paths that do not exist: {missing}"


def test_a_missing_path_is_found():
    assert named_paths("see `data/nothing_here.py` and `RUN`\n```\n`not/checked`\n```\n") == ["data/nothing_here.py"]


def test_the_op_registry_section_names_every_op_module():
    text = DOC.read_text()
    assert "## The op registry, and how to add an op" in text
    modules = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "deploy" / "ops").glob("*.py")
                     if p.name not in ("__init__.py", "base.py"))
    assert modules and [m for m in modules if f"`{m}`" not in text] == []
