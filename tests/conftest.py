"""Shared test set-up. Tests needing the Cortex-M toolchain skip on a developer machine without
it, but must run in CI (CI=true), where a missing tool is a failure."""

from __future__ import annotations

import os
import shutil

import pytest

import acdeploy  # noqa: F401  (sets TF_USE_LEGACY_KERAS before any test module imports TensorFlow)

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tools(*tools: str) -> None:
    """Skip (locally) or fail (in CI) when a command-line tool is missing."""
    missing = [t for t in tools if shutil.which(t) is None]
    if not missing:
        return
    msg = f"missing tools: {', '.join(missing)} (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)"
    if IN_CI:
        pytest.fail(msg)
    pytest.skip(msg)
