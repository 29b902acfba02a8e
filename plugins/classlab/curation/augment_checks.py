"""Checks of an augmentation run's parameters, and where a run's samples and record are.

One check per parameter: the ``augment_samples`` and ``delete_augmentations``
forms show each on its property, and :func:`check_augmentation` runs them all
before :func:`classlab.curation.augment.augment_samples` writes anything. They
read the schema, the run records and counts only, never every sample.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Union

from classlab import config, defaults, records
from classlab.curation.presets import build_pipeline, check_seed, describe_pipeline
from classlab.errors import EmptyViewError, InputError, RunExistsError, RunNotFoundError
from classlab.validation import require_classification_field

RECORD_KIND = "augmentations"


def run_samples(samples, run_key: str, aug_field: str = defaults.AUGMENTATION_FIELD):
    """The samples of ``samples`` (a dataset or view) that a run added."""
    from fiftyone import ViewField as F

    if not samples.has_field(aug_field):
        return samples.limit(0)
    return samples.match(F(f"{aug_field}.run_key") == run_key)


def list_augmentations(dataset) -> dict[str, dict]:
    """``{run_key: record}`` of the dataset's augmentation runs."""
    return records.list_records(getattr(dataset, "_dataset", dataset), RECORD_KIND)


def check_run_key(run_key: str) -> str:
    """Checks ``run_key``: it names the run's image folder, so it is a safe key
    (:func:`classlab.config.check_key`: letters, digits, ``_``, ``-``, ``.``; no
    separator, no ``..``, no leading dot), surrounding spaces ignored."""
    if not isinstance(run_key, str) or not run_key.strip():
        raise InputError(f"run_key must be a non-empty name such as 'augment_v1', got {run_key!r}.")
    return config.check_key(run_key.strip(), "run_key")


def check_copies(num_copies, max_copies: int = defaults.AUGMENT_MAX_COPIES) -> int:
    """Checks ``num_copies`` (a positive integer, at most ``max_copies``)."""
    try:
        n = int(num_copies)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"num_copies must be a positive integer, got {num_copies!r}") from None
    if n <= 0 or n != num_copies:
        raise InputError(f"num_copies must be a positive integer, got {num_copies!r}")
    if n > max_copies:
        raise InputError(
            f"num_copies={n} is above the limit of {max_copies} copies per sample "
            f"(num_copies). Use at most {max_copies}, or raise the limit deliberately "
            "with max_copies (e.g. augment_samples(..., max_copies=1000))."
        )
    return n


def check_source_view(view) -> int:
    """Checks that there is something to augment; returns the number of sources."""
    n = view.count()
    if n == 0:
        raise EmptyViewError(
            "The source view has no samples: tag the samples to augment (the form's "
            "source_tag, default 'to_augment') or choose another view."
        )
    return n


def check_source_splits(
    view, allow_eval_splits: bool = False, eval_tags: Iterable[str] = defaults.EVAL_TAGS
) -> dict[str, int]:
    """Refuses sources tagged with an evaluation split (val/test) unless
    ``allow_eval_splits``: their copies would train on evaluation images.

    Returns:
        ``{eval tag: source samples with it}`` (one aggregation)
    """
    tags = view.count_sample_tags()
    counts = {t: int(tags.get(t, 0)) for t in eval_tags}
    if sum(counts.values()) and not allow_eval_splits:
        shown = ", ".join(f"{t}: {n}" for t, n in counts.items())
        raise InputError(
            f"{sum(counts.values())} source sample(s) carry an evaluation split tag ({shown}): "
            "augmenting them leaks evaluation images into training. Restrict the sources to "
            "the train split (tag_samples_to_fix with split='train'), or pass "
            "allow_eval_splits=True to augment them deliberately (the copies keep their "
            "source's split tag)."
        )
    return counts


def check_copy_tags(tags: Iterable[str], split_tags: Iterable[str] = defaults.SPLIT_TAGS):
    """Checks the extra ``tags`` of the copies: strings, and no split tag (a copy carries
    its source's split tag, never another)."""
    tags = list(dict.fromkeys(tags))
    bad = [t for t in tags if not isinstance(t, str) or not t.strip()]
    splits = [t for t in tags if t in set(split_tags)]
    if bad or splits:
        raise InputError(
            f"tags must be non-empty names and no split tag, got {tags!r}: each copy carries "
            f"its source's split tag ({', '.join(split_tags)}) by itself."
        )
    return tags


def check_label_field(view, label_field: str) -> str:
    """Checks that ``label_field`` holds Classification labels on every source sample."""
    require_classification_field(view, label_field, "label field (label_field)")
    unlabeled = view.exists(f"{label_field}.label", False).count()
    if unlabeled:
        raise InputError(
            f"{unlabeled} source sample(s) have no {label_field!r} label (label_field); "
            "augmented copies need the ground truth. Exclude them from the view."
        )
    return label_field


def check_run_free(view, run_key: str, overwrite: bool = False) -> bool:
    """Checks that the run ``run_key`` may be written; returns whether it exists (and
    will be replaced)."""
    dataset = view._dataset
    exists = (
        records.get_record(dataset, RECORD_KIND, run_key) is not None
        or run_samples(dataset, run_key).count() > 0
    )
    if exists and not overwrite:
        raise RunExistsError(
            f"The augmentation run {run_key!r} exists: tick overwrite (overwrite=True) to "
            "replace its samples and images, or choose another run_key."
        )
    if exists and run_samples(view, run_key).count() > 0:
        raise InputError(
            f"The source view contains samples of the run {run_key!r} it replaces: exclude "
            "them (e.g. a source tag they do not carry) or choose another run_key."
        )
    return exists


def check_augmentation(
    view,
    run_key: str = defaults.AUGMENT_RUN_KEY,
    preset: Optional[str] = defaults.AUGMENT_PRESET,
    pipeline_json: Union[str, dict, None] = None,
    num_copies: int = defaults.AUGMENT_COPIES,
    seed: int = defaults.AUGMENT_SEED,
    label_field: str = defaults.GROUND_TRUTH,
    overwrite: bool = False,
    max_copies: int = defaults.AUGMENT_MAX_COPIES,
    allow_eval_splits: bool = False,
) -> dict[str, Any]:
    """Every check of :func:`augment_samples`' parameters, writing nothing.

    Returns:
        ``{"run_key", "num_copies", "seed", "pipeline", "recipe", "exists"}``: the
        values normalised, the built pipeline and its recipe, whether the run exists
    """
    run_key = check_run_key(run_key)
    num_copies = check_copies(num_copies, max_copies)
    pipeline = build_pipeline(preset, pipeline_json, seed)
    check_source_view(view)
    check_source_splits(view, allow_eval_splits)
    check_label_field(view, label_field)
    exists = check_run_free(view, run_key, overwrite)
    return {
        "run_key": run_key,
        "num_copies": num_copies,
        "seed": check_seed(seed),
        "pipeline": pipeline,
        "recipe": describe_pipeline(preset, pipeline_json),
        "exists": exists,
    }


def check_run_exists(dataset, run_key: str, runs: Optional[Iterable[str]] = None) -> str:
    """Checks that the augmentation run ``run_key`` exists (a record or samples).

    Args:
        dataset: the dataset (or a view of it)
        run_key: the run
        runs: the run keys already read with :func:`list_augmentations`, if the
            caller has them (a form reads them once)
    """
    dataset = getattr(dataset, "_dataset", dataset)
    runs = sorted(list_augmentations(dataset) if runs is None else runs)
    if run_key in runs or run_samples(dataset, run_key).count() > 0:
        return run_key
    if not runs:
        raise RunNotFoundError(
            f"No augmentation run {run_key!r} (run_key): this dataset has no augmentation "
            "runs (run augment_samples first)."
        )
    raise RunNotFoundError(
        f"No augmentation run {run_key!r} on this dataset: choose run_key from {', '.join(runs)}."
    )
