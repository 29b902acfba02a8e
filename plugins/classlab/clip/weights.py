"""Can these CLIP weights be loaded here, without a long failing download?

The workflow asks before running its CLIP steps, so an offline machine skips
them at once with a clear reason instead of retrying downloads for minutes.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Optional

HF_HOST = ("huggingface.co", 443)
HF_PREFIX = "hf-hub:"
_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors")
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


def clip_weights_problem(model_name: str, pretrained: Optional[str]) -> Optional[str]:
    """Why ``model_name``/``pretrained`` cannot be loaded now, or None when it can.

    A local checkpoint path must exist; a named tag or an ``hf-hub:`` model
    must be in the local cache, or Hugging Face must be reachable (and
    ``HF_HUB_OFFLINE`` unset).
    """
    if not pretrained and not model_name.startswith(HF_PREFIX):
        return "No CLIP weights given (pretrained is empty)."
    if pretrained and (os.sep in pretrained or pretrained.endswith(_CHECKPOINT_SUFFIXES)):
        if Path(pretrained).expanduser().is_file():
            return None
        return f"The CLIP checkpoint {pretrained} does not exist."
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
