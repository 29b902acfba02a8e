"""``train_model``: the trainer of :func:`classlab.lenet.runs.train_lenet`, with the
architecture, a torchvision weights file and ``freeze_backbone`` as arguments.

Every architecture goes through the same registry, apply, evaluate and export path
as LeNet-5 (:mod:`classlab.lenet.models` lists them; :mod:`classlab.lenet.backbones`
says how the torchvision ones are adapted to the data).
"""

from __future__ import annotations

from classlab import defaults
from classlab.lenet.config import TrainConfig, check_option
from classlab.lenet.runs import check_start, check_train_options, train_lenet
from classlab.progress import ProgressFn


def model_config(
    config: TrainConfig | dict | None = None,
    architecture: str | None = None,
    weights: str | None = None,
    freeze_backbone: bool | None = None,
) -> TrainConfig:
    """A validated :class:`TrainConfig`: ``config`` with the explicit arguments that are
    not None on top (the architecture defaults to ``defaults.MODEL_ARCHITECTURE`` when
    neither gives one).

    Raises:
        InputError: a bad value (the message names the option)
    """
    cfg = check_train_options(config)
    given_arch = config.get("architecture") if isinstance(config, dict) else None
    if isinstance(config, TrainConfig):
        given_arch = config.architecture
    explicit = {
        "architecture": architecture or given_arch or defaults.MODEL_ARCHITECTURE,
        "weights": weights,
        "freeze_backbone": freeze_backbone,
    }
    for name, value in explicit.items():
        if value is not None:
            setattr(cfg, name, check_option(name, value))
    if cfg.weights is not None and not cfg.weights.strip():
        cfg.weights = None
    return cfg


def train_model(
    view,
    run_key: str = defaults.MODEL_RUN_KEY,
    architecture: str | None = None,
    weights: str | None = None,
    freeze_backbone: bool | None = None,
    label_field: str = defaults.GROUND_TRUTH,
    train_tag: str = defaults.TRAIN_TAG,
    val_tag: str = defaults.VAL_TAG,
    test_tag: str = defaults.TEST_TAG,
    config: TrainConfig | dict | None = None,
    init_from: str | None = None,
    include_augmented: bool = False,
    augmented_tag: str = defaults.AUGMENTED_TAG,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> dict:
    """Trains ``architecture`` on the view's ``train_tag`` samples (see
    :func:`classlab.lenet.runs.train_lenet`, which this calls).

    Args:
        architecture: one of :data:`classlab.lenet.models.ARCHITECTURES` (None: the
            config's, else ``"resnet18"``)
        weights: a local torchvision ``state_dict`` file for the architecture
            (transfer learning; loaded weights-only and checked key by key); None:
            from scratch
        freeze_backbone: True trains only the last layer (feature extraction); False
            fine-tunes everything; None: the config's (False)
        config: the other hyperparameters (:class:`TrainConfig` or a dict of its fields)

    Returns:
        the model's record (``num_params``, ``train_seconds``, ``latency_ms`` ...)

    Raises:
        InputError: a bad option, or a weights file that does not match the architecture
        DataSourceError: the weights file is missing or unreadable
    """
    cfg = model_config(config, architecture, weights, freeze_backbone)
    check_start(cfg, init_from)
    return train_lenet(
        view,
        run_key=run_key,
        label_field=label_field,
        train_tag=train_tag,
        val_tag=val_tag,
        test_tag=test_tag,
        config=cfg,
        init_from=init_from,
        include_augmented=include_augmented,
        augmented_tag=augmented_tag,
        overwrite=overwrite,
        progress=progress,
    )
