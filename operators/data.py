"""Data operators: load MNIST, split a dataset into train/val/test tags."""

from __future__ import annotations

import os

import fiftyone.operators as foo
import fiftyone.operators.types as types
from classlab import defaults
from classlab.validation import classification_fields

from .common import config, invalid, label_field_choice, param, progress, target_count


class LoadMnist(foo.Operator):
    @property
    def config(self):
        return config(
            "load_mnist",
            "load MNIST",
            "Builds a persistent dataset from the four MNIST IDX files",
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        inputs.str(
            "source_dir",
            label="IDX directory",
            description="Directory with the four MNIST IDX files (.gz or not). "
            "Leave empty to download them with torchvision.",
        )
        inputs.str("dataset_name", default=defaults.MNIST_DATASET_NAME, label="Dataset name")
        inputs.bool("overwrite", default=False, label="Overwrite an existing dataset")
        inputs.int(
            "limit_per_split",
            label="Samples per split",
            description="Keep only the first N of each split (empty: all 70,000)",
        )
        inputs.str("label_field", default=defaults.GROUND_TRUTH, label="Label field")
        name = param(ctx, "dataset_name", defaults.MNIST_DATASET_NAME)
        import fiftyone as fo

        if name and fo.dataset_exists(name) and not param(ctx, "overwrite", False):
            invalid(
                inputs.view("exists", types.Notice(label=f"Dataset {name!r} exists")),
                f"Dataset {name!r} already exists: pick another name or tick Overwrite",
            )
        source = param(ctx, "source_dir")
        if source and not os.path.isdir(os.path.expanduser(source)):
            invalid(inputs.get_property("source_dir"), f"{source} is not a directory")
        limit = param(ctx, "limit_per_split")
        if limit is not None and int(limit) <= 0:
            invalid(inputs.get_property("limit_per_split"), "Must be a positive number")
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
        outputs.str("dataset_name", label="Dataset")
        outputs.int("num_samples", label="Samples")
        return types.Property(outputs, view=types.View(label="MNIST loaded"))


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
        n = target_count(ctx)
        fields = classification_fields(ctx.dataset) if ctx.dataset is not None else []
        label_field_choice(inputs, ctx, "label_field", fields, defaults.GROUND_TRUTH, "Stratify by")
        inputs.float("train", default=defaults.SPLIT_FRACTIONS["train"], label="train fraction")
        inputs.float("val", default=defaults.SPLIT_FRACTIONS["val"], label="val fraction")
        inputs.float("test", default=0.0, label="test fraction (0: none)")
        inputs.int("seed", default=defaults.SPLIT_SEED, label="Seed")
        inputs.bool(
            "overwrite",
            default=False,
            label="Re-split samples that already have split tags",
        )
        fracs = _fractions(ctx)
        total = sum(fracs.values())
        if any(v < 0 or v > 1 for v in fracs.values()) or total > 1 + 1e-9:
            invalid(
                inputs.get_property("test"),
                f"Fractions must each be in [0, 1] and sum to <= 1 (now {total:g})",
            )
        if n == 0:
            invalid(
                inputs.view("empty", types.Notice(label="The view is empty")),
                "The view has no samples",
            )
        return types.Property(inputs, view=types.View(label=f"ClassLab: split {n} samples"))

    def execute(self, ctx):
        from classlab.data.splits import split_dataset

        counts = split_dataset(
            ctx.target_view(),
            fractions={k: v for k, v in _fractions(ctx).items() if v > 0},
            label_field=param(ctx, "label_field", defaults.GROUND_TRUTH),
            seed=int(param(ctx, "seed", defaults.SPLIT_SEED)),
            overwrite=bool(param(ctx, "overwrite", False)),
        )
        ctx.ops.reload_dataset()
        return {"counts": counts}


def _fractions(ctx) -> dict[str, float]:
    """Split fractions from the form: the three standard tags, or a ``fractions`` dict."""
    given = ctx.params.get("fractions")
    if given:
        return {str(k): float(v) for k, v in given.items()}
    return {
        tag: float(param(ctx, tag, defaults.SPLIT_FRACTIONS.get(tag, 0.0)))
        for tag in defaults.SPLIT_TAGS
    }
