"""Golden files: `acdeploy report` and `acdeploy build` on the committed fixture model must write
exactly the committed outputs (tests/deploy/golden/). A changed figure (MACs, arena, flash) or a
changed header fails here and shows as a diff; if the change is intended, regenerate with
`.venv/bin/python scripts/update_golden.py` and commit the new files with it."""

from __future__ import annotations

import difflib

import pytest
from golden import MODEL, render


@pytest.fixture(scope="module")
def rendered():
    return render(MODEL)


def test_golden_files_are_all_rendered(rendered):
    committed = {p.name for p in MODEL.parent.iterdir() if p.suffix != ".tflite"}
    assert committed == set(rendered), "golden files and rendered outputs differ: run scripts/update_golden.py"


@pytest.mark.parametrize("name", sorted(p.name for p in MODEL.parent.iterdir() if p.suffix != ".tflite"))
def test_output_equals_golden(rendered, name):
    golden = (MODEL.parent / name).read_text()
    if rendered[name] != golden:
        diff = "".join(difflib.unified_diff(golden.splitlines(True), rendered[name].splitlines(True),
                                            f"golden/{name}", "now", n=1))
        pytest.fail(f"{name} changed (intended? run scripts/update_golden.py):\n{diff[:4000]}")
