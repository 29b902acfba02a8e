"""A tiny open_clip architecture for tests: 3.4 M parameters, random weights."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

TINY = "ClassLab-Tiny-ViT"
CONFIG = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def register_tiny_clip() -> str:
    """Registers the tiny config with open_clip (idempotent); returns its name."""
    import open_clip

    if TINY not in open_clip.list_models():
        path = Path(tempfile.mkdtemp(prefix="classlab-tiny-clip-")) / f"{TINY}.json"
        path.write_text(json.dumps(CONFIG))
        open_clip.add_model_config(path)
    return TINY
