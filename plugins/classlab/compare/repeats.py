"""Repeated (seeded) runs of one model, grouped: mean ± sd and the pooled paired test.

The main job names repeat ``i >= 1`` of a model ``<name>`` + ``defaults.REPEAT_SUFFIX``
(``lenet_v2``, ``lenet_v2_s1``, ``lenet_v2_s2``; see
:func:`classlab.job.settings.repeat_name`); ``<name>_seed<i>`` is read the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from classlab import defaults
from classlab.compare.stats import describe, pooled_comparison

_SUFFIX = re.escape(defaults.REPEAT_SUFFIX.split("{", 1)[0])
REPEAT_RE = re.compile(rf"^(?P<base>.+?)(?:{_SUFFIX}|_seed)(?P<i>\d+)$")


def _split(field: str) -> tuple[str, int]:
    m = REPEAT_RE.match(field)
    return (m.group("base"), int(m.group("i"))) if m else (field, 0)


def repeat_groups(fields: Sequence[str]) -> dict[str, list[str]]:
    """``{base: [its runs, repeat 0 first]}`` for every model with more than one run
    among ``fields`` (``lenet_v2``, ``lenet_v2_s1`` -> ``{"lenet_v2": [both]}``)."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for f in fields:
        base, i = _split(f)
        groups.setdefault(base, []).append((i, f))
    return {b: [f for _, f in sorted(runs)] for b, runs in groups.items() if len(runs) > 1}


def group_label(base: str, runs: Sequence[str]) -> str:
    return f"{base} ({len(runs)} seeds)" if len(runs) > 1 else base


def repeat_summary(
    right: dict[str, np.ndarray], fields: Sequence[str], baseline: str
) -> list[dict[str, Any]]:
    """One row per group of repeats among ``fields``: accuracy mean and standard
    deviation over its runs and, against the baseline's group (or the baseline
    alone, paired with every run), :func:`~classlab.compare.stats.pooled_comparison`.

    Args:
        right: ``{field: per-sample "is right" array}`` on the same samples
        fields: the compared fields
        baseline: the baseline field

    Returns:
        ``[{"group", "runs", "fields", "mean", "std", "accuracy", "paired",
        "paired_text"}]`` (``paired`` None for the baseline's own group)
    """
    groups = repeat_groups(fields)
    home = next((b for b, fs in groups.items() if baseline in fs), None)
    a_fields = groups[home] if home else [baseline]
    a_name = group_label(home, a_fields) if home else baseline
    rows = []
    for base, runs in groups.items():
        acc = [float(right[f].mean()) for f in runs]
        row = {
            "group": base,
            "runs": len(runs),
            "fields": runs,
            "accuracy": acc,
            "mean": float(np.mean(acc)),
            "std": float(np.std(acc, ddof=1)),
            "paired": None,
            "paired_text": None,
        }
        if base != home:
            firsts = a_fields * len(runs) if len(a_fields) == 1 else a_fields
            res = pooled_comparison([(right[a], right[b]) for a, b in zip(firsts, runs)])
            row["paired"] = res
            row["paired_text"] = describe(a_name, group_label(base, runs), res)
        rows.append(row)
    return rows
