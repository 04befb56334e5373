"""Regenerate the golden deploy outputs of the committed fixture model (tests/deploy/golden/)
and the README's supported-operator table (from the op registry, deploy/ops/).

    .venv/bin/python scripts/update_golden.py            # report outputs from the committed .tflite
    .venv/bin/python scripts/update_golden.py --model    # also rebuild the fixture .tflite (TensorFlow)

tests/deploy/test_deploy_golden.py compares `acdeploy report` and `acdeploy build` against these
files byte for byte, so any change to a figure (MACs, arena, flash) or to the generated C shows
up as a diff in review; run this script only when the change is intended, and commit its output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "deploy" / "golden"
sys.path.insert(0, str(ROOT / "tests" / "deploy"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="store_true", help="rebuild mixed.tflite with the TFLite converter first")
    args = ap.parse_args()
    from golden import MODEL, render

    if args.model:
        from deploy_models import _build

        import acdeploy  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)

        MODEL.write_bytes(_build("mixed"))
    for name, text in render(MODEL).items():
        (GOLDEN / name).write_text(text)
        print(f"wrote {GOLDEN / name}")
    write_readme_table()
    return 0


def write_readme_table() -> None:
    from acdeploy.deploy import ops

    readme = ROOT / "README.md"
    text = readme.read_text()
    new = ops.with_readme_table(text)
    if new != text:
        readme.write_text(new)
        print(f"wrote the supported-operator table in {readme}")


if __name__ == "__main__":
    sys.exit(main())
