"""Config sections of the training stage: the models, the fit loop and distillation."""

from __future__ import annotations

from dataclasses import dataclass

from acdeploy.config import field
from acdeploy.schema import register_section

MODEL_NAMES = ("dcase2022_baseline", "teacher", "student")


@dataclass
class ModelConfig:
    name: str = field("student", help="registry model: dcase2022_baseline, teacher (residual CNN) or student (CP-Mobile-like)", choices=MODEL_NAMES)
    width: float = field(1.0, help="channel multiplier (every layer's channels scale with it)")
    depth: int = field(1, help="blocks per stage (teacher, student); ignored by dcase2022_baseline")
    dropout: float = field(0.3, help="dropout rate where the architecture has dropout")

    def check(self):
        if not self.width > 0:
            raise ValueError(f"width: must be > 0, got {self.width}")
        if self.depth < 1:
            raise ValueError(f"depth: must be >= 1, got {self.depth}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout: must be in [0, 1), got {self.dropout}")



@dataclass
class TeacherModelConfig(ModelConfig):
    """The teacher's architecture section: the same knobs, with teacher defaults."""

    name: str = field("teacher", help="registry model for the teacher (see student.name)", choices=MODEL_NAMES)
    depth: int = field(2, help="blocks per stage (teacher, student); ignored by dcase2022_baseline")


@dataclass
class TrainConfig:
    epochs: int = field(30, help="training epochs (a rerun with more epochs continues the run)")
    batch_size: int = field(32, help="batch size (the global batch: split between the workers of a multi-worker run)")
    learning_rate: float = field(1e-3, help="peak learning rate (Adam / AdamW)")
    weight_decay: float = field(0.0, help="decoupled weight decay (AdamW when > 0)")
    schedule: str = field("cosine", help="learning-rate schedule per epoch", choices=("constant", "cosine", "step"))
    warmup_epochs: int = field(0, help="linear warm-up epochs before the schedule")
    step_epochs: int = field(10, help="step schedule: multiply the rate by step_gamma every step_epochs")
    step_gamma: float = field(0.1, help="step schedule: factor per step")
    min_lr_factor: float = field(0.01, help="cosine schedule: final rate as a fraction of the peak")
    early_stopping: int = field(0, help="stop after this many epochs without a better validation log loss; 0 = off")
    val_fraction: float = field(0.15, help="share of the train fold's locations held out for validation (by identifier, per class)")
    seed: int = field(0, help="seed for weights, validation split, data order and augmentation")
    strategy: str = field("default", help="tf.distribute strategy: default (one device), mirrored (the GPUs of one machine), "
                          "multi_worker (one process per machine; cluster from TF_CONFIG or --cluster/--task; README: "
                          "Training on several machines)", choices=("default", "mirrored", "multi_worker"))
    deterministic: bool = field(True, help="TensorFlow op determinism: same seed, machine and thread count -> same bytes (README, Determinism)",
                                key_neutral=True)
    verbose: bool = field(True, help="progress bar and one line per epoch on stderr")

    def check(self):
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size: must be >= 1")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate: must be > 0, got {self.learning_rate}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction: must be in (0, 1), got {self.val_fraction}")
        if self.step_epochs < 1:
            raise ValueError(f"step_epochs: must be >= 1, got {self.step_epochs}")


@dataclass
class DistillConfig:
    alpha: float = field(0.98, help="KD weight a in (1-a)*CE + a*T^2*KL (CP-JKU: 0.98)")
    temperature: float = field(2.0, help="KD temperature T (CP-JKU: 2)")
    teachers: list[str] = field([], help="teacher model dirs; their logits are averaged (the --teacher flag)")
    enabled: bool = field(True, help="false = train the student on labels only (--no-kd)")

    def check(self):
        if not 0 <= self.alpha <= 1:
            raise ValueError(f"alpha: must be in [0, 1], got {self.alpha}")
        if not self.temperature > 0:
            raise ValueError(f"temperature: must be > 0, got {self.temperature}")


register_section("teacher", TeacherModelConfig, "teacher architecture (acdeploy train teacher)")
register_section("student", ModelConfig, "student architecture (acdeploy train student)")
register_section("train", TrainConfig, "fit loop: epochs, optimiser, schedule, validation split, seed, strategy")
register_section("distill", DistillConfig, "knowledge distillation: weight, temperature, teachers")
