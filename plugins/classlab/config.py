"""ClassLab configuration: where files go, which device to use, logging.

The root directory holds everything ClassLab writes (MNIST PNGs, augmented
images, model checkpoints). It is, in order of precedence:

1. the ``CLASSLAB_ROOT`` environment variable;
2. ``<fo.config.default_dataset_dir>/classlab``.

Layout below the root::

    media/<dataset>/<what>/...      images ClassLab writes
    models/<dataset>/<run_key>.pt   checkpoints
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from classlab.errors import DeviceError, InputError

ROOT_ENV = "CLASSLAB_ROOT"
DEVICES = ("auto", "cpu", "cuda")

logger = logging.getLogger("classlab")


def root_dir() -> Path:
    """The directory under which ClassLab writes media and models."""
    env = os.environ.get(ROOT_ENV)
    if env:
        return Path(env).expanduser().resolve()
    import fiftyone as fo

    return Path(fo.config.default_dataset_dir).expanduser().resolve() / "classlab"


def _safe(name: str) -> str:
    """A file-system-safe version of a dataset name or run key."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "_"


def media_dir(dataset_name: str, *parts: str) -> Path:
    """Where ClassLab writes images for ``dataset_name`` (not created)."""
    return root_dir().joinpath("media", _safe(dataset_name), *[_safe(p) for p in parts])


def models_dir(dataset_name: str) -> Path:
    """Where ClassLab writes model checkpoints for ``dataset_name`` (not created)."""
    return root_dir() / "models" / _safe(dataset_name)


def resolve_device(device: str = "auto") -> str:
    """Turns ``auto``/``cpu``/``cuda``/``cuda:N`` into a torch device string.

    Raises:
        DeviceError: CUDA was asked for and is not available
        InputError: the value is not a device name
    """
    device = (device or "auto").strip().lower()
    if device not in DEVICES and not re.fullmatch(r"cuda:\d+", device):
        raise InputError(f"Unknown device {device!r}: use one of 'auto', 'cpu', 'cuda' or 'cuda:N'")
    import torch

    has_cuda = torch.cuda.is_available()
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    if device.startswith("cuda"):
        if not has_cuda:
            raise DeviceError(
                f"device={device!r} was requested but no CUDA GPU is available "
                "(torch.cuda.is_available() is False). Use device='cpu' or 'auto'."
            )
        if ":" in device and int(device.split(":")[1]) >= torch.cuda.device_count():
            raise DeviceError(
                f"device={device!r} does not exist: {torch.cuda.device_count()} GPU(s) visible."
            )
    return device


def configure_logging(level: int | str = logging.INFO) -> None:
    """Sends ClassLab's log records to stderr (scripts and the CLI call this)."""
    log = logging.getLogger("classlab")
    log.setLevel(level)
    if not any(getattr(h, "_classlab", False) for h in log.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s classlab %(levelname)s %(message)s"))
        handler._classlab = True  # type: ignore[attr-defined]
        log.addHandler(handler)
