"""The main job's ``compare`` step: test accuracies, fixed/broken, and paired tests.

Three paired comparisons on the test split (exact McNemar + seeded bootstrap
interval, :mod:`classlab.compare.stats`), each pooled over the repeats:

- ``v2_vs_v1``: is ``lenet_v2``'s change over ``lenet`` real?
- ``v2_vs_control``: the part due to the augmented samples (same parent,
  epochs, learning rate and seed; only the augmented samples differ);
- ``control_vs_v1``: the part due to the extra fine-tuning epochs.

On the same samples the two parts add up exactly to the whole
(``diff(v2, v1) = diff(v2, control) + diff(control, v1)``), which is the
attribution line of the summary. With ``--models``, the extra models' fields join the
test-accuracy table and one more line gives their accuracy, parameters and training
time (:mod:`classlab.job.model_steps`); the paired tests stay LeNet-5's.
"""

from __future__ import annotations

import logging

import numpy as np

from classlab import defaults
from classlab.job import outcomes as out
from classlab.job.settings import WorkflowConfig
from classlab.progress import ProgressFn

logger = logging.getLogger("classlab")

# (key in report.comparison["paired"], model A, model B): "v1" is the LeNet field
PAIRS = (
    ("v2_vs_v1", "v1", "v2"),
    ("v2_vs_control", "control", "v2"),
    ("control_vs_v1", "v1", "control"),
)


def _groups(ds, cfg: WorkflowConfig) -> dict[str, list[str]]:
    """``{"v1": [lenet], "v2": [fields of the repeats], "control": [...]}``, each only
    when all its fields exist."""
    groups = {
        "v1": [defaults.LENET_FIELD],
        "v2": [fld for _, fld, _, _ in cfg.runs("v2")],
        "control": [fld for _, fld, _, _ in cfg.runs("control")],
    }
    return {g: fs for g, fs in groups.items() if all(ds.has_sample_field(f) for f in fs)}


def _name(cfg: WorkflowConfig, group: str) -> str:
    base = {"v1": defaults.LENET_FIELD, "v2": cfg.field_v2, "control": cfg.field_control}[group]
    return base if group == "v1" or cfg.repeats == 1 else f"{base} ({cfg.repeats} seeds)"


def paired_tests(test, cfg: WorkflowConfig) -> tuple[dict, dict]:
    """The paired comparisons of :data:`PAIRS` (those whose models exist) and the
    repeats' accuracy spread, on the ``test`` view.

    Returns:
        ``(paired, repeats)`` as in :meth:`classlab.job.outcomes.Compared.report`
    """
    from classlab.compare.paired import right_from_view
    from classlab.compare.stats import describe, pooled_comparison

    groups = _groups(test._dataset, cfg)
    if len(groups) < 2:
        return {}, {}
    right = right_from_view(test, [f for fs in groups.values() for f in fs], defaults.GROUND_TRUTH)
    paired = {}
    for key, a, b in PAIRS:
        if a not in groups or b not in groups:
            continue
        fa = groups[a] * (cfg.repeats if a == "v1" else 1)  # v1 is paired with every repeat
        res = pooled_comparison([(right[x], right[y]) for x, y in zip(fa, groups[b])])
        name_a, name_b = _name(cfg, a), _name(cfg, b)
        paired[key] = {**res, "a": name_a, "b": name_b, "text": describe(name_a, name_b, res)}
    repeats = {}
    for g in ("v2", "control"):
        if g in groups:
            acc = [float(right[f].mean()) for f in groups[g]]
            std = float(np.std(acc, ddof=1)) if len(acc) > 1 else None
            repeats[g] = {
                "fields": groups[g],
                "accuracy": acc,
                "mean": float(np.mean(acc)),
                "std": std,
            }
    return paired, repeats


def summary_lines(cfg: WorkflowConfig, paired: dict, repeats: dict) -> list[str]:
    """The summary's lines: each paired test, the attribution, the repeats' spread."""
    lines = [p["text"] for p in paired.values()]
    if {"v2_vs_v1", "v2_vs_control", "control_vs_v1"} <= set(paired):
        whole, aug, epochs = (paired[k] for k in ("v2_vs_v1", "v2_vs_control", "control_vs_v1"))
        lines.append(
            f"attribution: of {whole['b']}'s {100 * whole['diff']:+.2f} pt over {whole['a']}, "
            f"{100 * aug['diff']:+.2f} pt come from the augmented samples "
            f"({aug['b']} vs {aug['a']}, McNemar p = {_p(aug['p_value'])}) and "
            f"{100 * epochs['diff']:+.2f} pt from the extra training "
            f"({cfg.finetune_epochs} fine-tuning epoch(s): {epochs['b']} vs {epochs['a']}, "
            f"McNemar p = {_p(epochs['p_value'])})"
        )
    for g, r in repeats.items():
        if len(r["accuracy"]) > 1:
            lines.append(
                f"{_name(cfg, g)}: test accuracy mean {r['mean']:.4f}, "
                f"standard deviation {r['std']:.4f} over {len(r['accuracy'])} seeds"
            )
    return lines


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


def compare_runs(ds, cfg: WorkflowConfig, progress: ProgressFn) -> out.Compared:
    """The ``compare`` step (see the module docstring)."""
    from classlab.compare import compare_models, fixed_vs_broken
    from classlab.job.model_steps import extra_fields, models_line

    test = ds.match_tags(defaults.TEST_TAG)
    models = (defaults.CLIP_ZERO_SHOT, defaults.LENET_FIELD, cfg.field_v2, cfg.field_control)
    extras = extra_fields(ds, cfg)  # --models: empty by default
    fields = [f for f in models if ds.has_sample_field(f)] + list(extras)
    rows = compare_models(test, fields=fields, gt_field=defaults.GROUND_TRUTH)["summary"]
    rows = rows.to_dict("records")
    for row in rows:
        weights = " (random weights)" if row.get("random_weights") else ""
        logger.info("  test accuracy of %-16s %.4f%s", row["field"], row["accuracy"], weights)
    counts = {}
    if ds.has_sample_field(defaults.LENET_FIELD) and ds.has_sample_field(cfg.field_v2):
        fvb = fixed_vs_broken(
            test, defaults.LENET_FIELD, cfg.field_v2, gt_field=defaults.GROUND_TRUTH
        )
        counts = {k: fvb[k] for k in ("n", "fixed", "broken", "still_right", "still_wrong")}
    progress(0.5, "paired tests")
    paired, repeats = paired_tests(test, cfg)
    lines = summary_lines(cfg, paired, repeats)
    acc = {r["field"]: float(r["accuracy"]) for r in rows}
    for fld, m in extras.items():
        m["accuracy"] = acc.get(fld)
    if extras:
        lines.append(models_line(extras))
    for line in lines:
        logger.info("  %s", line)
    return out.Compared(
        accuracy=acc,
        random_weights=[r["field"] for r in rows if r.get("random_weights")],
        fixed_vs_broken=counts,
        clip_random_weights=cfg.clip_random_weights,
        paired=paired,
        repeats=repeats,
        lines=lines,
        models=extras,
    )
