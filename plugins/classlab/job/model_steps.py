"""The main job's opt-in extra models (``--models resnet18,probe``), run before ``compare``.

- ``extra_models``: every architecture of ``models`` but ``probe`` (``resnet18``,
  ``resnet50``, ``mobilenet_v3_small``, ``efficientnet_b0``, ``lenet5_modern``) is
  trained with :func:`classlab.lenet.backbone_runs.train_model` on the ``train`` tag
  (``val`` for validation) for ``models_epochs`` (default: LeNet-5's ``epochs``) with the
  job's batch size, device and seed, then applied and evaluated on the original samples
  through the same core path as ``lenet`` (run key ``resnet18_v1``, field ``resnet18``,
  eval key ``eval_resnet18``; no embeddings field). Each model is skipped when it is
  registered, applied and evaluated (a resumed run does only the missing ones).
- ``linear_probe``: :func:`classlab.probe.train_linear_probe` on ``clip_embeddings``
  when the dataset has them (the probe ``clip_probe``), else on ``lenet_embeddings``
  (``lenet_probe``); applied to and evaluated on every original sample.

Both steps exist only when ``models`` asks for them: the default job does not list
them (:data:`MODEL_STEP_TABLE`, :func:`requested`). The ``compare`` step adds their
fields to its table and one summary line with each model's test accuracy, parameters
and training time (:func:`extra_fields`, :func:`models_line`).
"""

from __future__ import annotations

from typing import Optional

from classlab import defaults
from classlab.job import outcomes as out
from classlab.job.settings import WorkflowConfig
from classlab.progress import ProgressFn

# (name, title ({c} is the config), done check), as in workflow.STEP_TABLE
MODEL_STEP_TABLE: tuple[tuple[str, str, Optional[str]], ...] = (
    (
        "extra_models",
        "train, apply + evaluate the extra models ({c.architecture_list})",
        "has_extra_models",
    ),
    (
        "linear_probe",
        "linear probe on the CLIP embeddings (else on LeNet-5's)",
        "has_linear_probe",
    ),
)
MODEL_STEPS = tuple(name for name, _, _ in MODEL_STEP_TABLE)


def requested(cfg: WorkflowConfig, step: str) -> bool:
    """Whether the opt-in ``step`` is part of this run (``models`` asks for it)."""
    return bool(cfg.architectures) if step == "extra_models" else cfg.wants_probe


def _part(progress: ProgressFn, start: float, end: float, prefix: str) -> ProgressFn:
    """``[start, end]`` of ``progress``, each label prefixed (``resnet18: ...``)."""

    def report(fraction: float, label=None) -> None:
        progress(start + (end - start) * fraction, f"{prefix}: {label or ''}")

    return report


class ModelSteps:
    """The ``extra_models`` and ``linear_probe`` steps (mixed into the Workflow:
    ``self.cfg``, ``self.ds``, ``self.originals()``, ``self._apply``, the done checks)."""

    def extra_models(self, progress: ProgressFn):
        runs, done = self.cfg.model_runs(), []
        evals = set(self.ds.list_evaluations())
        for i, (name, key, fld, ev) in enumerate(runs):
            if self._has_model(key) and self._has_fields(fld) and ev in evals:
                continue
            part = _part(progress, i / len(runs), (i + 1) / len(runs), name)
            done.append(self._extra_model(part, name, key, fld, ev))
        return out.one_or_many(done)

    def _extra_model(self, progress: ProgressFn, name, key, fld, ev) -> out.ExtraModel:
        from classlab.lenet.backbone_runs import train_model
        from classlab.lenet.registry import get_model_record

        c = self.cfg
        trained = not self._has_model(key)
        if trained:
            rec = train_model(
                self.ds,
                run_key=key,
                architecture=name,
                label_field=defaults.GROUND_TRUTH,
                train_tag=defaults.TRAIN_TAG,
                val_tag=defaults.VAL_TAG,
                config=dict(
                    epochs=c.models_epochs or c.epochs,
                    batch_size=c.batch_size,
                    seed=c.seed,
                    device=c.device,
                ),
                progress=_part(progress, 0.0, 0.8, "train"),
            )
        else:  # trained by an earlier run that stopped before applying it
            rec = get_model_record(self.ds, key)
            _same(rec.get("architecture"), name, f"The model {key!r}", "delete_model")
        applied = self._apply(_part(progress, 0.8, 1.0, "apply"), key, fld, ev, "")
        best = rec["history"][rec["best_epoch"] - 1]
        return out.ExtraModel(
            name,
            key,
            fld,
            int(rec["num_params"]),
            float(rec["train_seconds"]),
            float(best["val_acc"]),
            applied.accuracy,
            applied.num_evaluated,
            trained,
        )

    def linear_probe(self, progress: ProgressFn) -> out.ExtraModel:
        from classlab.probe import apply_linear_probe, list_probes, train_linear_probe

        emb, key, fld, ev = self.probe_run()
        rec = list_probes(self.ds).get(key)
        trained = rec is None
        if trained:
            rec = res = train_linear_probe(
                self.originals(),
                embeddings_field=emb,
                run_key=key,
                gt_field=defaults.GROUND_TRUTH,
                train_tag=defaults.TRAIN_TAG,
                val_tag=defaults.VAL_TAG,
                label_field=fld,
                apply_tag="",  # every original sample, like the other models
                evaluate=True,
                eval_key=ev,
                overwrite=True,  # the field / evaluation a stopped run may have left
                progress=progress,
            )
        else:  # trained by an earlier run that stopped before applying it
            what = f"The linear probe {key!r}"
            _same(rec.get("embeddings_field"), emb, what, "delete_linear_probe")
            res = apply_linear_probe(
                self.originals(),
                run_key=key,
                label_field=fld,
                evaluate=True,
                eval_key=ev,
                gt_field=defaults.GROUND_TRUTH,
                overwrite=True,
                progress=progress,
            )
        return out.ExtraModel(
            defaults.JOB_PROBE,
            key,
            fld,
            int(rec["num_params"]),
            float(rec["train_seconds"]),
            float(rec["val_acc"]),
            res.get("accuracy"),
            res.get("num_evaluated"),
            trained,
            emb,
        )


def _same(found, wanted: str, what: str, delete: str) -> None:
    """Checks that a model the job finds under its own key is the one it would make.

    Raises:
        RunExistsError: another architecture (or embeddings field) under that key
    """
    from classlab.errors import RunExistsError

    if found != wanted:
        raise RunExistsError(
            f"{what} on this dataset is of {found!r}, not {wanted!r} as --models asks: "
            f"remove it ({delete}) or rename it, then run the job again"
        )


def extra_fields(ds, cfg: WorkflowConfig) -> dict[str, dict]:
    """The prediction fields of the extra models that exist on ``ds`` (none without
    ``models``): ``{field: {"name", "run_key", "num_params", "train_seconds"}}`` from
    their records."""
    from classlab.lenet.registry import list_models
    from classlab.probe import list_probes

    if not cfg.models:
        return {}
    found = {}
    models = list_models(ds)
    for name, key, fld, _ in cfg.model_runs():
        found[fld] = (name, key, models.get(key))
    if cfg.wants_probe:
        probes = list_probes(ds)
        for key in (defaults.PROBE_RUN_KEY, defaults.LENET_PROBE):
            rec = probes.get(key)
            for fld in (rec or {}).get("applied_to") or []:
                found[fld] = (defaults.JOB_PROBE, key, rec)
    return {
        fld: {
            "name": name,
            "run_key": key,
            "num_params": rec.get("num_params"),
            "train_seconds": rec.get("train_seconds"),
        }
        for fld, (name, key, rec) in found.items()
        if rec and ds.has_sample_field(fld)
    }


def models_line(models: dict[str, dict]) -> str:
    """The summary's line of the extra models: test accuracy, parameters, training time."""

    def one(fld: str, m: dict) -> str:
        acc = m.get("accuracy")
        acc = f"{acc:.4f}" if acc is not None else "-"
        secs = m.get("train_seconds")
        secs = f"{secs:.1f} s" if secs is not None else "-"
        params = m.get("num_params")
        params = f"{params:,}" if params is not None else "-"
        return f"{fld} {acc} ({params} params, trained in {secs})"

    return "extra models (test accuracy): " + "; ".join(one(f, m) for f, m in models.items())
