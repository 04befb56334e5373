"""Config section of `acdeploy pipeline` (the orchestration of every stage)."""

from __future__ import annotations

from dataclasses import dataclass

from acdeploy.config import field
from acdeploy.schema import register_section


@dataclass
class PipelineConfig:
    name: str = field("", help="a name for the run; a run dir made under another name is refused without --force")
    teachers: int = field(1, help="teachers to train (seeds train.seed, +1, ...); the student distils from their mean logits")
    controls: list[str] = field([], help="lottery-ticket control branches to run too: reinit, oneshot")
    target: str = field("cortex-m", help="deployment target of the build stage (see acdeploy build --help)")
    budgets: list[str] = field(["dcase2022"], help="budgets the build checks besides the target board (dcase2021, dcase2022, ... or a YAML file)")
    run_firmware: bool = field(True, help="cross-compile and run the firmware in QEMU (needs arm-none-eabi-gcc and qemu-system-arm)")
    engines: list[str] = field(["litert-ref", "tflm", "c"], help="host engines the int8 model is evaluated with: tflm and c must agree exactly, litert-ref but for near-ties, litert (optimized) on 95 % of clips")

    def check(self):
        if self.teachers < 0:
            raise ValueError(f"teachers: must be >= 0, got {self.teachers}")
        bad = [c for c in self.controls if c not in ("reinit", "oneshot")]
        if bad:
            raise ValueError(f"controls: unknown control {bad[0]!r}; choose from reinit, oneshot")


register_section("pipeline", PipelineConfig, "acdeploy pipeline: which stages, target, budgets, engines")
