"""Sharded runs: one long operator split into N disjoint slices of its view by sample id.

A sharded run has three parts, all in the core (queueing the delegated
operations is the operators' side: :mod:`operators.shards`):

1. the parent validates the whole request on the whole view (the core's own
   checks, before anything is written or queued: ``prepare_*``), then
   :func:`plan_shards` splits the view's sorted sample ids into N contiguous
   ranges (read in chunks, never held whole) and :func:`start_group` records
   the group (``classlab.records`` kind ``"shards"``);
2. each shard runs the operator on :func:`shard_view` (its id range of the
   view) with the whole-view steps turned off, then :func:`mark_done`;
3. the shard that completes the group (exactly one, by an atomic create of the
   group's ``~final`` record) runs the step that needs every shard: the 2-D
   map and similarity index (``finish_embeddings``), the evaluation
   (``finish_zero_shot``, ``finish_apply``).

Any operator can be sharded this way; :func:`mark_done` and the group record
know nothing about what the shards compute.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from classlab import records
from classlab.chunks import iter_chunks
from classlab.errors import InputError, RunExistsError
from classlab.progress import ProgressFn, as_progress
from classlab.validation import require_nonempty

logger = logging.getLogger("classlab")

KIND = "shards"  # record kind of shard groups
MAX_SHARDS = 1024
FINAL_SUFFIX = "~final"
DONE = "done_"  # the group record's key prefix of each finished shard: done_<index>


def check_shards(shards) -> int:
    """``shards`` is a whole number from 1 to :data:`MAX_SHARDS`; returns it."""
    if isinstance(shards, float) and shards.is_integer():
        shards = int(shards)
    if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= MAX_SHARDS:
        raise InputError(
            f"shards must be a whole number from 1 to {MAX_SHARDS}, got {shards!r}: "
            "1 runs here, N > 1 queues N delegated operations"
        )
    return shards


@dataclass(frozen=True)
class IdRange:
    """A shard: the view's samples with ``lo <= id <= hi`` (``count`` of them)."""

    lo: str
    hi: str
    count: int


def plan_shards(view, shards: int) -> list[IdRange]:
    """Splits the view's sorted sample ids into ``shards`` contiguous ranges of
    (almost) equal size: disjoint, covering the view, stable for the same samples.

    Fewer ranges than ``shards`` when the view has fewer samples. The ids are read
    in chunks (:func:`classlab.chunks.iter_chunks`), never all at once.
    """
    shards = check_shards(shards)
    total = require_nonempty(view)
    n = min(shards, total)
    starts = [k * total // n for k in range(n)] + [total]
    out: list[IdRange] = []
    lo = None
    for chunk in iter_chunks(view):
        for k, sid in enumerate(chunk.ids):
            pos = chunk.start + k
            if pos == starts[len(out)]:
                lo = sid
            if pos == starts[len(out) + 1] - 1:
                out.append(IdRange(lo, sid, starts[len(out) + 1] - starts[len(out)]))
                if len(out) == n:
                    return out
    raise InputError("The view changed while its shards were planned: run it again")


def shard_view(view, lo: str, hi: str):
    """The samples of ``view`` whose id lies in ``[lo, hi]`` (an indexed id range)."""
    from bson import ObjectId

    return view.mongo([{"$match": {"_id": {"$gte": ObjectId(lo), "$lte": ObjectId(hi)}}}])


# ---------------------------------------------------------------- the group record


def start_group(dataset, operator: str, count: int, ranges=(), **extra: Any) -> str:
    """Records a new group of ``count`` shards of ``operator`` (over ``ranges``, when
    the shards are id ranges); returns its key."""
    key = f"{operator}-{uuid.uuid4().hex[:12]}"
    record = {
        "operator": operator,
        "count": int(count),
        "ranges": [asdict(r) for r in ranges],
        "created_at": _now(),
        **extra,
    }
    records.set_record(dataset, KIND, key, record, create_only=True)
    return key


def mark_done(dataset, group: str, index: int, summary: dict | None = None) -> bool:
    """Marks shard ``index`` of ``group`` done; True for exactly one caller: the one
    whose shard completes the group (it then runs the final step).

    Each shard sets its own entry atomically; the caller that finds every entry set
    also claims the group's final step with an atomic create-only record, so of two
    shards finishing at once only one gets True.
    """
    done = {"at": _now(), **(summary or {})}
    rec = records.update_record(dataset, KIND, group, **{f"{DONE}{index}": done})
    if len(_done(rec)) < int(rec.get("count", 0)):
        return False
    try:
        records.set_record(dataset, KIND, group + FINAL_SUFFIX, {"at": _now()}, create_only=True)
    except RunExistsError:
        return False
    return True


def group_status(dataset, group: str) -> dict:
    """``{"count", "done": [shard indexes], "final": record of the final step or None}``."""
    rec = records.get_record(dataset, KIND, group) or {}
    final = records.get_record(dataset, KIND, group + FINAL_SUFFIX)
    return {
        "count": rec.get("count", 0),
        "done": _done(rec),
        "final": final,
    }


def record_final(dataset, group: str, result: dict) -> None:
    """Stores the final step's result on the group's ``~final`` record."""
    records.update_record(dataset, KIND, group + FINAL_SUFFIX, result=result, finished_at=_now())


def _done(rec: dict) -> list[int]:
    return sorted(int(k[len(DONE) :]) for k in rec if k.startswith(DONE))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ---------------------------------------------------------------- per operator


def prepare_embeddings(view, spec, options, field: str, overwrite: bool, maps) -> None:
    """The parent's part of a sharded ``compute_clip_embeddings``: every check on the
    whole view; then, with ``overwrite`` over another model's field, clears it and
    records this model ONCE (so no shard clears what another wrote)."""
    from classlab.clip.embeddings import (
        _write_record,
        check_embeddings_field,
        check_map_options,
    )
    from classlab.clip.options import check_run

    spec, options = check_run(spec, options)
    total = require_nonempty(view)
    exists = check_embeddings_field(view._dataset, field, spec, overwrite)
    check_map_options(view._dataset, maps, total)
    record = records.get_record(view._dataset, "clip", field)
    if exists and overwrite and not spec.same_weights(record):
        view._dataset.clear_sample_field(field)
        _write_record(view._dataset, field, spec, None)


def finish_embeddings(view, field: str, maps, progress: ProgressFn | None = None) -> dict:
    """The final step of sharded embeddings: the map and index over the whole view."""
    from classlab.clip.embeddings import _compute_maps

    return _compute_maps(view, field, maps, as_progress(progress))


def prepare_zero_shot(view, spec, options, prompts_args: dict, outputs: dict) -> dict:
    """The parent's part of a sharded ``zero_shot_classify``: every check on the whole
    view; returns the prompts resolved ONCE (classes, names, templates) as params, so
    that every shard labels with the same class list.

    ``prompts_args``: gt_field, classes, prompt_names, prompt_style, template_set,
    templates; ``outputs``: label_field, embeddings_field, evaluate, eval_key.
    """
    from classlab.clip.options import check_run
    from classlab.clip.prompts import resolve_prompts
    from classlab.clip.zero_shot import _check_outputs

    spec, options = check_run(spec, options)
    require_nonempty(view)
    a = prompts_args
    prompts = resolve_prompts(
        view,
        a["gt_field"],
        a["classes"],
        a["prompt_names"],
        a["prompt_style"],
        a["template_set"],
        a["templates"],
    )
    o = outputs
    _check_outputs(
        view._dataset,
        spec,
        o["label_field"],
        a["gt_field"],
        o["embeddings_field"],
        o["evaluate"],
        o["eval_key"],
    )
    return {
        "classes": list(prompts.classes),
        "prompt_names": dict(zip(prompts.classes, prompts.names)),
        "templates": list(prompts.templates),
    }


def finish_zero_shot(view, label_field: str, gt_field: str, eval_key: str, classes) -> dict:
    """The final step of sharded zero-shot: the evaluation over the whole view."""
    from classlab.clip.embeddings import KIND as CLIP_KIND
    from classlab.clip.zero_shot import _evaluate

    out = _evaluate(view, label_field, gt_field, eval_key, list(classes))
    records.update_record(view._dataset, CLIP_KIND, label_field, eval_key=eval_key)
    return out


def finish_apply(view, label_field: str, gt_field: str, eval_key: str) -> dict:
    """The final step of sharded ``apply_lenet``: the evaluation over the whole view."""
    from classlab.lenet.evaluate import evaluate_predictions

    return evaluate_predictions(view, label_field, gt_field, eval_key, overwrite=True)
