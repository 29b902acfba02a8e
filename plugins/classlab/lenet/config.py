"""LeNet training hyperparameters: one typed dataclass, defined once.

The defaults reach >= 99.3% MNIST test accuracy (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from classlab.errors import InputError
from classlab.lenet.models import ARCHITECTURES

OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("onecycle", "cosine", "constant")


@dataclass
class TrainConfig:
    """Hyperparameters of one training run.

    Attributes:
        architecture: ``"lenet5"`` (classic) or ``"lenet5_modern"``
        epochs: maximum number of epochs
        batch_size: training batch size
        optimizer: ``"adamw"``, ``"adam"`` or ``"sgd"`` (momentum 0.9, Nesterov)
        lr: learning rate (the peak for ``"onecycle"``)
        schedule: ``"onecycle"``, ``"cosine"`` (per step, to 0) or ``"constant"``
        weight_decay: L2 / decoupled weight decay
        label_smoothing: cross-entropy label smoothing in [0, 1)
        seed: seeds weights, shuffling and augmentation (bit-reproducible on CPU)
        patience: stop after this many epochs without a lower validation loss
            (0: never stop early); the best epoch's weights are kept
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``
        amp: mixed precision (bfloat16 autocast) on CUDA; ignored on CPU
        augment: random affine jitter (rotation, scale, shift) on the training batches
        max_rotation: degrees, for ``augment``
        max_shift: pixels, for ``augment``
        max_scale: relative, for ``augment`` (0.1: 0.9x to 1.1x)
        dropout: dropout of ``lenet5_modern``
        input_size: side of the model's square input; images are resized to it
        in_channels: 1 or 3; None: 3 if any sampled image is in colour, else 1
        eval_batch_size: batch size for validation and inference
        num_workers: threads that decode images into the tensor cache
    """

    architecture: str = "lenet5_modern"
    epochs: int = 12
    batch_size: int = 128
    optimizer: str = "adamw"
    lr: float = 3e-3
    schedule: str = "onecycle"
    weight_decay: float = 1e-4
    label_smoothing: float = 0.05
    seed: int = 51
    patience: int = 4
    device: str = "auto"
    amp: bool = True
    augment: bool = True
    max_rotation: float = 10.0
    max_shift: float = 2.0
    max_scale: float = 0.1
    dropout: float = 0.25
    input_size: int = 28
    in_channels: int | None = None
    eval_batch_size: int = 1024
    num_workers: int = 8

    def validate(self) -> TrainConfig:
        """Checks every value; raises InputError naming the bad one."""
        if self.architecture not in ARCHITECTURES:
            raise InputError(f"architecture must be one of {', '.join(ARCHITECTURES)}")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise InputError(f"schedule must be one of {', '.join(SCHEDULES)}")
        for name in ("epochs", "batch_size", "eval_batch_size", "input_size", "num_workers"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if not self.lr > 0:
            raise InputError(f"lr must be positive, got {self.lr}")
        if self.weight_decay < 0 or self.patience < 0:
            raise InputError("weight_decay and patience must not be negative")
        if not 0 <= self.label_smoothing < 1 or not 0 <= self.dropout < 1:
            raise InputError("label_smoothing and dropout must be in [0, 1)")
        if self.in_channels not in (None, 1, 3):
            raise InputError(f"in_channels must be 1, 3 or None (auto), got {self.in_channels}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (stored in the model record)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Builds a config from a dict; unknown keys are an error, None keeps the default."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise InputError(f"Unknown training option(s): {', '.join(unknown)}")
        return cls(**{k: v for k, v in values.items() if v is not None}).validate()
