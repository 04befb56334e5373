"""Config sections of the compression stage: `lth` (lottery-ticket levels) and `quantize` (int8)."""

from __future__ import annotations

from dataclasses import dataclass

from acdeploy.config import field
from acdeploy.schema import register_section


@dataclass
class LthConfig:
    levels: int = field(4, help="pruning levels after the dense level 0")
    prune_fraction: float = field(0.5, help="fraction p of the SURVIVING weights pruned at each level (density (1-p)^k)")
    scope: str = field("layer", help="magnitude ranking per layer (layer: the seed paper's choice) or across all prunable layers (global)", choices=("global", "layer"))
    min_layer_density: float = field(0.02, help="global scope: every layer keeps at least this share of its weights (one ranking can otherwise empty a layer)")
    first_layer_rate: float = field(0.5, help="the first prunable layer is pruned at this multiple of p (0 = never pruned)")
    last_layer_rate: float = field(0.5, help="the last prunable layer (classifier) is pruned at this multiple of p (0 = never pruned)")
    schedule: str = field(
        "fixed",
        help="within a level: fixed = the level's mask is set at its start from the previous level's trained weights (classic LTH); "
        "polynomial/constant = a TF-MOT PolynomialDecay/ConstantSparsity ramps each layer from the previous to the level's sparsity during retraining",
        choices=("fixed", "polynomial", "constant"),
    )
    ramp_fraction: float = field(0.6, help="polynomial/constant: share of a level's steps over which the TF-MOT schedule ramps")
    m_by_n: list[int] | None = field(None, help="optional structured sparsity [m, n]: m zeros in every n input channels (TF-MOT sparsity_m_by_n), e.g. [2, 4]")
    granularity: str = field(
        "unstructured",
        help="what a level prunes: unstructured = single weights by magnitude; block4 = whole blocks of 4 consecutive input "
        "channels of one output channel and tap, smallest L2 norm first; nm = as unstructured, then at most N non-zeros in "
        "every M input channels (lth.nm). A tensor whose input depth is not a multiple of the group stays unstructured",
        choices=("unstructured", "block4", "nm"), key_neutral=True)
    nm: list[int] | None = field(None, help="granularity nm: [N, M], at most N non-zeros in every M consecutive input channels (null: [2, 8])",
                                 key_neutral=True)
    rewind_epoch: int = field(1, help="survivors are reset to the weights after this many dense epochs (0 = the original initialisation)")
    epochs: int | None = field(None, help="training epochs of the dense level and of every pruned level; null = train.epochs")
    seed: int = field(0, help="seed of the initialisation, data order and control branches")
    budget_bytes: int = field(131072, help="ticket rule: non-zero parameter bytes at int8 must be <= this (DCASE 2021: 128 KB)")
    max_drop: float = field(2.0, help="ticket rule: accuracy (points) may be at most this far below the dense level")

    def mask_granularity(self) -> str:
        """The granularity as compress/masks.py spells it (nm -> "N:M")."""
        if self.granularity == "nm":
            n, m = self.nm or (2, 8)
            return f"{n}:{m}"
        return self.granularity

    def check(self):
        if self.levels < 1:
            raise ValueError(f"levels: must be >= 1, got {self.levels}")
        if not 0.0 < self.prune_fraction < 1.0:
            raise ValueError(f"prune_fraction: must be in (0, 1) so sparsity stays below 100 %, got {self.prune_fraction}")
        for key in ("first_layer_rate", "last_layer_rate"):
            rate = getattr(self, key)
            if not 0.0 <= rate * self.prune_fraction < 1.0:
                raise ValueError(f"{key}: {rate} x prune_fraction {self.prune_fraction} must be in [0, 1)")
        if not 0.0 <= self.min_layer_density < 1.0:
            raise ValueError(f"min_layer_density: must be in [0, 1), got {self.min_layer_density}")
        if not 0.0 < self.ramp_fraction <= 1.0:
            raise ValueError(f"ramp_fraction: must be in (0, 1], got {self.ramp_fraction}")
        if self.m_by_n is not None:
            if len(self.m_by_n) != 2 or not 0 < self.m_by_n[0] < self.m_by_n[1]:
                raise ValueError(f"m_by_n: must be [m, n] with 0 < m < n, got {self.m_by_n}")
        if self.nm is not None and (len(self.nm) != 2 or not 0 < self.nm[0] < self.nm[1]):
            raise ValueError(f"nm: must be [N, M] with 0 < N < M, got {self.nm}")
        if self.granularity != "unstructured":
            if self.schedule != "fixed":
                raise ValueError(f"granularity: {self.granularity} needs schedule fixed (TF-MOT's {self.schedule} "
                                 f"schedule re-ranks single weights during retraining)")
            if self.m_by_n is not None:
                raise ValueError(f"granularity: {self.granularity} and m_by_n are two structures; set only one")
        if self.rewind_epoch < 0:
            raise ValueError(f"rewind_epoch: must be >= 0, got {self.rewind_epoch}")
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"epochs: must be >= 1, got {self.epochs}")
        if self.epochs is not None and self.rewind_epoch >= self.epochs:
            raise ValueError(f"rewind_epoch: {self.rewind_epoch} is not before the end of training ({self.epochs} epochs)")


@dataclass
class QuantizeConfig:
    mode: str = field("ptq", help="ptq = post-training full-int8; qat = quantization-aware fine-tune; pqat = prune-preserving QAT", choices=("ptq", "qat", "pqat"))
    representative_samples: int = field(256, help="training clips (standardised as in training) used to calibrate int8 ranges")
    finetune_epochs: int = field(2, help="qat/pqat: fine-tune epochs (with KD when a teacher is given)")
    learning_rate: float = field(1e-4, help="qat/pqat: fine-tune learning rate (Adam)")
    batch_size: int = field(64, help="qat/pqat: fine-tune batch size")
    seed: int = field(0, help="seed of the representative sample and the fine-tune")
    deterministic: bool = field(True, help="TensorFlow op determinism for the QAT fine-tune (as train.deterministic)",
                                key_neutral=True)

    def check(self):
        if self.representative_samples < 1:
            raise ValueError(f"representative_samples: must be >= 1, got {self.representative_samples}")
        if self.finetune_epochs < 0:
            raise ValueError(f"finetune_epochs: must be >= 0, got {self.finetune_epochs}")


register_section("lth", LthConfig, "lottery-ticket pruning: levels, rate, scope, schedule, rewind, ticket rule")
register_section("quantize", QuantizeConfig, "full-integer int8 export: ptq, qat or prune-preserving qat")
