"""Albumentations pipelines kept as data: named presets, or a user's serialised JSON.

A preset is a list of ``(transform class name, keyword arguments)``. A user
pipeline is albumentations' own serialised format (``A.to_dict(pipeline)``,
read back with ``A.from_dict``). Either way the pipeline is seeded:
``A.Compose([...], seed=seed)``, so the same seed on the same samples gives the
same images.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Optional, Union

from classlab import defaults
from classlab.errors import InputError, MissingDependencyError

# The FiftyOne MNIST tutorial's recipe: Affine + ElasticTransform + Perspective +
# GridDistortion, with strengths that suit 28x28 digits (the digit stays legible).
PRESETS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "tutorial": [
        (
            "Affine",
            dict(
                scale=(0.9, 1.1),
                translate_percent=(-0.1, 0.1),
                rotate=(-15, 15),
                shear=(-10, 10),
                p=0.7,
            ),
        ),
        ("ElasticTransform", dict(alpha=30.0, sigma=5.0, p=0.5)),
        ("Perspective", dict(scale=(0.05, 0.1), p=0.5)),
        ("GridDistortion", dict(num_steps=5, distort_limit=0.3, p=0.5)),
    ],
    "mild": [
        (
            "Affine",
            dict(scale=(0.95, 1.05), translate_percent=(-0.05, 0.05), rotate=(-8, 8), p=1.0),
        ),
        ("RandomBrightnessContrast", dict(brightness_limit=0.1, contrast_limit=0.1, p=0.3)),
    ],
    "strong": [
        (
            "Affine",
            dict(
                scale=(0.8, 1.2),
                translate_percent=(-0.15, 0.15),
                rotate=(-25, 25),
                shear=(-15, 15),
                p=1.0,
            ),
        ),
        ("ElasticTransform", dict(alpha=40.0, sigma=4.0, p=0.8)),
        ("Perspective", dict(scale=(0.08, 0.15), p=0.7)),
        ("GridDistortion", dict(num_steps=5, distort_limit=0.4, p=0.7)),
        ("GaussNoise", dict(std_range=(0.05, 0.15), p=0.5)),
        (
            "CoarseDropout",
            dict(
                num_holes_range=(1, 2),
                hole_height_range=(0.1, 0.2),
                hole_width_range=(0.1, 0.2),
                fill=0,
                p=0.3,
            ),
        ),
    ],
}


def list_presets() -> dict[str, list[str]]:
    """``{preset: [transform names]}``."""
    return {name: [t for t, _ in steps] for name, steps in PRESETS.items()}


def _albumentations():
    try:
        import albumentations as A
    except ImportError as e:  # pragma: no cover - albumentations is a pinned dependency
        raise MissingDependencyError(
            "albumentations is not installed: pip install albumentations==2.0.8"
        ) from e
    return A


def check_preset(preset: Optional[str], pipeline_json: Union[str, dict, None] = None):
    """Checks ``preset`` (a name from :data:`PRESETS`); not used, so not checked, when a
    ``pipeline_json`` replaces it."""
    if not pipeline_json and preset not in PRESETS:
        raise InputError(
            f"Unknown preset {preset!r}: choose from {', '.join(PRESETS)}, or paste a "
            "serialised pipeline in pipeline_json."
        )
    return preset


def check_seed(seed) -> int:
    """Checks the pipeline's ``seed`` (an integer >= 0: numpy seeds no negative)."""
    try:
        value = int(seed)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"seed must be an integer >= 0, got {seed!r}") from None
    if (value != seed and not isinstance(seed, str)) or value < 0 or isinstance(seed, bool):
        raise InputError(f"seed must be an integer >= 0, got {seed!r}")
    return value


def _from_preset(A, preset: str) -> list:
    check_preset(preset)
    return [getattr(A, name)(**copy.deepcopy(kw)) for name, kw in PRESETS[preset]]


def parse_pipeline_json(pipeline: Union[str, dict]) -> dict:
    """Parses a serialised pipeline (a JSON string or dict) into a dict."""
    if isinstance(pipeline, dict):
        return pipeline
    try:
        data = json.loads(pipeline)
    except (TypeError, ValueError) as e:
        raise InputError(
            f"pipeline_json is not valid JSON ({e}). Paste the output of "
            "json.dumps(A.to_dict(pipeline))."
        ) from None
    if not isinstance(data, dict):
        raise InputError("pipeline_json must be a JSON object, as A.to_dict() writes it.")
    return data


def check_pipeline_json(pipeline: Union[str, dict, None]) -> Optional[tuple[list, float]]:
    """Checks a serialised pipeline by building it with albumentations.

    Returns:
        ``(transforms, p)``: the pipeline's transforms and its probability; None
        when there is no pipeline (the preset is used)

    Raises:
        InputError: not JSON, no transform, or a transform albumentations rejects
    """
    if not pipeline:
        return None
    A = _albumentations()
    data = parse_pipeline_json(pipeline)
    if "transform" not in data:  # a bare transform dict: wrap it as A.to_dict would
        data = {"__version__": A.__version__, "transform": data}
    inner = data.get("transform")
    if not isinstance(inner, dict) or "__class_fullname__" not in inner:
        raise InputError(
            "pipeline_json has no transform: expected "
            '{"transform": {"__class_fullname__": "Compose", "transforms": [...]}} '
            "as A.to_dict() writes it."
        )
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            transform = A.from_dict(data)
    except Exception as e:  # albumentations raises KeyError/TypeError/ValueError/pydantic's
        raise InputError(
            f"albumentations cannot build the pipeline in pipeline_json: {type(e).__name__}: {e}. "
            "Check the transform names and arguments against albumentations 2.x."
        ) from None
    if isinstance(transform, A.Compose):
        return list(transform.transforms), transform.p
    return [transform], 1.0


def build_pipeline(
    preset: Optional[str] = defaults.AUGMENT_PRESET,
    pipeline_json: Union[str, dict, None] = None,
    seed: int = defaults.AUGMENT_SEED,
):
    """A seeded ``A.Compose`` from a named preset or from serialised JSON (which wins).

    Raises:
        InputError: unknown preset, invalid JSON, or a pipeline albumentations rejects
    """
    check_preset(preset, pipeline_json)
    seed = check_seed(seed)
    A = _albumentations()
    p = 1.0
    if pipeline_json:
        transforms, p = check_pipeline_json(pipeline_json)
    else:
        transforms = _from_preset(A, preset)
    return A.Compose(transforms, p=p, seed=seed)


def describe_pipeline(preset: Optional[str], pipeline_json: Union[str, dict, None]) -> dict:
    """The recipe stored with a run: preset name (or None) and the serialised pipeline."""
    A = _albumentations()
    compose = build_pipeline(preset, pipeline_json, seed=0)
    return {"preset": None if pipeline_json else preset, "pipeline": _jsonable(A.to_dict(compose))}


def _jsonable(obj):
    """Tuples to lists, so the recipe survives a MongoDB round trip unchanged."""
    return json.loads(json.dumps(obj))
