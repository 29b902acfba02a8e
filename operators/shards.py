"""``shards=N``: one long operator run as N delegated operations over disjoint slices.

An operator takes part with one line in each of two places::

    shards_form(inputs, ctx)              # in resolve_input: the "shards" field
    @sharded("compute_clip_embeddings")   # above ``def execute(self, ctx)``

With ``shards`` 1 (the default) ``execute`` runs as before. With N > 1 the
call checks the whole request (the core's ``prepare_*``, before anything is
queued), splits the target view by sample id (:func:`classlab.shards.plan_shards`)
and queues N delegated operations of the same operator, each on its id range,
with the whole-view steps turned off; it returns the group key and the
operations' ids. The shard that completes the group runs the final step (map,
index, evaluation) on the whole view. Workers (``fiftyone delegated launch``)
on any machine that shares the database and the media run the shards.

Another operator joins with :func:`register` (a ``prepare(ctx, view) -> shard
params`` check and an optional ``finish(ctx, view, progress) -> dict``). An operator
whose shards are not id ranges gives a ``split``: ``compute_oos_predictions``'s shards
are its K folds, each trained over the whole view (:mod:`classlab.labels.oos_shards`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass

from classlab import defaults
from classlab import shards as core

from .common import check, param, progress

SHARD_PARAM = "_shard"  # the params entry that makes an operation one shard of a group


@dataclass(frozen=True)
class Sharding:
    """How an operator is sharded.

    ``prepare(ctx, view)``: the core's checks of the whole request on the whole view
    (raising before anything is queued); returns params resolved once for every
    shard (e.g. the class list). ``switches``: params every shard gets instead of the
    caller's (the whole-view steps turned off); the final step sees the caller's.
    ``finish(ctx, view, progress)``: the step that needs every shard, or None.
    ``split(ctx, view, n)``: for operators whose shards are not id ranges (e.g. the
    folds of a cross-validation): a list of params, one per shard, each shard then
    running on the whole view; None: id ranges (:func:`classlab.shards.plan_shards`).
    """

    prepare: Callable
    finish: Callable | None = None
    switches: dict | None = None
    split: Callable | None = None


_SHARDED: dict[str, Sharding] = {}


def register(
    name: str,
    prepare: Callable,
    finish: Callable | None = None,
    switches: dict | None = None,
    split: Callable | None = None,
) -> None:
    """Makes the operator ``name`` shardable (see :class:`Sharding`)."""
    _SHARDED[name] = Sharding(prepare, finish, dict(switches or {}), split)


def shards_form(inputs, ctx) -> None:
    """The ``shards`` field (1: run here; N: queue N delegated operations), checked."""
    prop = inputs.int(
        "shards",
        default=1,
        label="Shards",
        description="1: one run. N > 1: N delegated operations over disjoint slices of "
        "the view (by sample id), run by `fiftyone delegated launch` workers",
    )
    check(prop, core.check_shards, param(ctx, "shards", 1))


def sharded(name: str):
    """Decorates an operator's ``execute`` with the ``shards`` behaviour."""

    def wrap(execute):
        @functools.wraps(execute)
        def run(self, ctx):
            return dispatch(ctx, name, self.uri, lambda c: execute(self, c))

        return run

    return wrap


def dispatch(ctx, name: str, uri: str, run: Callable) -> dict:
    """Runs ``run(ctx)`` as it is, as one shard of a group, or queues the shards."""
    info = ctx.params.pop(SHARD_PARAM, None)
    if info is not None:
        return _run_shard(ctx, name, run, info)
    n = core.check_shards(param(ctx, "shards", 1))
    if n == 1:
        return run(ctx)
    return queue_shards(ctx, name, uri, n)


def queue_shards(ctx, name: str, uri: str, n: int) -> dict:
    """Checks the request, plans ``n`` shards (id ranges, or the operator's own
    ``split``) and queues one operation per shard."""
    from fiftyone.operators.delegated import DelegatedOperationService
    from fiftyone.operators.executor import ExecutionContext

    view, spec = ctx.target_view(), _SHARDED[name]
    resolved = spec.prepare(ctx, view) or {}
    if spec.split is None:
        ranges = core.plan_shards(view, n)
        pieces = [(core.shard_view(view, r.lo, r.hi), {}) for r in ranges]
    else:
        ranges, pieces = [], [(view.view(), p) for p in spec.split(ctx, view, n)]
    group = core.start_group(ctx.dataset, name, len(pieces), ranges)
    base = {k: v for k, v in ctx.params.items() if k != "view_target"}
    # what the final step needs: the whole view and the caller's switches
    # (a Dataset target serializes as the dataset's document: its view has no stages)
    info = {"group": group, "view": view.view()._serialize()}
    info["restore"] = {k: base.get(k) for k in spec.switches}
    service, ops = DelegatedOperationService(), []
    for i, (part, own) in enumerate(pieces):
        params = {**base, **resolved, **spec.switches, **own, "shards": 1}
        params[SHARD_PARAM] = {**info, "index": i}
        request = {
            "dataset_name": ctx.dataset.name,
            "view": part._serialize(),
            "params": params,
            "delegated": True,
        }
        op = service.queue_operation(
            operator=uri,
            label=f"{name} shard {i + 1}/{len(pieces)}",
            context=ExecutionContext(request_params=request).serialize(),
        )
        ops.append(str(op.id))
    return {
        "group": group,
        "num_shards": len(pieces),
        "operations": ops,
        "ranges": [asdict(r) for r in ranges],
    }


def _run_shard(ctx, name: str, run: Callable, info: dict) -> dict:
    import fiftyone.core.view as fov

    result = dict(run(ctx) or {})
    small = {k: v for k, v in result.items() if isinstance(v, int | float | str | bool)}
    out = {**result, "group": info["group"], "shard": info["index"]}
    if core.mark_done(ctx.dataset, info["group"], info["index"], small):
        spec = _SHARDED[name]
        whole = fov.DatasetView._build(ctx.dataset, info["view"] or [])
        ctx.params.update(info.get("restore") or {})
        final = spec.finish(ctx, whole, progress(ctx)) if spec.finish else {}
        core.record_final(ctx.dataset, info["group"], final)
        out["final"] = final
    return out


# ---------------------------------------------------------------- ClassLab's operators


def _clip_args(ctx):
    from .clip import options_from_params, spec_from_params

    return spec_from_params(ctx), options_from_params(ctx)


def _maps(ctx):
    from classlab.clip import MapOptions

    return MapOptions(
        bool(param(ctx, "compute_viz", False)),
        param(ctx, "viz_method", MapOptions.viz_method),
        param(ctx, "viz_key", defaults.CLIP_VIZ_KEY),
        bool(param(ctx, "compute_similarity", False)),
        param(ctx, "sim_key", defaults.CLIP_SIM_KEY),
    )


def _prepare_embeddings(ctx, view) -> dict:
    spec, options = _clip_args(ctx)
    field = param(ctx, "embeddings_field", defaults.CLIP_EMBEDDINGS)
    overwrite = bool(param(ctx, "overwrite", False))
    core.prepare_embeddings(view, spec, options, field, overwrite, _maps(ctx))
    return {}


def _finish_embeddings(ctx, view, report) -> dict:
    field = param(ctx, "embeddings_field", defaults.CLIP_EMBEDDINGS)
    return core.finish_embeddings(view, field, _maps(ctx), report)


def _prepare_zero_shot(ctx, view) -> dict:
    from classlab.clip.prompts import DEFAULT_PROMPT_STYLE
    from classlab.clip.templates import DEFAULT_TEMPLATE_SET

    from .clip import _as_list

    spec, options = _clip_args(ctx)
    prompts_args = {
        "gt_field": param(ctx, "gt_field", defaults.GROUND_TRUTH),
        "classes": _as_list(ctx.params.get("classes")),
        "prompt_names": ctx.params.get("prompt_names") or None,
        "prompt_style": param(ctx, "prompt_style", DEFAULT_PROMPT_STYLE),
        "template_set": param(ctx, "template_set", DEFAULT_TEMPLATE_SET),
        "templates": _as_list(ctx.params.get("templates")),
    }
    outputs = {
        "label_field": param(ctx, "label_field", defaults.CLIP_ZERO_SHOT),
        "embeddings_field": param(ctx, "embeddings_field", defaults.CLIP_EMBEDDINGS) or None,
        "evaluate": bool(param(ctx, "evaluate", True)),
        "eval_key": param(ctx, "eval_key", defaults.EVAL_CLIP),
    }
    return core.prepare_zero_shot(view, spec, options, prompts_args, outputs)


def _finish_zero_shot(ctx, view, report) -> dict:
    if not param(ctx, "evaluate", True):
        return {}
    report(0.0, "evaluating the whole view")
    return core.finish_zero_shot(
        view,
        param(ctx, "label_field", defaults.CLIP_ZERO_SHOT),
        param(ctx, "gt_field", defaults.GROUND_TRUTH),
        param(ctx, "eval_key", defaults.EVAL_CLIP),
        ctx.params.get("classes"),
    )


def _apply_names(ctx) -> dict:
    """The output names an apply_lenet call uses (the form's per-model defaults)."""
    from .lenet_forms import apply_defaults, models_of

    out = apply_defaults(param(ctx, "run_key"), models_of(ctx))
    return {
        "label_field": param(ctx, "label_field", out["label_field"]),
        "embeddings_field": ctx.params.get("embeddings_field", out["embeddings_field"]) or "",
        "eval_key": param(ctx, "eval_key", out["eval_key"]),
        "gt_field": param(ctx, "gt_field", defaults.GROUND_TRUTH),
        "overwrite": bool(param(ctx, "overwrite", out["overwrite"])),
    }


def _prepare_apply(ctx, view) -> dict:
    from classlab.lenet.apply import check_apply_args

    names = _apply_names(ctx)
    check_apply_args(
        view,
        param(ctx, "run_key"),
        names["label_field"],
        names["embeddings_field"],
        bool(param(ctx, "evaluate", True)),
        names["eval_key"],
        names["gt_field"],
        param(ctx, "batch_size", 1024),
        names["overwrite"],
    )
    names.pop("overwrite")  # a switch (below): the caller's was checked here
    return names  # frozen for every shard and the final step


def _finish_apply(ctx, view, report) -> dict:
    if not param(ctx, "evaluate", True):
        return {}
    report(0.0, "evaluating the whole view")
    p = ctx.params
    return core.finish_apply(view, p["label_field"], p["gt_field"], p["eval_key"])


# the parent cleared another model's field (overwrite): shards only add this model's
# vectors; the map and index come once, at the end
_EMBED_OFF = {"compute_viz": False, "compute_similarity": False, "overwrite": False}
register("compute_clip_embeddings", _prepare_embeddings, _finish_embeddings, _EMBED_OFF)
register("zero_shot_classify", _prepare_zero_shot, _finish_zero_shot, {"evaluate": False})
# the outputs were checked on the whole view (with the caller's overwrite): a shard
# may then write beside what a sibling wrote
register("apply_lenet", _prepare_apply, _finish_apply, {"evaluate": False, "overwrite": True})


def _prepare_oos(ctx, view) -> dict:
    from classlab.labels.oos import check_oos_args
    from classlab.labels.oos_shards import check_sharded_plan

    from .labels import oos_check_args

    check_sharded_plan(check_oos_args(view, **oos_check_args(ctx)))
    return {}


def _split_oos(ctx, view, n: int) -> list[dict]:
    """The folds are the shards: each trains its fold models (K per repeat) over the
    whole view."""
    from classlab.labels.oos import check_num_folds, check_repeats
    from classlab.labels.oos_shards import split_folds

    from .labels import OOS_FOLDS_PARAM

    k = check_num_folds(param(ctx, "num_folds", defaults.OOS_FOLDS))
    units = k * check_repeats(param(ctx, "repeats", 1))
    return [{OOS_FOLDS_PARAM: folds} for folds in split_folds(units, n)]


def _finish_oos(ctx, view, report) -> dict:
    from classlab.labels.oos_shards import finish_oos_predictions

    from .labels import oos_check_args

    args = oos_check_args(ctx)
    args.pop("overwrite")  # checked by the parent; the folds are now this run's
    return finish_oos_predictions(
        view,
        **args,
        seed=param(ctx, "seed", defaults.SPLIT_SEED),
        predict_others=bool(param(ctx, "predict_others", True)),
        progress=report,
    )


# K folds over N shards; each shard may replace what a sibling (or the run it
# replaces) wrote: the caller's overwrite was checked on the whole view
register(
    "compute_oos_predictions", _prepare_oos, _finish_oos, {"overwrite": True}, split=_split_oos
)
