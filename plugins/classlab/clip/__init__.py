"""CLIP through open_clip: model loading, image embeddings, zero-shot labels.

Public API::

    from classlab.clip import (
        ClipSpec, LoaderOptions, ModelCache, compute_clip_embeddings, zero_shot_classify,
    )

    spec = ClipSpec("ViT-L-14", "/models/vit-l-14.bin")   # or ClipSpec() for the defaults
    options = LoaderOptions(batch_size=32, device="cuda")
    cache = ModelCache()                                  # one model load for both calls
    compute_clip_embeddings(view, spec, options, cache=cache)
    zero_shot_classify(view, spec, options, cache=cache)
"""

from classlab.clip.embeddings import MapOptions, compute_clip_embeddings
from classlab.clip.models import (
    ClipSpec,
    LoadedClip,
    ModelCache,
    check_model_name,
    check_spec,
    load_clip,
)
from classlab.clip.options import LoaderOptions, check_run
from classlab.clip.prompts import derive_prompt_name, parse_prompt_names, resolve_prompts
from classlab.clip.templates import TEMPLATE_SETS, list_template_sets, resolve_templates
from classlab.clip.weights import clip_weights_problem, is_checkpoint_path, require_clip_weights
from classlab.clip.zero_shot import build_text_classifier, zero_shot_classify, zero_shot_logits

__all__ = [
    "TEMPLATE_SETS",
    "ClipSpec",
    "LoadedClip",
    "LoaderOptions",
    "MapOptions",
    "ModelCache",
    "build_text_classifier",
    "check_model_name",
    "check_run",
    "check_spec",
    "clip_weights_problem",
    "compute_clip_embeddings",
    "derive_prompt_name",
    "is_checkpoint_path",
    "list_template_sets",
    "load_clip",
    "parse_prompt_names",
    "require_clip_weights",
    "resolve_prompts",
    "resolve_templates",
    "zero_shot_classify",
    "zero_shot_logits",
]
