"""The compute_sample_scores operator: any of the four brain scores, checked by the core."""

from __future__ import annotations

import fiftyone.operators as foo
import fiftyone.operators.types as types
from classlab import defaults

from ..common import check, config, dropdown, param, progress
from ._forms import errors_on_top, field_inputs, field_or_default, seconds, summary

SCORE_HELP = {
    "hardness": "entropy of the prediction's logits",
    "mistakenness": "how likely the ground truth is wrong, given the prediction",
    "uniqueness": "distance to the nearest neighbours in the embedding space",
    "representativeness": "closeness to the embedding clusters' centres",
}


def _score_params(ctx) -> dict:
    """The arguments of ``compute_sample_scores``, as the form checks and execute passes them."""
    scores = param(ctx, "scores", list(defaults.SCORES))
    return dict(
        scores=[scores] if isinstance(scores, str) else list(scores),
        pred_field=field_or_default(ctx, "pred_field", defaults.LENET_FIELD),
        gt_field=param(ctx, "gt_field", defaults.GROUND_TRUTH),
        embeddings_field=field_or_default(ctx, "embeddings_field", defaults.CLIP_EMBEDDINGS),
        embedding_method=param(ctx, "embedding_method", "auto"),
    )


EMBEDDING_METHOD_HELP = {
    "auto": (
        "auto",
        f"FiftyOne Brain up to {defaults.BRAIN_EMBEDDING_SCORES_MAX:,} samples, bounded above",
    ),
    "brain": ("FiftyOne Brain (exact)", "every vector in memory; k-NN time grows as N^2"),
    "bounded": (
        "bounded (chunked, approximate)",
        "faiss HNSW k-NN / mini-batch k-means, read in chunks: for large views",
    ),
}


class ComputeSampleScores(foo.Operator):
    @property
    def config(self):
        return config(
            "compute_sample_scores",
            "compute sample scores",
            "Hardness, mistakenness, uniqueness and representativeness through FiftyOne Brain",
        )

    def resolve_input(self, ctx):
        from classlab.curation import score_checks as sc

        inputs = types.Object()
        n = 0
        choices = types.DropdownView(multiple=True)
        for s in defaults.SCORES:
            choices.add_choice(s, label=s, description=SCORE_HELP[s])
        props = {
            "scores": inputs.list(
                "scores",
                types.String(),
                default=list(defaults.SCORES),
                required=False,
                label="Scores",
                description="; ".join(f"{s}: {SCORE_HELP[s]}" for s in defaults.SCORES),
                view=choices,
            ),
            **field_inputs(inputs, ctx, "For uniqueness and representativeness"),
            "embedding_method": dropdown(
                inputs,
                "embedding_method",
                list(defaults.EMBEDDING_METHODS),
                "auto",
                "Uniqueness/representativeness method",
                "How uniqueness and representativeness are computed",
                choices=EMBEDDING_METHOD_HELP,
            ),
        }
        if ctx.dataset is not None:
            view, a = ctx.target_view(), _score_params(ctx)
            counts = sc.score_counts(view, a["pred_field"], a["embeddings_field"])  # one pass
            n = counts["n"]
            check(props["embedding_method"], sc.check_embedding_method, a["embedding_method"])
            chosen = check(props["scores"], sc.check_scores, view, a["scores"], n)
            if chosen:
                check(
                    props["pred_field"],
                    sc.check_pred_field,
                    view,
                    a["pred_field"],
                    chosen,
                    counts,
                )
                check(
                    props["gt_field"],
                    sc.check_gt_field,
                    view,
                    a["gt_field"],
                    chosen,
                    a["pred_field"],
                )
                check(
                    props["embeddings_field"],
                    sc.check_embeddings_field,
                    view,
                    a["embeddings_field"],
                    chosen,
                    counts,
                )
            errors_on_top(inputs)
        return types.Property(inputs, view=types.View(label=f"ClassLab: score {n} samples"))

    def execute(self, ctx):
        from classlab.curation.scores import score_samples

        view = ctx.target_view()
        res = score_samples(view, progress=progress(ctx), **_score_params(ctx))
        if not ctx.delegated:  # next: the scored samples, highest first score on top
            ctx.ops.reload_dataset()
            first = next(iter(res["fields"].values()), None)
            if first:
                ctx.ops.set_view(view.sort_by(first, reverse=True))
        return res

    def resolve_output(self, ctx):
        outputs = types.Object()
        r = ctx.results or {}
        fields, counts = r.get("fields") or {}, r.get("counts") or {}
        n, secs = r.get("num_samples", 0), r.get("seconds")
        lines = [
            f"{score} -> {field} ({counts.get(field, 0)} of {n} samples scored; indexed: "
            "sortable in the grid)"
            for score, field in fields.items()
        ]
        if fields:
            lines.append(
                f"the grid now shows the samples sorted by {next(iter(fields.values()))}, "
                "highest first"
            )
        summary(outputs, f"Wrote {len(fields)} score field(s) on {n} samples{seconds(secs)}", lines)
        return types.Property(outputs, view=types.View(label="ClassLab: scores computed"))
