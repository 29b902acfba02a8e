"""LeNet training hyperparameters: one typed dataclass, defined once.

The defaults reach >= 99.3% MNIST test accuracy (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any

from classlab.errors import InputError
from classlab.lenet.models import ARCHITECTURES

OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("onecycle", "cosine", "constant")


MAX_EPOCHS = 1000  # the default bound on epochs; raise TrainConfig.max_epochs deliberately
MAX_BATCH = 65536
MAX_INPUT_SIZE = 512
MAX_WORKERS = 64
MAX_SEED = 2**63 - 1


def _number(v) -> bool:
    """A real, finite number (not a bool, not NaN, not infinite)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _integer(v, low: int, high: int) -> bool:
    return _number(v) and v == int(v) and low <= v <= high


def _positive_int(v) -> bool:
    return _integer(v, 1, MAX_BATCH)


def _device(v) -> bool:
    return isinstance(v, str) and (
        v.strip().lower() in ("auto", "cpu", "cuda") or bool(re.fullmatch(r"cuda:\d+", v.strip()))
    )


# option -> (is the value valid?, what to give instead); options not listed take any value
_RULES = {
    "architecture": (lambda v: v in ARCHITECTURES, f"one of {', '.join(ARCHITECTURES)}"),
    "optimizer": (lambda v: v in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}"),
    "schedule": (lambda v: v in SCHEDULES, f"one of {', '.join(SCHEDULES)}"),
    "epochs": (
        lambda v: _integer(v, 1, 10**9),
        "a positive integer (1 or more, at most max_epochs)",
    ),
    "max_epochs": (lambda v: _integer(v, 1, 10**9), f"a positive integer, e.g. {MAX_EPOCHS}"),
    "batch_size": (_positive_int, f"a positive integer up to {MAX_BATCH}, e.g. 128"),
    "eval_batch_size": (_positive_int, f"a positive integer up to {MAX_BATCH}, e.g. 1024"),
    "input_size": (lambda v: _integer(v, 16, MAX_INPUT_SIZE), "an integer from 16 to 512, e.g. 28"),
    "num_workers": (lambda v: _integer(v, 1, MAX_WORKERS), f"an integer from 1 to {MAX_WORKERS}"),
    "lr": (lambda v: _number(v) and 0 < v <= 100, "a positive number up to 100, e.g. 0.003"),
    "weight_decay": (lambda v: _number(v) and 0 <= v <= 1, "a number in [0, 1] (0: none)"),
    "patience": (lambda v: _integer(v, 0, 10**9), "an integer >= 0 (0: never stop early)"),
    "label_smoothing": (lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "dropout": (lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "in_channels": (lambda v: v in (None, 1, 3), "1, 3 or empty (detected from the images)"),
    "seed": (lambda v: _integer(v, 0, MAX_SEED), "an integer from 0 to 2**63 - 1"),
    "max_rotation": (lambda v: _number(v) and 0 <= v <= 180, "a number of degrees in [0, 180]"),
    "max_shift": (lambda v: _number(v) and 0 <= v <= 64, "a number of pixels in [0, 64]"),
    "max_scale": (lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "amp": (lambda v: isinstance(v, bool), "true or false"),
    "augment": (lambda v: isinstance(v, bool), "true or false"),
    "device": (_device, "one of auto, cpu, cuda, cuda:N"),
    "weights": (
        lambda v: v is None or isinstance(v, str) and bool(v.strip()),
        "the path of a local torchvision weights file, or empty (from scratch)",
    ),
    "freeze_backbone": (lambda v: isinstance(v, bool), "true or false"),
}
_INTEGERS = ("epochs", "max_epochs", "batch_size", "eval_batch_size", "input_size")
_INTEGERS += ("num_workers", "patience", "seed")


def check_option(name: str, value: Any, max_epochs: int = MAX_EPOCHS) -> Any:
    """Checks one training option (a :class:`TrainConfig` field) and returns it
    (integral numbers of integer options as ``int``).

    The one place each option's rule lives: :meth:`TrainConfig.validate` and the
    train form both call it.

    Args:
        max_epochs: the bound on ``epochs`` (the config's own ``max_epochs``)

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
    if name == "epochs" and value > max_epochs:
        raise InputError(
            f"epochs must be at most max_epochs={max_epochs}, got {value!r}: lower epochs, "
            "or raise max_epochs deliberately for a run this long"
        )
    return int(value) if name in _INTEGERS else value


@dataclass
class TrainConfig:
    """Hyperparameters of one training run.

    Attributes:
        architecture: ``"lenet5"`` (classic), ``"lenet5_modern"``, or a torchvision
            backbone (``resnet18``, ``resnet50``, ``mobilenet_v3_small``,
            ``efficientnet_b0``; see :mod:`classlab.lenet.backbones`)
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
        max_epochs: the bound on ``epochs`` (1000); raise it deliberately for longer runs
        weights: a local torchvision weights file to start a backbone from (transfer
            learning); None: from scratch
        freeze_backbone: train only the last linear layer (feature extraction; needs
            ``weights`` or a parent model); False: full fine-tuning
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
    max_epochs: int = MAX_EPOCHS
    weights: str | None = None
    freeze_backbone: bool = False

    def validate(self) -> TrainConfig:
        """Checks every value with :func:`check_option` (integral floats of integer
        options become ints); raises InputError naming the bad one."""
        self.max_epochs = check_option("max_epochs", self.max_epochs)
        for f in dataclasses.fields(self):
            setattr(self, f.name, check_option(f.name, getattr(self, f.name), self.max_epochs))
        return self

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (stored in the model record)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Builds a config from a dict; unknown keys are an error, None keeps the default."""
        if not isinstance(values, dict):
            raise InputError(f"config must be a dict of training options, got {values!r}")
        unknown = sorted(set(values) - _FIELDS)
        if unknown:
            raise InputError(
                f"Unknown training option(s): {', '.join(map(str, unknown))}: use "
                f"{', '.join(sorted(_FIELDS))}"
            )
        return cls(**{k: v for k, v in values.items() if v is not None}).validate()


_FIELDS = frozenset(f.name for f in dataclasses.fields(TrainConfig))
