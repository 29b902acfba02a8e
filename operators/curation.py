"""Curation operators: brain scores, tag the samples to fix, augment them, undo."""

from __future__ import annotations

import json

import fiftyone.operators as foo
import fiftyone.operators.types as types
from classlab import defaults
from classlab.errors import ClassLabError
from classlab.validation import classification_fields

from .common import config, invalid, param, progress, target_count

SCORE_HELP = {
    "hardness": "entropy of the prediction's logits",
    "mistakenness": "how likely the ground truth is wrong, given the prediction",
    "uniqueness": "distance to the nearest neighbours in the embedding space",
    "representativeness": "closeness to the embedding clusters' centres",
}


def _embedding_fields(dataset) -> list[str]:
    import fiftyone as fo

    if dataset is None:
        return []
    schema = dataset.get_field_schema()
    return sorted(n for n, f in schema.items() if isinstance(f, (fo.VectorField, fo.ArrayField)))


def _dropdown(inputs, name, choices, default, label, description=""):
    """An optional dropdown (SDK calls may omit it); the default is kept when offered."""
    view = types.DropdownView()
    for c in choices:
        view.add_choice(c, label=c)
    value = default if default in choices else (choices[0] if choices else None)
    # a string shown as a dropdown: an SDK value outside the list reaches the core,
    # whose error says what is wrong (an enum would only say "Invalid enum value")
    return inputs.str(
        name, default=value, required=False, label=label, description=description, view=view
    )


def _pred_fields(fields: list[str]) -> list[str]:
    """Classification fields with the ground truth last (never the default prediction)."""
    return [f for f in fields if f != defaults.GROUND_TRUTH] + [
        f for f in fields if f == defaults.GROUND_TRUTH
    ]


def _field_or_default(ctx, name, default):
    value = param(ctx, name, default)
    return value or None


class ComputeSampleScores(foo.Operator):
    @property
    def config(self):
        return config(
            "compute_sample_scores",
            "compute sample scores",
            "Hardness, mistakenness, uniqueness and representativeness through FiftyOne Brain",
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        n = target_count(ctx)
        ds = ctx.dataset
        cls_fields = classification_fields(ds) if ds is not None else []
        emb_fields = _embedding_fields(ds)
        for s in defaults.SCORES:
            inputs.bool(
                s,
                default=True if s in ("hardness", "mistakenness") else False,
                label=s,
                description=SCORE_HELP[s],
            )
        given = ctx.params.get("scores")
        chosen = list(given) if given else [s for s in defaults.SCORES if param(ctx, s, False)]
        _dropdown(
            inputs,
            "pred_field",
            _pred_fields(cls_fields),
            defaults.LENET_FIELD,
            "Prediction field",
            "For hardness (needs logits) and mistakenness",
        )
        _dropdown(inputs, "gt_field", cls_fields, defaults.GROUND_TRUTH, "Ground truth field")
        _dropdown(
            inputs,
            "embeddings_field",
            emb_fields,
            defaults.CLIP_EMBEDDINGS,
            "Embeddings field",
            "For uniqueness and representativeness",
        )
        if not chosen:
            invalid(
                inputs.view("none", types.Notice(label="Choose a score")),
                "Choose at least one score",
            )
        if any(s in chosen for s in ("hardness", "mistakenness")) and not cls_fields:
            invalid(
                inputs.view("nopred", types.Notice(label="No prediction field")),
                "No Classification field: run apply_lenet or zero_shot_classify first",
            )
        if any(s in chosen for s in ("uniqueness", "representativeness")) and not emb_fields:
            invalid(
                inputs.view("noemb", types.Notice(label="No embeddings field")),
                "No embeddings field: run compute_clip_embeddings, or apply_lenet with "
                "embeddings_field, first",
            )
        return types.Property(inputs, view=types.View(label=f"ClassLab: score {n} samples"))

    def execute(self, ctx):
        from classlab.curation.scores import compute_sample_scores

        given = ctx.params.get("scores")
        scores = list(given) if given else [s for s in defaults.SCORES if param(ctx, s, False)]
        fields = compute_sample_scores(
            ctx.target_view(),
            scores=scores,
            pred_field=_field_or_default(ctx, "pred_field", defaults.LENET_FIELD),
            gt_field=param(ctx, "gt_field", defaults.GROUND_TRUTH),
            embeddings_field=_field_or_default(ctx, "embeddings_field", defaults.CLIP_EMBEDDINGS),
            progress=progress(ctx),
        )
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return {"fields": fields}


def _criteria_inputs(inputs, ctx):
    ds = ctx.dataset
    cls_fields = classification_fields(ds) if ds is not None else []
    tags = sorted(ds.distinct("tags")) if ds is not None else []
    _dropdown(
        inputs, "pred_field", _pred_fields(cls_fields), defaults.LENET_FIELD, "Prediction field"
    )
    _dropdown(inputs, "gt_field", cls_fields, defaults.GROUND_TRUTH, "Ground truth field")
    _dropdown(
        inputs,
        "embeddings_field",
        _embedding_fields(ds),
        defaults.CLIP_EMBEDDINGS,
        "Embeddings field",
        "Whose uniqueness/representativeness scores to use",
    )
    _dropdown(inputs, "split", [""] + tags, "", "Restrict to split tag", "Empty: the whole view")
    inputs.bool("misclassified", default=False, label="Misclassified")
    frac = "a fraction in (0, 1): 0.001 is the top 0.1%"
    inputs.float("mistakenness_above", label="Mistakenness above")
    inputs.float("mistakenness_top", label="Most mistaken (top fraction)", description=frac)
    inputs.float("hardness_above", label="Hardness above")
    inputs.float("hardness_top", label="Hardest (top fraction)", description=frac)
    inputs.float(
        "low_confidence_bottom",
        label="Correct but least confident (bottom fraction)",
        description="Among correct predictions; " + frac,
    )
    inputs.float("unique_top", label="Most unique (top fraction)", description=frac)
    inputs.float("representative_top", label="Most representative (top fraction)", description=frac)


class TagSamplesToFix(foo.Operator):
    @property
    def config(self):
        return config(
            "tag_samples_to_fix",
            "tag samples to fix",
            "Tags the union of misclassified, most mistaken, hardest, least confident, "
            "most unique and most representative samples",
            delegated=False,
        )

    def resolve_input(self, ctx):
        from classlab.curation.tagging import Criteria, count_selection

        inputs = types.Object()
        inputs.str("tag", default=defaults.TO_FIX_TAG, required=False, label="Tag")
        inputs.bool(
            "untag",
            default=False,
            label="Remove the tag instead",
            description="With no criterion: from every sample of the view",
        )
        _criteria_inputs(inputs, ctx)
        criteria = Criteria.from_params(ctx.params)
        untag = bool(param(ctx, "untag", False))
        if criteria.active() or not untag:
            try:  # a few cheap queries: the count the run would tag
                n = count_selection(ctx.target_view(), criteria)
                notice = f"{n} sample(s) match"
                prop = inputs.view("preview", types.Notice(label=notice))
                if n == 0:
                    invalid(prop, "No sample matches these criteria")
            except ClassLabError as e:
                invalid(inputs.view("preview", types.Notice(label=str(e))), str(e))
        label = "ClassLab: untag samples" if untag else "ClassLab: tag samples to fix"
        return types.Property(inputs, view=types.View(label=label))

    def execute(self, ctx):
        from classlab.curation.tagging import Criteria, tag_samples

        tag = param(ctx, "tag", defaults.TO_FIX_TAG)
        untag = bool(param(ctx, "untag", False))
        res = tag_samples(ctx.target_view(), Criteria.from_params(ctx.params), tag, untag)
        if not ctx.delegated:
            if untag:
                ctx.ops.reload_samples()
            else:
                ctx.ops.set_view(ctx.dataset.match_tags(res["tag"]))
        return {k: v for k, v in res.items() if k != "ids"}


class AugmentSamples(foo.Operator):
    @property
    def config(self):
        return config(
            "augment_samples",
            "augment samples",
            "N augmented copies per sample with albumentations (lossless PNGs, labels copied)",
        )

    def resolve_input(self, ctx):
        from classlab.curation.presets import PRESETS, list_presets
        from classlab.records import get_record

        inputs = types.Object()
        inputs.str("run_key", default=defaults.AUGMENT_RUN_KEY, required=False, label="Run key")
        inputs.str(
            "source_tag",
            default=defaults.TO_FIX_TAG,
            required=False,
            label="Source tag",
            description="Augment the samples with this tag (empty: the whole target view)",
        )
        desc = "; ".join(f"{k}: {' + '.join(v)}" for k, v in list_presets().items())
        choices = types.DropdownView()
        for name in PRESETS:
            choices.add_choice(name, label=name)
        preset = param(ctx, "preset", defaults.AUGMENT_PRESET)
        prop = inputs.str(
            "preset",
            default=defaults.AUGMENT_PRESET,
            required=False,
            label="Preset",
            description=desc,
            view=choices,
        )
        if preset not in PRESETS and not param(ctx, "pipeline_json", ""):
            invalid(prop, f"Unknown preset {preset!r}: choose from {', '.join(PRESETS)}")
        inputs.str(
            "pipeline_json",
            required=False,
            label="Pipeline JSON (optional)",
            description="albumentations' serialised pipeline, json.dumps(A.to_dict(p)); "
            "replaces the preset",
        )
        inputs.int("num_copies", default=defaults.AUGMENT_COPIES, label="Copies per sample")
        inputs.int("seed", default=defaults.AUGMENT_SEED, label="Seed")
        _dropdown(
            inputs,
            "label_field",
            classification_fields(ctx.dataset) if ctx.dataset else [],
            defaults.GROUND_TRUTH,
            "Label to copy",
        )
        inputs.bool("overwrite", default=False, label="Replace an existing run with this key")
        inputs.bool(
            "preview",
            default=False,
            label="Preview only",
            description="Render a few augmented images; add nothing",
        )
        inputs.int("preview_samples", default=4, label="Samples to preview")
        n = param(ctx, "num_copies", defaults.AUGMENT_COPIES)
        if not isinstance(n, int) or n <= 0:
            invalid(inputs.get_property("num_copies"), "Must be a positive integer")
        text = param(ctx, "pipeline_json", "")
        if text:
            try:
                json.loads(text)
            except ValueError as e:
                invalid(inputs.get_property("pipeline_json"), f"Not valid JSON: {e}")
        key = param(ctx, "run_key", defaults.AUGMENT_RUN_KEY)
        if (
            not param(ctx, "preview", False)
            and not param(ctx, "overwrite", False)
            and ctx.dataset is not None
            and get_record(ctx.dataset, "augmentations", key) is not None
        ):
            invalid(
                inputs.get_property("run_key"),
                f"Augmentation run {key!r} exists: tick overwrite or choose another key",
            )
        return types.Property(inputs, view=types.View(label="ClassLab: augment samples"))

    def execute(self, ctx):
        from classlab.curation.augment import augment_samples, preview_augmentations

        view = ctx.target_view()
        tag = param(ctx, "source_tag", defaults.TO_FIX_TAG)
        if tag:
            view = view.match_tags(tag)
        common = dict(
            preset=param(ctx, "preset", defaults.AUGMENT_PRESET),
            pipeline_json=param(ctx, "pipeline_json") or None,
            num_copies=param(ctx, "num_copies", defaults.AUGMENT_COPIES),
            seed=param(ctx, "seed", defaults.AUGMENT_SEED),
        )
        if param(ctx, "preview", False):
            shown = preview_augmentations(
                view, max_samples=param(ctx, "preview_samples", 4), write=True, **common
            )
            return {
                "preview": [p for e in shown for p in e["paths"]],
                "images": [u for e in shown for u in e["data_uris"]],
            }
        res = augment_samples(
            view,
            run_key=param(ctx, "run_key", defaults.AUGMENT_RUN_KEY),
            label_field=param(ctx, "label_field", defaults.GROUND_TRUTH),
            overwrite=bool(param(ctx, "overwrite", False)),
            progress=progress(ctx),
            **common,
        )
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
        from classlab.curation.augment import list_augmentations

        inputs = types.Object()
        runs = sorted(list_augmentations(ctx.dataset)) if ctx.dataset is not None else []
        choices = types.DropdownView()
        for r in runs:
            choices.add_choice(r, label=r)
        default = runs[0] if runs else None
        prop = inputs.str("run_key", default=default, required=False, label="Run key", view=choices)
        key = param(ctx, "run_key", default)
        if not runs:
            invalid(prop, "This dataset has no augmentation runs")
        elif key not in runs:
            invalid(prop, f"No augmentation run {key!r}: runs are {', '.join(runs)}")
        return types.Property(inputs, view=types.View(label="ClassLab: delete augmentations"))

    def execute(self, ctx):
        from classlab.curation.augment import delete_augmentations

        res = delete_augmentations(ctx.dataset, param(ctx, "run_key", defaults.AUGMENT_RUN_KEY))
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return res
