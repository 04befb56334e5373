"""Config section of the deploy stage: `deploy` (how `acdeploy build` lays out each layer's weights)."""

from __future__ import annotations

from dataclasses import dataclass

from acdeploy.config import field
from acdeploy.schema import register_section


@dataclass
class DeployConfig:
    objective: str = field(
        "balanced",
        help="what the per-layer weight format choice of acdeploy build optimises (deploy/weight_formats.py): "
        "speed = fewest predicted instructions, size = fewest flash bytes, balanced = a format adds flash only where it "
        "saves at least 100 instructions per inference per byte, and sparse weights only where they are no larger and "
        "predicted at least 10 % faster than dense; balanced and size also keep requantisation rows and ADD tables "
        "compact in flash and expand them into the arena at run time (balanced: where that adds no RAM)",
        choices=("speed", "size", "balanced"), key_neutral=True)


register_section("deploy", DeployConfig, "acdeploy build: how each layer's weights are stored (objective of the format choice)")
