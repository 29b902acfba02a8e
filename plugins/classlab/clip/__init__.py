"""CLIP through open_clip: model loading, image embeddings, zero-shot labels.

Public API::

    from classlab.clip import compute_clip_embeddings, zero_shot_classify, ModelCache
"""

from classlab.clip.embeddings import compute_clip_embeddings
from classlab.clip.models import ClipSpec, LoadedClip, ModelCache, check_spec, load_clip
from classlab.clip.templates import TEMPLATE_SETS, list_template_sets, resolve_templates
from classlab.clip.zero_shot import (
    build_text_classifier,
    derive_prompt_name,
    zero_shot_classify,
    zero_shot_logits,
)

__all__ = [
    "TEMPLATE_SETS",
    "ClipSpec",
    "LoadedClip",
    "ModelCache",
    "build_text_classifier",
    "check_spec",
    "compute_clip_embeddings",
    "derive_prompt_name",
    "list_template_sets",
    "load_clip",
    "resolve_templates",
    "zero_shot_classify",
    "zero_shot_logits",
]
