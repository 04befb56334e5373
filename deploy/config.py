"""Config sections of the deploy stage."""

from __future__ import annotations

from acdeploy.config import field  # noqa: F401  (sections are added by the deploy stage)
