"""The augment_samples and delete_augmentations operators."""

from __future__ import annotations

import fiftyone.operators as foo
import fiftyone.operators.types as types
from classlab import defaults
from classlab.validation import classification_fields

from ..common import check, config, param, progress
from ._forms import dropdown, errors_on_top, seconds, summary, to_top

PRESET_HELP = {
    "tutorial": "the FiftyOne MNIST tutorial's recipe: affine, elastic, perspective, grid "
    "distortion (digits stay legible)",
    "mild": "small shifts, rotations and brightness changes: copies close to the original",
    "strong": "large distortions, noise and dropout: harder copies, some barely legible",
}


def default_run_key(ctx) -> str:
    """The next free augmentation run key (``augment_v1``, then ``augment_v2``...), so
    the form opens valid."""
    from classlab.curation.augment_checks import list_augmentations
    from classlab.validation import next_free_name

    runs = list_augmentations(ctx.dataset) if ctx.dataset is not None else {}
    return next_free_name(runs, defaults.AUGMENT_RUN_KEY)


def _augment_params(ctx, run_key=None):
    """``(source view, arguments)`` of ``augment_samples``, as the form checks them."""
    view = ctx.target_view()
    tag = param(ctx, "source_tag", defaults.TO_FIX_TAG)
    if tag:
        view = view.match_tags(tag)
    return view, dict(
        run_key=param(ctx, "run_key") or run_key or default_run_key(ctx),
        preset=param(ctx, "preset", defaults.AUGMENT_PRESET),
        pipeline_json=param(ctx, "pipeline_json") or None,
        num_copies=param(ctx, "num_copies", defaults.AUGMENT_COPIES),
        seed=param(ctx, "seed", defaults.AUGMENT_SEED),
        label_field=param(ctx, "label_field", defaults.GROUND_TRUTH),
        overwrite=bool(param(ctx, "overwrite", False)),
        max_copies=param(ctx, "max_copies", defaults.AUGMENT_MAX_COPIES),
        allow_eval_splits=bool(param(ctx, "allow_eval_splits", False)),
    )


def _augment_inputs(inputs, ctx, run_key) -> dict:
    from classlab.curation.presets import PRESETS, list_presets

    props = {
        "run_key": inputs.str(
            "run_key",
            default=run_key,
            required=False,
            label="Run key",
            description="Names the run (its samples, images and record); default: the next "
            "free name",
        ),
        "source_tag": inputs.str(
            "source_tag",
            default=defaults.TO_FIX_TAG,
            required=False,
            label="Source tag",
            description="Augment the samples with this tag (empty: the whole target view)",
        ),
    }
    steps = list_presets()
    props["preset"] = dropdown(
        inputs,
        "preset",
        list(PRESETS),
        defaults.AUGMENT_PRESET,
        "Preset",
        "; ".join(f"{k}: {' + '.join(v)}" for k, v in steps.items()),
        helps={k: f"{PRESET_HELP.get(k, '')} ({' + '.join(v)})" for k, v in steps.items()},
    )
    props["pipeline_json"] = inputs.str(
        "pipeline_json",
        required=False,
        label="Pipeline JSON (optional)",
        description="albumentations' serialised pipeline, json.dumps(A.to_dict(p)); "
        "replaces the preset",
    )
    props["num_copies"] = inputs.int(
        "num_copies",
        default=defaults.AUGMENT_COPIES,
        label="Copies per sample",
        description=f"At most max_copies ({defaults.AUGMENT_MAX_COPIES} by default)",
    )
    props["max_copies"] = inputs.int(
        "max_copies",
        default=defaults.AUGMENT_MAX_COPIES,
        label="Limit on copies per sample (max_copies)",
        description="A guard against a typo adding millions of samples; raise it deliberately",
    )
    props["allow_eval_splits"] = inputs.bool(
        "allow_eval_splits",
        default=False,
        label="Allow val/test sources",
        description="Off: sources tagged val or test are refused (their copies would leak "
        "evaluation images into training). Copies always keep their source's split tag.",
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
    copies = check(props["num_copies"], ac.check_copies, a["num_copies"], a["max_copies"])
    check(props["preset"], presets.check_preset, a["preset"], a["pipeline_json"])
    check(props["pipeline_json"], presets.check_pipeline_json, a["pipeline_json"])
    check(props["seed"], presets.check_seed, a["seed"])
    n = check(props["source_tag"], ac.check_source_view, view)
    if preview or not n:
        return
    check(props["allow_eval_splits"], ac.check_source_splits, view, a["allow_eval_splits"])
    check(props["label_field"], ac.check_label_field, view, a["label_field"])
    if not props["run_key"].invalid:
        check(props["run_key"], ac.check_run_free, view, a["run_key"], a["overwrite"])
    if copies:
        from classlab.curation.tagging import split_counts

        splits = ", ".join(f"{t}: {c}" for t, c in split_counts(view).items() if c) or "none"
        label = f"{n} source sample(s) (split tags: {splits}): {n * copies} new samples"
        inputs.view("size", types.Notice(label=label))


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
        run_key = default_run_key(ctx)
        props = _augment_inputs(inputs, ctx, run_key)
        if ctx.dataset is not None:
            view, a = _augment_params(ctx, run_key)
            _check_augment(inputs, props, view, a, bool(param(ctx, "preview", False)))
            to_top(inputs, "size")
            errors_on_top(inputs)
        return types.Property(inputs, view=types.View(label="ClassLab: augment samples"))

    def execute(self, ctx):
        from classlab.curation.augment import augment_samples

        view, a = _augment_params(ctx)
        if param(ctx, "preview", False):
            return _preview(ctx, view, a)
        res = augment_samples(view, progress=progress(ctx), **a)
        if not ctx.delegated:  # next: the new copies
            from classlab.curation.augment import run_samples

            ctx.ops.reload_dataset()
            ctx.ops.set_view(run_samples(ctx.dataset, res["run_key"]))
        return res

    def resolve_output(self, ctx):
        outputs = types.Object()
        r = ctx.results or {}
        if "rows" in r:
            return _preview_output(outputs, r)
        per_split = ", ".join(
            f"{k or 'no split tag'}: {n}" for k, n in r.get("per_split", {}).items()
        )
        key = r.get("run_key")
        summary(
            outputs,
            f"{r.get('num_samples', 0)} augmented copies of {r.get('num_sources', 0)} source "
            f"sample(s) in run {key!r}{seconds(r.get('seconds'))}",
            [
                f"{r.get('num_copies', 0)} copies per source; copies per split tag: {per_split}",
                f"find them: tag {r.get('tag')!r}, or augmentation.run_key == {key!r} "
                f"(source_id holds each copy's source); the grid now shows them",
                f"replaced {r.get('replaced', 0)} sample(s) of an older run with this key"
                if r.get("replaced")
                else "undo: delete_augmentations with this run key",
                f"images in {r.get('dir')}",
            ],
        )
        return types.Property(outputs, view=types.View(label="ClassLab: samples augmented"))


def _preview(ctx, view, a) -> dict:
    """The preview's result: each source's original, copies and label (display size)."""
    from classlab.curation.augment import preview_augmentations

    shown = preview_augmentations(
        view,
        preset=a["preset"],
        pipeline_json=a["pipeline_json"],
        num_copies=a["num_copies"],
        seed=a["seed"],
        max_samples=param(ctx, "preview_samples", 4),
        write=True,
        max_copies=a["max_copies"],
        label_field=a["label_field"],
    )
    rows = {
        f"row_{i}": {
            "original": e["original_uri"],
            **{f"copy_{k}": u for k, u in enumerate(e["data_uris"])},
        }
        for i, e in enumerate(shown)
    }
    return {
        "preview": [p for e in shown for p in e["paths"]],
        "images": [u for e in shown for u in e["data_uris"]],
        "labels": [e["label"] for e in shown],
        "rows": len(rows),
        **rows,
    }


def _preview_output(outputs, r):
    """One row per source: its original, then its copies, each 112 px, with the label."""
    outputs.view(
        "headline", types.Notice(label="Preview: nothing was added (original, then copies)")
    )
    labels = r.get("labels") or []
    for i in range(min(int(r.get("rows") or 0), 16)):
        row = r.get(f"row_{i}") or {}
        label = labels[i] if i < len(labels) else None
        stack = outputs.h_stack(f"row_{i}", label=f"{label or 'no label'}")
        for name, uri in row.items():
            caption = "original" if name == "original" else name.replace("_", " ")
            stack.str(
                name, default=uri, label=caption, view=types.ImageView(width="112px", alt=caption)
            )
    return types.Property(outputs, view=types.View(label="ClassLab: augmentation preview"))


def _newest(records: dict) -> str:
    """The most recent run's key (the delete form's default), else the default key."""
    if not records:
        return defaults.AUGMENT_RUN_KEY
    order = {k: i for i, k in enumerate(records)}  # records keep their creation order
    return max(records, key=lambda k: (str(records[k].get("created_at", "")), order[k]))


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
        records = list_augmentations(ds) if ds is not None else {}  # read once
        runs, newest = sorted(records), _newest(records)
        helps = {
            k: f"{r.get('num_samples', '?')} samples, {r.get('created_at', '')}"
            for k, r in records.items()
        }
        prop = dropdown(inputs, "run_key", runs, newest, "Run key", helps=helps)
        if ds is not None:
            key = param(ctx, "run_key", newest)
            check(prop, check_run_exists, ds, key, runs)
        return types.Property(inputs, view=types.View(label="ClassLab: delete augmentations"))

    def execute(self, ctx):
        from classlab.curation.augment import delete_augmentations
        from classlab.curation.augment_checks import list_augmentations

        key = param(ctx, "run_key") or _newest(list_augmentations(ctx.dataset))
        res = delete_augmentations(ctx.dataset, key)
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return res

    def resolve_output(self, ctx):
        outputs = types.Object()
        r = ctx.results or {}
        summary(
            outputs,
            f"Deleted the run {r.get('run_key')!r}: {r.get('deleted_samples', 0)} sample(s) and "
            f"{r.get('deleted_files', 0)} image file(s)",
            ["the originals and their files were not touched"],
        )
        return types.Property(outputs, view=types.View(label="ClassLab: augmentations deleted"))
