"""ClassLab configuration: where files go, which device to use, logging.

The root directory holds everything ClassLab writes (MNIST PNGs, augmented
images, model checkpoints). It is, in order of precedence:

1. the ``CLASSLAB_ROOT`` environment variable;
2. ``<fo.config.default_dataset_dir>/classlab``.

Layout below the root::

    media/<dataset>/<what>/...       images ClassLab writes
    models/<dataset>/<model_id>.pt   checkpoints (an immutable id, not the run key)

``<dataset>`` and ``<what>`` go through :func:`folder_name` (collision-free);
every delete goes through :func:`inside_root`.
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


_SAFE_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


def is_safe_key(key: str) -> bool:
    """True for a key made of letters, digits, ``_``, ``-`` and ``.``, without a
    leading dot or ``..``, at most 128 characters: usable as one folder name."""
    return isinstance(key, str) and bool(_SAFE_KEY.fullmatch(key)) and ".." not in key


def check_key(key: str, name: str = "run_key") -> str:
    """Validates a user's key (run key, augmentation key) that names files.

    Raises:
        InputError: the key has a separator, ``..``, a leading dot, other
            characters, or is empty
    """
    if not is_safe_key(key):
        raise InputError(
            f"{name}={key!r} is not a valid key: use letters, digits, '_', '-' and '.' "
            "(no '/', no '..', not starting with '.', at most 128 characters)"
        )
    return key


def folder_name(name: str) -> str:
    """The one folder name of a user's name (dataset name, key): collision-free.

    A safe key (see :func:`is_safe_key`) is its own folder name; any other name
    becomes a readable slug plus ``~`` and a hash of the exact name. ``~`` never
    appears in a safe key, so two different names never share a folder
    (``coll x`` and ``coll/x``, ``a/b`` and ``a_b``).
    """
    if is_safe_key(name):
        return name
    import hashlib

    digest = hashlib.sha256(str(name).encode("utf-8")).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", str(name)).strip("_")[:64]
    return f"{slug}~{digest}"


def inside_root(path: str | Path) -> Path:
    """``path`` resolved, checked to lie strictly inside ClassLab's root.

    Every file ClassLab deletes goes through this check.

    Raises:
        InputError: the path is the root itself or outside it
    """
    root = root_dir()
    resolved = Path(path).expanduser().resolve()
    if resolved == root or root not in resolved.parents:
        raise InputError(
            f"Refusing to touch {str(path)!r}: it is not inside ClassLab's root {str(root)!r} "
            f"(set {ROOT_ENV} to move the root; ClassLab never deletes files outside it)"
        )
    return resolved


def remove_tree(path: str | Path) -> bool:
    """Deletes a folder inside ClassLab's root; False when it did not exist."""
    import shutil

    resolved = inside_root(path)
    if not resolved.exists():
        return False
    shutil.rmtree(resolved)
    return True


def remove_file(path: str | Path) -> bool:
    """Deletes a file inside ClassLab's root; False when it did not exist."""
    resolved = inside_root(path)
    if not resolved.exists():
        return False
    resolved.unlink()
    return True


def media_dir(dataset_name: str, *parts: str) -> Path:
    """Where ClassLab writes images for ``dataset_name`` (not created); every part
    goes through :func:`folder_name`, so the result is always inside the root."""
    names = [folder_name(dataset_name), *[folder_name(p) for p in parts]]
    return root_dir().joinpath("media", *names)


def models_dir(dataset_name: str) -> Path:
    """Where ClassLab writes model checkpoints for ``dataset_name`` (not created)."""
    return root_dir() / "models" / folder_name(dataset_name)


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
