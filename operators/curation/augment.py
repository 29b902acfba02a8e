"""The augment_samples and delete_augmentations operators."""

from __future__ import annotations

import fiftyone.operators as foo
import fiftyone.operators.types as types
from classlab import defaults
from classlab.validation import classification_fields

from ..common import check, config, param, progress
from ._forms import dropdown


def _augment_params(ctx):
    """``(source view, arguments)`` of ``augment_samples``, as the form checks them."""
    view = ctx.target_view()
    tag = param(ctx, "source_tag", defaults.TO_FIX_TAG)
    if tag:
        view = view.match_tags(tag)
    return view, dict(
        run_key=param(ctx, "run_key", defaults.AUGMENT_RUN_KEY),
        preset=param(ctx, "preset", defaults.AUGMENT_PRESET),
        pipeline_json=param(ctx, "pipeline_json") or None,
        num_copies=param(ctx, "num_copies", defaults.AUGMENT_COPIES),
        seed=param(ctx, "seed", defaults.AUGMENT_SEED),
        label_field=param(ctx, "label_field", defaults.GROUND_TRUTH),
        overwrite=bool(param(ctx, "overwrite", False)),
    )


def _augment_inputs(inputs, ctx) -> dict:
    from classlab.curation.presets import PRESETS, list_presets

    props = {
        "run_key": inputs.str(
            "run_key", default=defaults.AUGMENT_RUN_KEY, required=False, label="Run key"
        ),
        "source_tag": inputs.str(
            "source_tag",
            default=defaults.TO_FIX_TAG,
            required=False,
            label="Source tag",
            description="Augment the samples with this tag (empty: the whole target view)",
        ),
    }
    props["preset"] = dropdown(
        inputs,
        "preset",
        list(PRESETS),
        defaults.AUGMENT_PRESET,
        "Preset",
        "; ".join(f"{k}: {' + '.join(v)}" for k, v in list_presets().items()),
    )
    props["pipeline_json"] = inputs.str(
        "pipeline_json",
        required=False,
        label="Pipeline JSON (optional)",
        description="albumentations' serialised pipeline, json.dumps(A.to_dict(p)); "
        "replaces the preset",
    )
    props["num_copies"] = inputs.int(
        "num_copies", default=defaults.AUGMENT_COPIES, label="Copies per sample"
    )
    props["seed"] = inputs.int("seed", default=defaults.AUGMENT_SEED, label="Seed")
    labels = classification_fields(ctx.dataset) if ctx.dataset else []
    props["label_field"] = dropdown(
        inputs, "label_field", labels, defaults.GROUND_TRUTH, "Label to copy"
    )
    inputs.bool("overwrite", default=False, label="Replace an existing run with this key")
    inputs.bool(
        "preview",
        default=False,
        label="Preview",
        description="Render a few augmented images and add nothing",
    )
    inputs.int("preview_samples", default=4, label="Samples to preview")
    return props


def _check_augment(inputs, props, view, a, preview: bool) -> None:
    """Shows each core check's message on its property, and the size of the run."""
    from classlab.curation import augment_checks as ac
    from classlab.curation import presets

    check(props["run_key"], ac.check_run_key, a["run_key"])
    copies = check(props["num_copies"], ac.check_copies, a["num_copies"])
    check(props["preset"], presets.check_preset, a["preset"], a["pipeline_json"])
    check(props["pipeline_json"], presets.check_pipeline_json, a["pipeline_json"])
    check(props["seed"], presets.check_seed, a["seed"])
    n = check(props["source_tag"], ac.check_source_view, view)
    if preview or not n:
        return
    check(props["label_field"], ac.check_label_field, view, a["label_field"])
    if not props["run_key"].invalid:
        check(props["run_key"], ac.check_run_free, view, a["run_key"], a["overwrite"])
    if copies:
        inputs.view("size", types.Notice(label=f"{n} source sample(s): {n * copies} new samples"))


class AugmentSamples(foo.Operator):
    @property
    def config(self):
        return config(
            "augment_samples",
            "augment samples",
            "N augmented copies per sample with albumentations (lossless PNGs, labels copied)",
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        props = _augment_inputs(inputs, ctx)
        if ctx.dataset is not None:
            view, a = _augment_params(ctx)
            _check_augment(inputs, props, view, a, bool(param(ctx, "preview", False)))
        return types.Property(inputs, view=types.View(label="ClassLab: augment samples"))

    def execute(self, ctx):
        from classlab.curation.augment import augment_samples, preview_augmentations

        view, a = _augment_params(ctx)
        if param(ctx, "preview", False):
            shown = preview_augmentations(
                view,
                preset=a["preset"],
                pipeline_json=a["pipeline_json"],
                num_copies=a["num_copies"],
                seed=a["seed"],
                max_samples=param(ctx, "preview_samples", 4),
                write=True,
            )
            return {
                "preview": [p for e in shown for p in e["paths"]],
                "images": [u for e in shown for u in e["data_uris"]],
            }
        res = augment_samples(view, progress=progress(ctx), **a)
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return res

    def resolve_output(self, ctx):
        outputs = types.Object()
        images = (ctx.results or {}).get("images") or []
        if images:
            for i, uri in enumerate(images[:32]):
                outputs.str(f"image_{i}", default=uri, view=types.ImageView(), label=f"#{i}")
            return types.Property(outputs, view=types.View(label="Augmentation preview"))
        outputs.str("run_key", label="Run key")
        outputs.int("num_samples", label="Samples added")
        outputs.str("dir", label="Images in")
        return types.Property(outputs, view=types.View(label="Augmented"))


class DeleteAugmentations(foo.Operator):
    @property
    def config(self):
        return config(
            "delete_augmentations",
            "delete augmentations",
            "Removes an augmentation run's samples and images",
            delegated=False,
        )

    def resolve_input(self, ctx):
        from classlab.curation.augment_checks import check_run_exists, list_augmentations

        inputs = types.Object()
        ds = ctx.dataset
        runs = sorted(list_augmentations(ds)) if ds is not None else []  # read once
        prop = dropdown(inputs, "run_key", runs, defaults.AUGMENT_RUN_KEY, "Run key")
        if ds is not None:
            key = param(ctx, "run_key", defaults.AUGMENT_RUN_KEY)
            check(prop, check_run_exists, ds, key, runs)
        return types.Property(inputs, view=types.View(label="ClassLab: delete augmentations"))

    def execute(self, ctx):
        from classlab.curation.augment import delete_augmentations

        res = delete_augmentations(ctx.dataset, param(ctx, "run_key", defaults.AUGMENT_RUN_KEY))
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return res
