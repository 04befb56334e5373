"""Control branches of a lottery-ticket run, as open_lth's `lottery/branch/`: each takes the
finished trunk (levels 0..lth.levels) and retrains one model from a mask and initial weights of
its own, saved under `RUN/branches/<name>/` like a level. A new control is a subclass listed in
BRANCHES; `acdeploy compress lth --control` offers exactly these names.

No TensorFlow at import: the CLI reads the names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from acdeploy.compress import lth
from acdeploy.compress.masks import Mask


class Branch(ABC):
    """A branch of the LTH run `trunk` (a compress.lth.Run whose levels are all saved)."""

    def __init__(self, trunk):
        self.trunk = trunk

    @staticmethod
    @abstractmethod
    def name() -> str:
        """The control name (the --control choice and the branch directory)."""

    @staticmethod
    @abstractmethod
    def description() -> str:
        """One line for --help: what the control asks."""

    @abstractmethod
    def start(self) -> tuple[dict, Mask]:
        """(initial weights per layer, the mask held fixed during retraining)."""

    def run(self) -> None:
        """Train the branch once; a branch already saved is kept, so a rerun resumes."""
        dest = self.trunk.out / "branches" / self.name()
        if dest.is_dir():
            return
        init, mask = self.start()
        lth.say(f"branch {self.name()}: sparsity {mask.sparsity:.3f}, {self.trunk.epochs} epochs")
        self.trunk.train_masked(dest, init, mask, None, {"level": self.trunk.lth.levels, "branch": self.name()})


class ReinitBranch(Branch):
    @staticmethod
    def name() -> str:
        return "reinit"

    @staticmethod
    def description() -> str:
        return "the last level's mask with a fresh random initialisation (is the ticket's init what matters?)"

    def start(self) -> tuple[dict, Mask]:
        from acdeploy.compress import tfmot_wrap as tw

        t = self.trunk
        _, mask = t.load(t.lth.levels)
        return tw.layer_weights(t.build(t.lth.seed + 7919)), mask


class OneshotBranch(Branch):
    @staticmethod
    def name() -> str:
        return "oneshot"

    @staticmethod
    def description() -> str:
        return "the dense level pruned once to the last level's sparsity, reset to the rewind weights"

    def start(self) -> tuple[dict, Mask]:
        from acdeploy.compress import tfmot_wrap as tw

        t = self.trunk
        dense, _ = t.load(0)
        kern = tw.kernels(dense)
        p, levels = t.lth.prune_fraction, t.lth.levels
        frac = 1.0 - (1.0 - p) ** levels
        # each layer's rate r compounds over the levels as the trunk's did
        rates = {n: (1.0 - (1.0 - r * p) ** levels) / frac for n, r in lth.layer_rates(list(kern), t.lth).items()}
        mask = lth.next_mask(kern, Mask.ones_like(kern), t.lth, fraction=frac, rates=rates)
        return lth.load_npz(t.out / lth.REWIND), mask


BRANCHES: dict[str, type[Branch]] = {cls.name(): cls for cls in (ReinitBranch, OneshotBranch)}
