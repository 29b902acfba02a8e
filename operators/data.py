"""Data operators: load MNIST, split a dataset into train/val/test tags.

Forms validate every value through the core's own checks (``common.check``).
"""

from __future__ import annotations

import fiftyone.operators as foo
import fiftyone.operators.types as types
from classlab import defaults
from classlab.validation import classification_fields

from .common import check, config, label_field_choice, param, progress, target_view_checked


class LoadMnist(foo.Operator):
    @property
    def config(self):
        return config(
            "load_mnist",
            "load MNIST",
            "Builds a persistent dataset from the four MNIST IDX files",
        )

    def resolve_input(self, ctx):
        from classlab.data import mnist
        from classlab.validation import require_field_name

        inputs = types.Object()
        source = inputs.str(
            "source_dir",
            label="IDX directory",
            description="Directory with the four MNIST IDX files (.gz or not). "
            "Leave empty to download them with torchvision.",
        )
        name = inputs.str("dataset_name", default=defaults.MNIST_DATASET_NAME, label="Dataset name")
        inputs.bool("overwrite", default=False, label="Overwrite an existing dataset")
        limit = inputs.int(
            "limit_per_split",
            label="Samples per split",
            description="Keep only the first N of each split (empty: all 70,000)",
        )
        field = inputs.str("label_field", default=defaults.GROUND_TRUTH, label="Label field")
        if param(ctx, "source_dir"):  # file look-ups only: no file is read
            check(source, mnist.find_mnist_files, param(ctx, "source_dir"))
        overwrite = bool(param(ctx, "overwrite", False))
        dataset_name = param(ctx, "dataset_name", defaults.MNIST_DATASET_NAME)
        check(name, mnist.check_dataset_name, dataset_name, overwrite)
        check(limit, mnist.check_limit, param(ctx, "limit_per_split"))
        check(
            field,
            require_field_name,
            param(ctx, "label_field", defaults.GROUND_TRUTH),
            "label_field",
        )
        return types.Property(inputs, view=types.View(label="ClassLab: load MNIST"))

    def execute(self, ctx):
        from classlab.data.mnist import load_mnist

        dataset = load_mnist(
            source_dir=param(ctx, "source_dir") or None,
            dataset_name=param(ctx, "dataset_name", defaults.MNIST_DATASET_NAME),
            overwrite=bool(param(ctx, "overwrite", False)),
            limit_per_split=param(ctx, "limit_per_split"),
            label_field=param(ctx, "label_field", defaults.GROUND_TRUTH),
            progress=progress(ctx),
        )
        if not ctx.delegated:
            ctx.ops.open_dataset(dataset.name)
        return {
            "dataset_name": dataset.name,
            "num_samples": len(dataset),
            "tags": dataset.count_sample_tags(),
        }

    def resolve_output(self, ctx):
        outputs = types.Object()
        r = ctx.results or {}
        tags = ", ".join(f"{t}: {n}" for t, n in sorted((r.get("tags") or {}).items()))
        headline = f"Loaded {r.get('num_samples', 0)} samples into {r.get('dataset_name')!r}"
        _summary(outputs, headline, [f"per split tag: {tags or 'none'}", "the App opened it"])
        outputs.str("dataset_name", label="Dataset")
        outputs.int("num_samples", label="Samples")
        return types.Property(outputs, view=types.View(label="ClassLab: MNIST loaded"))


def _summary(outputs, headline, lines):
    """A result view's headline notice and its lines (markdown)."""
    outputs.view("headline", types.Notice(label=headline))
    outputs.md("\n".join(f"- {line}" for line in lines), name="details")


def _fractions(ctx) -> dict[str, float]:
    """The form's split fractions: train/val/test, a 0 (or empty) one meaning no such split."""
    values = {t: param(ctx, t, defaults.SPLIT_FRACTIONS.get(t, 0.0)) for t in defaults.SPLIT_TAGS}
    return {t: v for t, v in values.items() if v != 0}


def _check_split_form(ctx, inputs, view):
    """Fractions, label field and existing split tags, each through the core's check."""
    from classlab.data.splits import (
        check_fraction,
        check_fractions,
        check_seed,
        check_split_tags,
    )
    from classlab.validation import require_classification_field

    prop = inputs.get_property
    fractions = _fractions(ctx)
    ok = [check(prop(t), check_fraction, t, v) is not None for t, v in fractions.items()]
    if all(ok):  # the sum (or "no split at all") on the last fraction given
        check(prop(list(fractions)[-1] if fractions else "train"), check_fractions, fractions)
    check(prop("seed"), check_seed, param(ctx, "seed", defaults.SPLIT_SEED))
    label_field = param(ctx, "label_field", defaults.GROUND_TRUTH)
    check(prop("label_field"), require_classification_field, view, label_field, "label_field")
    overwrite = bool(param(ctx, "overwrite", False))
    managed = list(dict.fromkeys([*defaults.SPLIT_TAGS, *fractions]))
    check(prop("overwrite"), check_split_tags, view, managed, overwrite)


def _split_tag_counts(ctx) -> dict[str, int]:
    """``{split tag: count}`` of the target view (one aggregation)."""
    from .common import target_view

    counts = target_view(ctx).count_sample_tags()
    return {t: counts[t] for t in defaults.SPLIT_TAGS if counts.get(t)}


class SplitDataset(foo.Operator):
    @property
    def config(self):
        return config(
            "split_dataset",
            "split into train/val/test",
            "Seeded, stratified split of the view into split tags",
            delegated=False,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        fields = classification_fields(ctx.dataset) if ctx.dataset is not None else []
        label_field_choice(inputs, ctx, "label_field", fields, defaults.GROUND_TRUTH, "Stratify by")
        inputs.float("train", default=defaults.SPLIT_FRACTIONS["train"], label="train fraction")
        inputs.float("val", default=defaults.SPLIT_FRACTIONS["val"], label="val fraction")
        inputs.float("test", default=0.0, label="test fraction (0: none)")
        inputs.int("seed", default=defaults.SPLIT_SEED, label="Seed")
        # A partly split view opens valid: re-split is pre-checked (the core refuses a
        # call that omits overwrite, so the fallback below stays False).
        tagged = _split_tag_counts(ctx) if ctx.dataset is not None else {}
        inputs.bool(
            "overwrite",
            default=bool(tagged),
            label="Re-split samples that already have split tags",
            description=", ".join(f"{t}: {c}" for t, c in tagged.items()) or None,
        )
        n = 0
        if ctx.dataset is not None:
            view, n = target_view_checked(ctx, inputs)
            _check_split_form(ctx, inputs, view)
        return types.Property(inputs, view=types.View(label=f"ClassLab: split {n} samples"))

    def execute(self, ctx):
        from classlab.data.splits import split_dataset

        counts = split_dataset(
            ctx.target_view(),
            fractions=_fractions(ctx),
            label_field=param(ctx, "label_field", defaults.GROUND_TRUTH),
            seed=param(ctx, "seed", defaults.SPLIT_SEED),
            overwrite=bool(param(ctx, "overwrite", False)),
        )
        ctx.ops.reload_dataset()
        return {"counts": counts}

    def resolve_output(self, ctx):
        outputs = types.Object()
        counts = (ctx.results or {}).get("counts") or {}
        shown = ", ".join(f"{t}: {n}" for t, n in counts.items())
        _summary(
            outputs,
            f"Split {sum(counts.values())} samples ({shown})",
            ["stratified by label and seeded: the same seed gives the same split"],
        )
        return types.Property(outputs, view=types.View(label="ClassLab: dataset split"))
