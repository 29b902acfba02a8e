"""The main job's settings: one dataclass, with the core's defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from classlab import defaults

# the FiftyOne MNIST tutorial's selection of training samples to fix, in one run:
# misclassified + top 0.1% unique + top 0.1% representative + bottom 1% confidence
# among the correct ones (scores from the LeNet-5 embeddings)
TUTORIAL_SELECTION = dict(
    misclassified=True, unique_top=0.001, representative_top=0.001, low_confidence_bottom=0.01
)


@dataclass
class WorkflowConfig:
    """Everything the workflow needs; each name is the core function's default.

    ``subset`` keeps the first N samples of each MNIST split. CLIP runs with
    ``clip_model``/``clip_pretrained`` (a tag, a local checkpoint path, or an
    ``hf-hub:`` model name) when those weights can be loaded, else its steps
    are skipped with the reason; ``clip_random_weights`` runs them with random
    weights instead (labelled so everywhere); ``clip=False`` skips them.
    ``tag_params`` are :class:`~classlab.curation.tagging.Criteria` fields;
    ``augment_params`` are arguments of
    :func:`~classlab.curation.augment.augment_samples`.
    """

    dataset_name: str = defaults.MNIST_DATASET_NAME
    mnist_dir: Optional[str] = None
    subset: Optional[int] = None
    fresh: bool = False
    device: str = "auto"
    seed: int = defaults.SPLIT_SEED
    val_fraction: float = defaults.SPLIT_FRACTIONS[defaults.VAL_TAG]
    clip: bool = True
    clip_model: str = defaults.CLIP_MODEL
    clip_pretrained: str = defaults.CLIP_PRETRAINED
    clip_random_weights: bool = False
    clip_batch_size: int = 64
    viz_method: str = "umap"
    epochs: int = 5
    finetune_epochs: int = 2
    batch_size: int = 256
    model_v1: str = defaults.MODEL_V1
    model_v2: str = defaults.MODEL_V2
    field_v2: str = defaults.MODEL_V2
    eval_v2: str = f"eval_{defaults.MODEL_V2}"
    tag_params: dict[str, Any] = field(default_factory=lambda: dict(TUTORIAL_SELECTION))
    augment_key: str = defaults.AUGMENT_RUN_KEY
    augment_params: dict[str, Any] = field(
        default_factory=lambda: dict(preset=defaults.AUGMENT_PRESET, num_copies=2)
    )
    only: Optional[list[str]] = None
