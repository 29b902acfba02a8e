"""Can these CLIP weights be loaded here, without a long failing download?

The workflow and the CLIP forms ask before running, so an offline machine
skips them at once with a clear reason instead of retrying downloads for
minutes. This module also holds the one rule that tells a local checkpoint
path from a pretrained tag (:func:`is_checkpoint_path`), shared with the
loader in :mod:`classlab.clip.models`. Nothing here imports torch.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Optional

from classlab import defaults
from classlab.errors import DataSourceError

HF_HOST = ("huggingface.co", 443)
HF_PREFIX = "hf-hub:"
_HF_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _reachable(host: tuple[str, int] = HF_HOST, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection(host, timeout=timeout):
            return True
    except OSError:
        return False


def _hf_cached(repo_id: str, filenames) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    for name in filenames:
        hit = try_to_load_from_cache(repo_id, name)
        if isinstance(hit, str) and os.path.isfile(hit):
            return True
    return False


def _cached(model_name: str, pretrained: str) -> Optional[bool]:
    """True when the weights are in a local cache, False when not, None when
    open_clip does not know the model/tag pair."""
    if model_name.startswith(HF_PREFIX):
        return _hf_cached(model_name[len(HF_PREFIX) :], ("open_clip_config.json",))
    from open_clip import pretrained as oc_pretrained

    cfg = oc_pretrained.get_pretrained_cfg(model_name, pretrained)
    if not cfg:
        return None
    if cfg.get("file"):
        return os.path.isfile(cfg["file"])
    if cfg.get("hf_hub"):
        # "org/repo/" (default file names) or "org/repo/filename", as open_clip reads it
        repo, filename = os.path.split(cfg["hf_hub"])
        return _hf_cached(repo, (filename,) if filename else _HF_FILES)
    url = cfg.get("url", "")
    return bool(url) and (Path("~/.cache/clip").expanduser() / os.path.basename(url)).is_file()


def is_checkpoint_path(pretrained: Optional[str]) -> bool:
    """Whether ``pretrained`` names a local checkpoint file rather than a pretrained tag.

    The one rule (the weights check and the loader both use it): a value with a
    path separator, one ending in a suffix of ``defaults.CHECKPOINT_SUFFIXES``,
    or the path of an existing file.
    """
    value = str(pretrained or "").strip()
    if not value:
        return False
    return (
        "/" in value
        or os.sep in value
        or value.lower().endswith(defaults.CHECKPOINT_SUFFIXES)
        or Path(value).expanduser().is_file()
    )


def checkpoint_problem(pretrained: str) -> Optional[str]:
    """Why the local checkpoint ``pretrained`` cannot be read, or None when it is a file."""
    path = Path(str(pretrained).strip()).expanduser()
    if path.is_file():
        return None
    what = "is not a file" if path.exists() else "does not exist"
    return (
        f"The CLIP checkpoint {str(pretrained)!r} {what}: check the path. pretrained takes a "
        "pretrained tag of open_clip.list_pretrained(), or the path of an open_clip checkpoint "
        f"file ({', '.join(defaults.CHECKPOINT_SUFFIXES)})."
    )


def clip_weights_problem(model_name: str, pretrained: Optional[str]) -> Optional[str]:
    """Why ``model_name``/``pretrained`` cannot be loaded now, or None when it can.

    A local checkpoint path must exist; a named tag or an ``hf-hub:`` model
    (whose ``pretrained`` is ignored) must be in the local cache, or Hugging
    Face must be reachable (and ``HF_HUB_OFFLINE`` unset). Never downloads.
    """
    model_name = (model_name or "").strip()
    pretrained = None if model_name.startswith(HF_PREFIX) else (pretrained or "").strip()
    if not pretrained and not model_name.startswith(HF_PREFIX):
        return "No CLIP weights given (pretrained is empty)."
    if is_checkpoint_path(pretrained):
        return checkpoint_problem(pretrained)
    try:
        cached = _cached(model_name, pretrained or "")
    except ImportError as e:
        return f"open_clip is not installed ({e})."
    what = model_name if model_name.startswith(HF_PREFIX) else f"{model_name}/{pretrained}"
    if cached is None:
        return f"open_clip knows no pretrained weights {what}."
    if cached:
        return None
    if _offline():
        return f"The CLIP weights {what} are not in the local cache and HF_HUB_OFFLINE is set."
    if not _reachable():
        return (
            f"The CLIP weights {what} are not in the local cache and huggingface.co is "
            "unreachable (offline)."
        )
    return None


def require_clip_weights(model_name: str, pretrained: Optional[str]) -> None:
    """Raises when :func:`clip_weights_problem` finds one (for forms and callers that raise).

    Raises:
        DataSourceError: the weights are neither a local file nor cached, and
            cannot be downloaded now
    """
    problem = clip_weights_problem(model_name, pretrained)
    if problem:
        raise DataSourceError(
            f"{problem} Give pretrained as the path of a local checkpoint file, put the weights "
            "in the Hugging Face cache, or use random_weights=True (an untrained model)."
        )


def weights_help(model_name: str, pretrained: Optional[str]) -> str:
    """How to make ``model_name``/``pretrained`` loadable on an offline machine (for forms
    and messages): the Hugging Face repository to fetch elsewhere, the cache folder to
    copy it into, or a local checkpoint path. Never downloads."""
    model_name = (model_name or "").strip()
    repo = model_name[len(HF_PREFIX) :] if model_name.startswith(HF_PREFIX) else None
    if repo is None and pretrained and not is_checkpoint_path(pretrained):
        try:
            from open_clip import pretrained as oc_pretrained

            cfg = oc_pretrained.get_pretrained_cfg(model_name, pretrained) or {}
        except ImportError:
            cfg = {}
        repo = (cfg.get("hf_hub") or "").rstrip("/") or None
    try:
        from huggingface_hub.constants import HF_HUB_CACHE as cache
    except ImportError:
        cache = "~/.cache/huggingface/hub"
    steps = []
    if repo:
        steps.append(
            f"on a machine with internet run `huggingface-cli download {repo}` and copy its "
            f"cache folder (models--{repo.replace('/', '--')}) into {cache} here"
        )
    steps.append(
        "download the open_clip checkpoint file (.bin, .pt, .safetensors) and give its "
        "path as Pretrained weights"
    )
    steps.append("tick Random weights (tests only: the predictions mean nothing)")
    return "To provide the weights: " + "; or ".join(steps) + "."
