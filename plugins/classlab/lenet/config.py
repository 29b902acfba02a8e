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


def _positive_int(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v == int(v) and v >= 1


def _number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v == v  # not NaN


# option -> (is the value valid?, what to give instead); options not listed take any value
_RULES = {
    "architecture": (lambda v: v in ARCHITECTURES, f"one of {', '.join(ARCHITECTURES)}"),
    "optimizer": (lambda v: v in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}"),
    "schedule": (lambda v: v in SCHEDULES, f"one of {', '.join(SCHEDULES)}"),
    "epochs": (_positive_int, "a positive integer (1 or more)"),
    "batch_size": (_positive_int, "a positive integer, e.g. 128"),
    "eval_batch_size": (_positive_int, "a positive integer, e.g. 1024"),
    "input_size": (_positive_int, "a positive integer, e.g. 28"),
    "num_workers": (_positive_int, "a positive integer"),
    "lr": (lambda v: _number(v) and v > 0, "a positive number, e.g. 0.003"),
    "weight_decay": (lambda v: _number(v) and v >= 0, "a number >= 0 (0: none)"),
    "patience": (lambda v: _positive_int(v) or v == 0, "an integer >= 0 (0: never stop early)"),
    "label_smoothing": (lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "dropout": (lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "in_channels": (lambda v: v in (None, 1, 3), "1, 3 or empty (detected from the images)"),
    "seed": (lambda v: _number(v) and v == int(v), "an integer"),
    "max_rotation": (lambda v: _number(v) and v >= 0, "a number of degrees >= 0"),
    "max_shift": (lambda v: _number(v) and v >= 0, "a number of pixels >= 0"),
    "max_scale": (lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1)"),
}


def check_option(name: str, value: Any) -> Any:
    """Checks one training option (a :class:`TrainConfig` field) and returns it.

    The one place each option's rule lives: :meth:`TrainConfig.validate` and the
    train form both call it.

    Raises:
        InputError: unknown option, or a value that breaks its rule (the message
            names the option and says what to give)
    """
    if name not in _FIELDS:
        raise InputError(
            f"Unknown training option {name!r}: use one of {', '.join(sorted(_FIELDS))}"
        )
    rule = _RULES.get(name)
    if rule is not None and not rule[0](value):
        raise InputError(f"{name} must be {rule[1]}, got {value!r}")
    return value


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
        """Checks every value with :func:`check_option`; raises InputError naming the bad one."""
        for f in dataclasses.fields(self):
            check_option(f.name, getattr(self, f.name))
        return self

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (stored in the model record)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Builds a config from a dict; unknown keys are an error, None keeps the default."""
        unknown = sorted(set(values) - _FIELDS)
        if unknown:
            raise InputError(f"Unknown training option(s): {', '.join(unknown)}")
        return cls(**{k: v for k, v in values.items() if v is not None}).validate()


_FIELDS = frozenset(f.name for f in dataclasses.fields(TrainConfig))
