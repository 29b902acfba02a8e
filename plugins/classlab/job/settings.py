"""The main job's settings: one dataclass, with the core's defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

from classlab import defaults

# the FiftyOne MNIST tutorial's selection of training samples to fix, in one run:
# misclassified + top 0.1% unique + top 0.1% representative + bottom 1% confidence
# among the correct ones (scores from the LeNet-5 embeddings). The job's default
# was this (2 copies, 2 epochs at 3e-3) until the curation-gain measurements
# (benchmarks/RESULTS.md): now defaults.CURATION_SELECTION.
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
    ``tag_params`` are :class:`~classlab.curation.tagging.Criteria` fields
    (default ``defaults.CURATION_SELECTION``: misclassified + hardest 20%);
    ``augment_params`` are arguments of
    :func:`~classlab.curation.augment.augment_samples`.

    ``oos_folds`` LeNet-5 models of ``oos_epochs`` each (times ``oos_repeats``:
    repeated K-fold) give every train/val sample an
    out-of-sample prediction in ``oos_field`` (test: their ensemble); cleanlab flags
    the likely label errors on them; the curation then selects misclassified /
    low-confidence training samples from ``oos_field``, minus the flagged ones.

    ``model_v2`` is fine-tuned from ``model_v1`` for ``finetune_epochs`` at peak
    learning rate ``finetune_lr`` WITH the augmented samples; ``model_control``
    the same way (same parent, epochs, learning rate and seed) WITHOUT them.
    ``repeats`` N > 1 fine-tunes N seeded copies of each (seeds ``seed``,
    ``seed + 1``, ...; repeat i >= 1 gets the run key, field and eval key
    suffixed ``_s{i}``: ``lenet_v2_s1``), see :func:`repeat_name`.

    ``models`` (opt-in, default none) adds extra models before ``compare``: names of
    :func:`model_choices` as a list or a comma-separated string (``"resnet18,probe"``).
    Each architecture is trained with ``train_model`` for ``models_epochs`` (None: the
    ``epochs`` of LeNet-5), the job's batch size, device and seed, then applied and
    evaluated like ``lenet`` (run key ``resnet18_v1``, field ``resnet18``, eval key
    ``eval_resnet18``); ``probe`` is a linear probe (:mod:`classlab.probe`) on the
    CLIP embeddings when the dataset has them, else on LeNet-5's
    (:mod:`classlab.job.model_steps`).
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
    finetune_epochs: int = defaults.FINETUNE_EPOCHS
    finetune_lr: float = defaults.FINETUNE_LR
    batch_size: int = 256
    repeats: int = 1
    model_v1: str = defaults.MODEL_V1
    model_v2: str = defaults.MODEL_V2
    field_v2: str = defaults.MODEL_V2
    eval_v2: str = f"eval_{defaults.MODEL_V2}"
    model_control: str = defaults.MODEL_V2_CONTROL
    field_control: str = defaults.MODEL_V2_CONTROL
    eval_control: str = f"eval_{defaults.MODEL_V2_CONTROL}"
    tag_params: dict[str, Any] = field(default_factory=lambda: dict(defaults.CURATION_SELECTION))
    augment_key: str = defaults.AUGMENT_RUN_KEY
    augment_params: dict[str, Any] = field(
        default_factory=lambda: dict(
            preset=defaults.AUGMENT_PRESET, num_copies=defaults.CURATION_COPIES
        )
    )
    oos_key: str = defaults.OOS_RUN_KEY
    oos_field: str = defaults.OOS_FIELD
    oos_folds: int = defaults.OOS_FOLDS
    # fewer than defaults.OOS_EPOCHS: 5 folds x 2 epochs keep the whole job near its
    # time target on 2 CPU cores (benchmarks/RESULTS.md, "Label issues")
    oos_epochs: int = 2
    oos_repeats: int = 1
    only: Optional[list[str]] = None
    models: Union[str, Sequence[str], None] = ()
    models_epochs: Optional[int] = None

    def __post_init__(self):
        from classlab.errors import InputError

        self.models = check_models(self.models)
        e = self.models_epochs
        if e is not None and (isinstance(e, bool) or not isinstance(e, int) or e < 1):
            raise InputError(
                f"models_epochs (--models-epochs) must be a whole number >= 1, or empty "
                f"for the LeNet-5 epochs, got {e!r}"
            )
        if isinstance(self.repeats, bool) or not isinstance(self.repeats, int) or self.repeats < 1:
            raise InputError(f"repeats must be a whole number >= 1, got {self.repeats!r}")
        if not (isinstance(self.finetune_lr, (int, float)) and self.finetune_lr > 0):
            raise InputError(f"finetune_lr must be a number > 0, got {self.finetune_lr!r}")

    def runs(self, which: str) -> list[tuple[str, str, str, int]]:
        """``[(run_key, field, eval_key, seed), ...]``, one per repeat, of ``"v2"`` or
        ``"control"``."""
        key, fld, ev = {
            "v2": (self.model_v2, self.field_v2, self.eval_v2),
            "control": (self.model_control, self.field_control, self.eval_control),
        }[which]
        return [
            (repeat_name(key, i), repeat_name(fld, i), repeat_name(ev, i), self.seed + i)
            for i in range(self.repeats)
        ]

    @property
    def architectures(self) -> tuple[str, ...]:
        """The extra architectures of ``models`` (every name but ``probe``)."""
        return tuple(m for m in self.models if m != defaults.JOB_PROBE)

    @property
    def architecture_list(self) -> str:
        """The extra architectures, comma-separated (the step's title)."""
        return ", ".join(self.architectures)

    @property
    def wants_probe(self) -> bool:
        return defaults.JOB_PROBE in self.models

    def model_runs(self) -> list[tuple[str, str, str, str]]:
        """``[(architecture, run_key, field, eval_key), ...]`` of the extra architectures."""
        return [
            (
                m,
                defaults.JOB_MODEL_RUN_KEY.format(model=m),
                defaults.JOB_MODEL_FIELD.format(model=m),
                defaults.JOB_MODEL_EVAL.format(model=m),
            )
            for m in self.architectures
        ]


def model_choices() -> tuple[str, ...]:
    """The names ``models`` accepts: every architecture of the trainer but the job's
    own LeNet-5, and ``probe``."""
    from classlab.lenet.models import ARCHITECTURES

    return tuple(a for a in ARCHITECTURES if a != "lenet5") + (defaults.JOB_PROBE,)


def check_models(models) -> tuple[str, ...]:
    """``models`` as a tuple of distinct names (a comma-separated string or a list).

    Raises:
        InputError: an unknown name (the message lists the choices) or a wrong type
    """
    from classlab.errors import InputError

    choices = model_choices()
    hint = f"choose from {', '.join(choices)} (comma-separated, e.g. resnet18,probe)"
    if models is None:
        return ()
    if isinstance(models, str):
        models = models.split(",")
    if not isinstance(models, (list, tuple)) or not all(isinstance(m, str) for m in models):
        raise InputError(f"models (--models) must be a list of names: {hint}; got {models!r}")
    names = tuple(dict.fromkeys(m.strip().lower() for m in models if m.strip()))
    unknown = [m for m in names if m not in choices]
    if unknown:
        own = " (lenet5 is the job's own LeNet-5, always trained)" if "lenet5" in unknown else ""
        raise InputError(f"Unknown model(s) {unknown} in models (--models){own}: {hint}")
    return names


def repeat_name(name: str, i: int) -> str:
    """The run key / field / eval key of repeat ``i`` (0: ``name`` itself)."""
    return name + defaults.REPEAT_SUFFIX.format(i=i) if i else name
