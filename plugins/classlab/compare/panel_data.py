"""What the ``model_comparison`` panel shows, for the user's choices, as plain data.

:func:`panel_choices` discovers the models, ground truths and scopes (cheap);
:func:`panel_result` runs :func:`~classlab.compare.scoped.compare_scoped` and turns
it into the panel's state (formatted tables, pickers, paired tests, repeats) and
data (plotly traces). :func:`click_view` maps a click to the grid's view. The panel
itself only lays these out.
"""

from __future__ import annotations

from typing import Any

from classlab import defaults
from classlab.compare import plots
from classlab.compare.agreement import agreement_view, confusion_view
from classlab.compare.fields import evaluated_fields, unevaluated_fields
from classlab.compare.paired import paired_from_agreement
from classlab.compare.scoped import compare_scoped, default_scope, scope_choices, scope_view
from classlab.compare.store import SCOPE_VIEW, STORE
from classlab.errors import InputError

CONFUSION_MODES = {"errors": "mistakes only", "log": "all (log colour)"}
SCORE_BUTTONS = {"mistakenness": "Most mistaken", "hardness": "Hardest"}


def _ground_truth(current: str | None, evals: list[dict]) -> str:
    """``current`` if still evaluated, else ``ground_truth``, else the most used."""
    gts = [e["gt_field"] for e in evals]
    if current in gts:
        return current
    if defaults.GROUND_TRUTH in gts or not gts:
        return defaults.GROUND_TRUTH
    return max(set(gts), key=gts.count)


def panel_choices(dataset, choices: dict, store=STORE) -> dict[str, Any]:
    """The pickers' options: ``gt_field``, ``available``, ``gt_fields``, ``unevaluated``,
    ``evals``, ``scope`` (the choice if offered, else the default) and ``scopes``."""
    from concurrent.futures import ThreadPoolExecutor

    evals = evaluated_fields(dataset)
    gt = _ground_truth(choices.get("gt_field"), evals)
    fields = [gt, *[e["field"] for e in evals if e["gt_field"] == gt]]
    scope = choices.get("scope") or default_scope(dataset, store)
    # the split counts (one aggregation) run in the database while this thread reads
    # the scope's samples: the ground truth and every evaluated model (the default
    # picks), one pass; later calls in this dataset version read nothing
    with ThreadPoolExecutor(1) as pool:
        counts = pool.submit(store.tag_counts, dataset)
        _read_scope(dataset, fields, scope, choices, store)
        counts.result()
    scopes = scope_choices(dataset, store)
    if scope not in {s for s, _ in scopes}:  # a split that no longer exists
        scope = default_scope(dataset, store)
        _read_scope(dataset, fields, scope, choices, store)
    return {
        "gt_field": gt,
        "available": [e["field"] for e in evals],
        "gt_fields": sorted({e["gt_field"] for e in evals}),
        "unevaluated": unevaluated_fields(dataset, gt, evals=evals),
        "evals": evals,
        "scope": scope,
        "scopes": scopes,
    }


def _read_scope(dataset, fields, scope, choices, store) -> None:
    view = scope_view(dataset, scope, choices.get("view_stages")) if scope == SCOPE_VIEW else None
    store.arrays(dataset, fields, scope, view)


def panel_result(dataset, choices: dict, found: dict, store=STORE) -> tuple[dict, dict]:
    """``(state, data)`` of the panel for ``choices`` (the panel state's pickers:
    ``fields``, ``baseline``, ``cm_model``, ``cm_mode``, ``agree_a``/``agree_b``,
    ``sort_by``/``sort_desc``, ``view_stages``) and ``found`` (:func:`panel_choices`).

    The state holds the resolved choices at the top level and in the pickers'
    containers (``choices``, ``pickers``, ``sort``, ``confusion_row``)."""
    gone = [f for f in (choices.get("fields") or []) if f not in found["available"]]
    fields = [f for f in (choices.get("fields") or []) if f in found["available"]] or None
    scope = found["scope"]
    view = scope_view(dataset, scope, choices.get("view_stages")) if scope == SCOPE_VIEW else None
    result = compare_scoped(
        dataset,
        fields,
        found["gt_field"],
        choices.get("baseline"),
        scope=scope,
        view=view,
        agreement_pair=(choices.get("agree_a"), choices.get("agree_b")),
        evals=found["evals"],
        store=store,
    )
    result["notes"][:0] = [
        f"{f!r} was deleted or lost its evaluation: left out of the comparison." for f in gone
    ]
    fields = result["fields"]
    cm_model = choices.get("cm_model") if choices.get("cm_model") in fields else fields[0]
    cm_mode = choices.get("cm_mode") if choices.get("cm_mode") in CONFUSION_MODES else "errors"
    agr = result["agreement"]
    a, b = (agr["a"], agr["b"]) if agr else (fields[0], None)
    pickers = {"baseline": result["baseline"], "cm_model": cm_model, "agree_a": a, "agree_b": b}
    sort = {"sort_by": choices.get("sort_by"), "sort_desc": choices.get("sort_desc", True)}
    state = {
        **pickers,
        "cm_mode": cm_mode,
        "fields": fields,
        "scope": scope,
        # the pickers' containers (the App writes a picker's value at <container>.<key>)
        "choices": {"scope": scope, "fields": fields, "gt_field": found["gt_field"]},
        "sort": sort,
        "confusion_row": {"cm_mode": cm_mode},
        "n_samples": result["n_samples"],
        "pickers": pickers,
        "notes": result["notes"],
        "display": result["display"],
        "classes": result["classes"],
        "summary": plots.summary_rows(
            result["summary"], sort["sort_by"], sort["sort_desc"] is not False
        ),
        "per_class": plots.per_class_rows(result),
        "label_issues": result["label_issues"],
        "agreement": agr["counts"] if agr else None,
        # paired significance of B vs A on the agreement's samples, from its counts
        "paired": paired_from_agreement(agr["counts"]) if agr and agr["n"] else None,
        "repeats": _repeat_rows(result["repeats"]),
        "scores": score_buttons(dataset, cm_model),
        "layouts": plots.layouts(result, cm_model, cm_mode),
        "message": None,
        "ready": True,
    }
    data = {
        "f1_plot": plots.f1_bars(result),
        "delta_plot": plots.delta_f1_bars(result),
        "confusion_plot": plots.confusion_heatmap(result, cm_model, cm_mode),
        "loss_plot": plots.learning_curves(result, "loss"),
        "acc_plot": plots.learning_curves(result, "acc"),
    }
    return state, data


def _repeat_rows(rows: list[dict]) -> list[dict]:
    return [
        {
            "group": r["group"],
            "runs": str(r["runs"]),
            "accuracy": f"{r['mean']:.4f} ± {r['std']:.4f}",
            "paired": r["paired_text"] or "(the baseline's group)",
        }
        for r in rows
    ]


def score_buttons(dataset, pred_field: str) -> dict[str, str]:
    """``{score: field}`` of the brain scores computed for ``pred_field``
    (``<pred>_mistakenness``, ``<pred>_hardness``) that exist on the samples."""
    from classlab.curation.score_checks import score_field

    out = {}
    for score in SCORE_BUTTONS:
        field = score_field(score, pred_field)
        if dataset.has_sample_field(field):
            out[score] = field
    return out


def click_view(dataset, state: dict, kind: str, **params: Any):
    """The grid's view for a click, inside the compared scope.

    Args:
        dataset: the dataset
        state: the panel state (``scope``, ``view_stages``, ``gt_field``, pickers)
        kind: ``"cell"`` (``truth``, ``pred``, ``model``), ``"class"`` (``label``,
            ``model``: that model's mistakes on the class), ``"agreement"``
            (``category``) or ``"score"`` (``score``: the samples sorted by
            ``<model>_<score>``, highest first)
    """
    base = scope_view(dataset, state.get("scope") or "all", state.get("view_stages"))
    gt = state["gt_field"]
    model = params.get("model") or state.get("cm_model")
    if kind == "cell":
        return confusion_view(base, model, gt, params["truth"], params["pred"])
    if kind == "class":
        return confusion_view(base, model, gt, params["label"])
    if kind == "agreement":
        return agreement_view(base, state["agree_a"], state["agree_b"], params["category"], gt)
    if kind == "score":
        field = score_buttons(dataset, model).get(params.get("score"))
        if field is None:
            raise InputError(
                f"No {params.get('score')} scores for {model!r}: compute them first "
                "(the brain scores operator, with this prediction field)"
            )
        return base.exists(field).sort_by(field, reverse=True)
    raise InputError(f"Unknown click {kind!r}")


def model_of(state: dict, column: str | None = None, trace: int | None = None, ids=None):
    """The model a click names: a per-class column ``<field>_<metric>``, a bar's id
    ``<field>|<class>``, or the index of a bar trace (else the confusion model)."""
    fields = state.get("fields") or []
    if ids and isinstance(ids, str) and "|" in ids:
        field = ids.split("|", 1)[0]
        if field in fields:
            return field
    if isinstance(column, str):
        for f in sorted(fields, key=len, reverse=True):
            if column.startswith(f + "_"):
                return f
    if isinstance(trace, int) and 0 <= trace < len(fields):
        return fields[trace]
    return state.get("cm_model")
