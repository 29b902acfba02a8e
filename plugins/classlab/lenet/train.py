"""The training loop, in small named steps over in-memory tensors (torch only).

``fit_tensors(x_train, y_train, x_val, y_val, config, device)`` needs nothing
but torch: images are uint8 ``N x C x S x S`` tensors (on the GPU when training
there), labels int64 class indices. Each step returns a metrics dict.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from classlab.errors import InputError
from classlab.lenet.config import TrainConfig
from classlab.lenet.models import build_model

logger = logging.getLogger("classlab")


class TrainingDivergedError(InputError):
    """The loss became NaN or infinite: the learning rate is too high for this data."""


def check_finite(epoch: int, metrics: dict, config: TrainConfig) -> None:
    """Raises :class:`TrainingDivergedError` when an epoch's loss is NaN or infinite."""
    if not math.isfinite(metrics["loss"]):
        raise TrainingDivergedError(
            f"training diverged at epoch {epoch}: lower the learning rate (lr={config.lr:g}); "
            "nothing was written"
        )


@dataclass
class FitResult:
    """What :func:`fit_tensors` returns: the best model and the run's history."""

    model: Any
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0
    stopped_early: bool = False


def to_input(xb):
    """uint8 images -> float in [0, 1], normalised around 0 (``(x - 0.5) / 0.5``)."""
    return xb.float().div_(127.5).sub_(1.0)


def _autocast(device: str, amp: bool):
    import torch

    enabled = bool(amp) and device.startswith("cuda")
    return torch.autocast("cuda" if enabled else "cpu", dtype=torch.bfloat16, enabled=enabled)


def augment_batch(xb, config: TrainConfig, generator):
    """Random affine jitter (rotation, scale, shift) of a float batch, on its device."""
    import torch
    import torch.nn.functional as F

    n, _, h, _ = xb.shape
    rnd = torch.rand((n, 4), generator=generator, device=generator.device).to(xb.device) * 2 - 1
    angle = rnd[:, 0] * math.radians(config.max_rotation)
    scale = 1.0 + rnd[:, 1] * config.max_scale
    shift = rnd[:, 2:] * (2.0 * config.max_shift / h)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(xb.shape), align_corners=False)
    # background is -1 after to_input: shift to 0-padding space and back
    return F.grid_sample(xb + 1, grid, align_corners=False, padding_mode="zeros") - 1


def make_optimizer(model, config: TrainConfig):
    """The optimizer named by ``config.optimizer``."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]  # a frozen backbone: the head
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=config.lr, momentum=0.9, nesterov=True, weight_decay=config.weight_decay
        )
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=config.lr, weight_decay=config.weight_decay)


def make_scheduler(optimizer, config: TrainConfig, steps_per_epoch: int):
    """A per-step LR scheduler (or None for ``"constant"``)."""
    import torch

    total = config.epochs * steps_per_epoch
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total)
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    return None


def train_one_epoch(
    model, x, y, optimizer, scheduler, config: TrainConfig, generator, device: str
) -> dict:
    """One pass over ``(x, y)`` in shuffled batches; returns ``{loss, acc}``."""
    import torch
    import torch.nn.functional as F

    from classlab.lenet.backbones import train_mode

    train_mode(model)
    n = len(x)
    order = torch.randperm(n, generator=generator, device=generator.device).to(x.device)
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.long)
    for start in range(0, n, config.batch_size):
        idx = order[start : start + config.batch_size]
        if len(idx) < 2 and n > 1:  # batch norm needs 2 samples
            continue
        xb, yb = to_input(x[idx]), y[idx]
        if config.augment:
            xb = augment_batch(xb, config, generator)
        with _autocast(device, config.amp):
            logits = model(xb)
            loss = F.cross_entropy(logits.float(), yb, label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        loss_sum += loss.detach() * len(idx)
        correct += (logits.argmax(1) == yb).sum()
    return {"loss": float(loss_sum) / n, "acc": float(correct) / n}


def predict(
    model, x, batch_size: int = 1024, device: str = "cpu", amp: bool = True, features: bool = False
):
    """Logits (float32, and the penultimate features if asked) for uint8 images ``x``."""
    import torch

    model.eval()
    logits, feats = [], []
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            xb = to_input(x[start : start + batch_size].to(device, non_blocking=True))
            with _autocast(device, amp):
                f = model.features(xb)
                logits.append(model.head(f).float())
            if features:
                feats.append(f.float())
    out = torch.cat(logits) if logits else torch.empty((0, 0))
    return (out, torch.cat(feats) if feats else None) if features else out


def evaluate(model, x, y, config: TrainConfig, device: str) -> dict:
    """Loss (without label smoothing) and accuracy on ``(x, y)``: ``{loss, acc}``."""
    import torch.nn.functional as F

    logits = predict(model, x, config.eval_batch_size, device, config.amp)
    y = y.to(logits.device)
    return {
        "loss": float(F.cross_entropy(logits, y)),
        "acc": float((logits.argmax(1) == y).float().mean()),
    }


def fit_tensors(
    x_train,
    y_train,
    x_val,
    y_val,
    config: TrainConfig | None = None,
    device: str = "cpu",
    num_classes: int | None = None,
    init_state=None,
    progress: Callable[[float, str], None] | None = None,
    on_epoch: Callable[[int, object, bool], None] | None = None,
) -> FitResult:
    """Trains a model (LeNet-5 or a backbone: ``config.architecture``) on in-memory
    tensors, with early stopping on validation loss.

    Args:
        x_train, x_val: uint8 images ``N x C x S x S`` (put them on ``device``
            beforehand to avoid per-batch copies)
        y_train, y_val: int64 class indices
        config: hyperparameters (defaults: :class:`TrainConfig`)
        device: a torch device string (already resolved, e.g. ``"cuda"``)
        num_classes: defaults to ``max(label) + 1``
        init_state: a ``state_dict`` of the same architecture to start from (fine-tuning,
            transfer learning)
        progress: ``fn(fraction, label)``, called after every epoch
        on_epoch: ``fn(epoch, model, kept)``, called after every epoch's validation
            (the model as trained so far, in eval mode; ``kept``: this epoch has the
            lowest validation loss so far, so it is the model returned if none beats it)

    Returns:
        a :class:`FitResult` holding the best epoch's model (on ``device``)

    Raises:
        TrainingDivergedError: a loss became NaN or infinite (an InputError)
    """
    config = (config or TrainConfig()).validate()
    x_train, y_train = x_train.to(device), y_train.to(device)
    num_classes = num_classes or int(max(y_train.max(), y_val.max())) + 1
    model, optimizer, scheduler, gen = _setup(
        config, device, num_classes, x_train.shape[1], len(x_train), init_state
    )
    result = FitResult(model)
    best_loss, best_state, stale, t0 = math.inf, None, 0, time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        t = time.perf_counter()
        tr = train_one_epoch(model, x_train, y_train, optimizer, scheduler, config, gen, device)
        check_finite(epoch, tr, config)
        va = evaluate(model, x_val, y_val, config, device)
        check_finite(epoch, va, config)
        row = _epoch_row(epoch, tr, va, time.perf_counter() - t)
        result.history.append(row)
        _report_epoch(row, config.epochs, progress)
        if va["loss"] < best_loss:
            best_loss, result.best_epoch, stale = va["loss"], epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
        if on_epoch is not None:
            on_epoch(epoch, model, result.best_epoch == epoch)
        if config.patience and stale >= config.patience:
            result.stopped_early = True
            logger.info("early stop: no lower val loss for %d epochs", stale)
            break
    model.load_state_dict(best_state)
    result.seconds = time.perf_counter() - t0
    return result


def _setup(config: TrainConfig, device: str, num_classes, in_channels, n_train, init_state):
    """Seeds, then builds the model, optimizer, scheduler and the shuffling generator."""
    import torch

    torch.manual_seed(config.seed)
    gen = torch.Generator(device="cuda" if device.startswith("cuda") else "cpu")
    gen.manual_seed(config.seed)
    model = build_model(
        config.architecture, num_classes, in_channels, config.input_size, config.dropout
    ).to(device)
    if init_state is not None:
        model.load_state_dict(init_state)
    if config.freeze_backbone:
        from classlab.lenet.backbones import freeze_backbone

        freeze_backbone(model)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, math.ceil(n_train / config.batch_size))
    return model, optimizer, scheduler, gen


def _epoch_row(epoch: int, tr: dict, va: dict, seconds: float) -> dict:
    """One epoch's line of the history."""
    return {
        "epoch": epoch,
        "train_loss": tr["loss"],
        "train_acc": tr["acc"],
        "val_loss": va["loss"],
        "val_acc": va["acc"],
        "seconds": seconds,
    }


def _report_epoch(row: dict, epochs: int, progress) -> None:
    """Logs an epoch's row and reports it to ``progress`` (if any)."""
    text = (
        f"train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f}, "
        f"val loss {row['val_loss']:.4f} acc {row['val_acc']:.4f}"
    )
    logger.info("epoch %d: %s (%.1fs)", row["epoch"], text, row["seconds"])
    if progress is not None:
        progress(row["epoch"] / epochs, f"epoch {row['epoch']}/{epochs}: {text}")
