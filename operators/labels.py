"""Label-issue operators: out-of-sample predictions, cleanlab label issues, fix / keep /
revert labels. Each parses its form, calls one core function of ``classlab.labels``
and reports; the forms validate through the core's own checks."""

from __future__ import annotations

import fiftyone.operators as foo
from classlab import defaults
from classlab.validation import classification_fields, distinct_labels
from fiftyone.operators import types

from .common import (
    check,
    config,
    dropdown,
    label_field_choice,
    param,
    progress,
    show_view,
    target_view,
)
from .results import summary_output
from .shards import sharded, shards_form

OOS_FOLDS_PARAM = "_oos_folds"  # a shard's folds (1-based), set by operators.shards' split

ACTIONS = {
    "suggested": "Accept the suggested label",
    "class": "Set a class I choose",
    "keep": "Keep the label (reviewed: drop it from the next review)",
}


def _fields(ctx) -> list[str]:
    return classification_fields(ctx.dataset) if ctx.dataset is not None else []


def _ids(ctx) -> list[str]:
    """The samples a fix/revert targets: ``sample_ids`` (SDK) or the App's selection."""
    return list(param(ctx, "sample_ids", None) or ctx.selected or [])


def _scope(ctx, inputs, default_tag: str):
    """The selected samples when there are some, else the target view's ``tag`` samples.

    Returns ``(view or None, tag property)``."""
    ids = _ids(ctx)
    tag_prop = inputs.str(
        "tag",
        default=default_tag,
        required=False,
        label="Tag (when no sample is selected)",
        description="With samples selected in the grid, only those are changed",
    )
    if ctx.dataset is None:
        return None, tag_prop
    if ids:
        inputs.view("scope", types.Notice(label=f"{len(ids)} selected sample(s)"))
        return ctx.dataset.select(ids), tag_prop
    tag = param(ctx, "tag", default_tag)
    return target_view(ctx).match_tags(tag), tag_prop


class ComputeOosPredictions(foo.Operator):
    @property
    def config(self):
        return config(
            "compute_oos_predictions",
            "out-of-sample predictions (K-fold LeNet-5)",
            "Each labelled sample predicted by the fold model that did not see it",
        )

    def resolve_input(self, ctx):
        from classlab.config import check_key
        from classlab.labels.oos import check_num_folds, check_oos_args, check_repeats

        inputs = types.Object()
        key = inputs.str("run_key", default=defaults.OOS_RUN_KEY, label="Run key")
        label_field_choice(
            inputs, ctx, "label_field", _fields(ctx), defaults.GROUND_TRUTH, "Labels"
        )
        inputs.str("pred_field", default=defaults.OOS_FIELD, label="Prediction field")
        inputs.list(
            "tags",
            types.String(),
            default=[defaults.TRAIN_TAG, defaults.VAL_TAG],
            label="Tags to cross-validate",
            description="Empty: every labelled sample of the view",
        )
        folds = inputs.int("num_folds", default=defaults.OOS_FOLDS, label="Folds (K)")
        repeats = inputs.int(
            "repeats",
            default=1,
            label="Repeats (R)",
            description=(
                "Repeated K-fold: each sample predicted by R fold models that did not see "
                "it, their probabilities averaged (better label-issue precision; R times "
                "the training)"
            ),
        )
        inputs.list(
            "exclude_tags",
            types.String(),
            default=[],
            label="Leave out of training",
            description=(
                "Samples with these tags are predicted but no fold model trains on them: "
                f"e.g. {defaults.LABEL_ISSUE_TAG}, for a second pass after finding label issues"
            ),
        )
        inputs.bool(
            "epoch_ensemble",
            default=False,
            label="Average each fold's epochs",
            description=(
                "Each held-out sample's probabilities averaged over its fold model's "
                "epochs up to the kept one (lowest validation loss): for fold models "
                "that memorise wrong labels (no regularisation, many epochs)"
            ),
        )
        inputs.int("seed", default=defaults.SPLIT_SEED, label="Seed")
        inputs.int("epochs", default=defaults.OOS_EPOCHS, label="Epochs per fold")
        inputs.int("batch_size", default=128, label="Batch size")
        dropdown(inputs, "device", ["auto", "cpu", "cuda"], "auto", "Device")
        inputs.bool(
            "predict_others",
            default=True,
            label="Predict the rest of the view with the fold ensemble (e.g. test)",
        )
        inputs.bool("overwrite", default=False, label="Replace an existing run")
        shards_form(inputs, ctx)
        run_key = param(ctx, "run_key", defaults.OOS_RUN_KEY)
        if check(key, check_key, run_key, "run_key") is None:
            return types.Property(inputs)
        if check(folds, check_num_folds, param(ctx, "num_folds", defaults.OOS_FOLDS)) is None:
            return types.Property(inputs)
        if check(repeats, check_repeats, param(ctx, "repeats", 1)) is None:
            return types.Property(inputs)
        if ctx.dataset is not None:
            notice = inputs.view("checks", types.Notice(label="Checks"))
            check(notice, check_oos_args, target_view(ctx), **oos_check_args(ctx))
        return types.Property(inputs, view=types.View(label="ClassLab: out-of-sample predictions"))

    def resolve_output(self, ctx):
        return summary_output(
            ctx,
            "Out-of-sample predictions",
            (
                "Predicted **{num_samples}** samples out of sample with {num_folds} folds "
                "(accuracy {accuracy:.4f}) into `{pred_field}`, and {num_others} other samples by"
                " their ensemble, in {seconds:.0f} s. Next: find label issues."
            ),
        )

    @sharded("compute_oos_predictions")
    def execute(self, ctx):
        from classlab.labels.oos import compute_oos_predictions
        from classlab.labels.oos_shards import compute_oos_folds

        run_key, label_field, pred_field, tags, k, overwrite = _oos_args(ctx)
        common = dict(
            run_key=run_key,
            label_field=label_field,
            pred_field=pred_field,
            tags=tags,
            num_folds=k,
            seed=param(ctx, "seed", defaults.SPLIT_SEED),
            config=_options(ctx),
            repeats=param(ctx, "repeats", 1),
            exclude_tags=param(ctx, "exclude_tags", []) or [],
            epoch_ensemble=param(ctx, "epoch_ensemble", False),
            progress=progress(ctx),
        )
        if ctx.params.get(OOS_FOLDS_PARAM):  # one shard of shards=N: its folds only
            return compute_oos_folds(ctx.target_view(), ctx.params[OOS_FOLDS_PARAM], **common)
        return compute_oos_predictions(
            ctx.target_view(),
            predict_others=bool(param(ctx, "predict_others", True)),
            overwrite=overwrite,
            **common,
        )


def _oos_args(ctx):
    return (
        param(ctx, "run_key", defaults.OOS_RUN_KEY),
        param(ctx, "label_field", defaults.GROUND_TRUTH),
        param(ctx, "pred_field", defaults.OOS_FIELD),
        list(param(ctx, "tags", [defaults.TRAIN_TAG, defaults.VAL_TAG])),
        param(ctx, "num_folds", defaults.OOS_FOLDS),
        bool(param(ctx, "overwrite", False)),
    )


def oos_check_args(ctx) -> dict:
    """The keyword arguments of :func:`check_oos_args` for this request."""
    run_key, label_field, pred_field, tags, k, overwrite = _oos_args(ctx)
    return dict(
        run_key=run_key,
        label_field=label_field,
        pred_field=pred_field,
        tags=tags,
        num_folds=k,
        config=_options(ctx),
        overwrite=overwrite,
        repeats=param(ctx, "repeats", 1),
        exclude_tags=param(ctx, "exclude_tags", []) or [],
        epoch_ensemble=param(ctx, "epoch_ensemble", False),
    )


def _options(ctx) -> dict:
    """Training options of the form (epochs, batch size, device, and any extra
    TrainConfig field an SDK caller passes in ``config``)."""
    options = dict(param(ctx, "config", {}) or {})
    for name in ("epochs", "batch_size", "device"):
        if ctx.params.get(name) is not None:
            options[name] = ctx.params[name]
    options.setdefault("epochs", defaults.OOS_EPOCHS)
    return options


class FindLabelIssues(foo.Operator):
    @property
    def config(self):
        return config(
            "find_label_issues",
            "find label issues (cleanlab)",
            "Confident learning on out-of-sample logits: label quality, suggested labels",
        )

    def resolve_input(self, ctx):
        from classlab.labels.issues import FILTER_BY, METHODS, check_issue_args

        inputs = types.Object()
        fields = _fields(ctx)
        choices = types.DropdownView(multiple=True)
        for f in fields:
            choices.add_choice(f, label=f)
        default = [defaults.OOS_FIELD] if defaults.OOS_FIELD in fields else []
        inputs.list(
            "pred_fields",
            types.String(),
            default=default,
            label="Prediction field(s) with logits",
            description="Several: their probabilities are averaged",
            view=choices,
        )
        label_field_choice(
            inputs, ctx, "label_field", fields, defaults.GROUND_TRUTH, "Labels to check"
        )
        dropdown(inputs, "filter_by", FILTER_BY, defaults.CLEANLAB_FILTER_BY, "filter_by")
        dropdown(inputs, "method", METHODS, defaults.CLEANLAB_METHOD, "Label quality method")
        inputs.str("quality_field", default=defaults.LABEL_QUALITY_FIELD, label="Quality field")
        inputs.str(
            "suggestion_field", default=defaults.SUGGESTED_LABEL_FIELD, label="Suggestion field"
        )
        inputs.str("tag", default=defaults.LABEL_ISSUE_TAG, label="Tag of flagged samples")
        inputs.str("key", default=defaults.LABEL_ISSUES_KEY, label="Record key")
        if ctx.dataset is not None:
            notice = inputs.view("checks", types.Notice(label="Checks"))
            check(notice, check_issue_args, target_view(ctx), **_issue_args(ctx))
        return types.Property(inputs, view=types.View(label="ClassLab: find label issues"))

    def resolve_output(self, ctx):
        return summary_output(
            ctx,
            "Label issues",
            (
                "**{num_flagged}** of {num_scored} samples flagged as likely label issues (tag "
                "`{tag}`, suggestions in `{suggestion_field}`); the grid shows them, worst "
                "`{quality_field}` first."
            ),
        )

    def execute(self, ctx):
        from classlab.labels.issues import find_label_issues, review_view

        res = find_label_issues(
            ctx.target_view(),
            **_issue_args(ctx),
            ok_tag=param(ctx, "ok_tag", defaults.LABEL_OK_TAG),
            progress=progress(ctx),
        )
        # the App learns the new quality/suggestion fields before the view sorts by one
        show_view(ctx, review_view(ctx.dataset, res["tag"], res["quality_field"]))
        return res


def _issue_args(ctx) -> dict:
    """The arguments :func:`check_issue_args` and :func:`find_label_issues` share."""
    return dict(
        pred_fields=param(ctx, "pred_fields", [defaults.OOS_FIELD]),
        label_field=param(ctx, "label_field", defaults.GROUND_TRUTH),
        filter_by=param(ctx, "filter_by", defaults.CLEANLAB_FILTER_BY),
        method=param(ctx, "method", defaults.CLEANLAB_METHOD),
        quality_field=param(ctx, "quality_field", defaults.LABEL_QUALITY_FIELD),
        suggestion_field=param(ctx, "suggestion_field", defaults.SUGGESTED_LABEL_FIELD),
        tag=param(ctx, "tag", defaults.LABEL_ISSUE_TAG),
        key=param(ctx, "key", defaults.LABEL_ISSUES_KEY),
    )


class FixLabels(foo.Operator):
    @property
    def config(self):
        return config(
            "fix_labels",
            "fix labels",
            "Accept suggested labels, set a class, or keep labels (selected samples or a tag)",
            delegated=False,
        )

    def resolve_input(self, ctx):
        from classlab.labels.fixes import check_action, check_fix_args

        inputs = types.Object()
        action = param(ctx, "action", "suggested")
        action_prop = dropdown(inputs, "action", list(ACTIONS), "suggested", "Action")
        label_field_choice(
            inputs, ctx, "label_field", _fields(ctx), defaults.GROUND_TRUTH, "Labels to fix"
        )
        label_field = param(ctx, "label_field", defaults.GROUND_TRUTH)
        inputs.str(
            "suggestion_field", default=defaults.SUGGESTED_LABEL_FIELD, label="Suggestion field"
        )
        view, _ = _scope(ctx, inputs, defaults.LABEL_ISSUE_TAG)
        if action == "class" and ctx.dataset is not None:
            has = label_field in _fields(ctx)
            classes = distinct_labels(ctx.dataset, label_field) if has else []
            dropdown(inputs, "label", classes, None, "Class to set", required=True)
        if check(action_prop, check_action, action, param(ctx, "label") or "-") is None:
            pass
        elif view is not None and action != "keep":
            notice = inputs.view("checks", types.Notice(label="Checks"))
            label = param(ctx, "label") if action == "class" else None
            suggestion = param(ctx, "suggestion_field", defaults.SUGGESTED_LABEL_FIELD)
            check(notice, check_fix_args, view, label_field, suggestion, label)
        return types.Property(inputs, view=types.View(label=f"ClassLab: {ACTIONS.get(action)}"))

    def resolve_output(self, ctx):
        return summary_output(
            ctx,
            "Label fixes",
            (
                "Fixed **{fixed}** label(s); {unchanged} unchanged, {skipped} skipped. The "
                "originals are kept: revert_label_fixes restores them."
            ),
        )

    def execute(self, ctx):
        from classlab.labels.fixes import check_action, fix_labels, mark_labels_ok

        action = check_action(param(ctx, "action", "suggested"), param(ctx, "label"))
        view, _ = _scope(ctx, types.Object(), defaults.LABEL_ISSUE_TAG)
        label_field = param(ctx, "label_field", defaults.GROUND_TRUTH)
        if action == "keep":
            res = mark_labels_ok(view, label_field, source="App review")
        else:
            res = fix_labels(
                view,
                label_field,
                param(ctx, "suggestion_field", defaults.SUGGESTED_LABEL_FIELD),
                label=param(ctx, "label") if action == "class" else None,
            )
        if not ctx.delegated:
            ctx.ops.reload_samples()
        return {k: v for k, v in res.items() if k != "ids"}


class RevertLabelFixes(foo.Operator):
    @property
    def config(self):
        return config(
            "revert_label_fixes",
            "revert label fixes",
            "Puts back the labels as they were before the first fix (selected samples or a tag)",
            delegated=False,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        label_field_choice(
            inputs, ctx, "label_field", _fields(ctx), defaults.GROUND_TRUTH, "Labels"
        )
        _scope(ctx, inputs, defaults.LABEL_FIXED_TAG)
        return types.Property(inputs, view=types.View(label="ClassLab: revert label fixes"))

    def resolve_output(self, ctx):
        return summary_output(
            ctx,
            "Label fixes reverted",
            "Reverted **{reverted}** label fix(es) to their original labels.",
        )

    def execute(self, ctx):
        from classlab.labels.fixes import revert_label_fixes

        view, _ = _scope(ctx, types.Object(), defaults.LABEL_FIXED_TAG)
        res = revert_label_fixes(view, param(ctx, "label_field", defaults.GROUND_TRUTH))
        if not ctx.delegated:
            ctx.ops.reload_samples()
        return {k: v for k, v in res.items() if k != "ids"}
