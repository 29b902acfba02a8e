"""The models trained on a dataset, kept in its run records (kind ``"models"``).

Each record (``dataset.info["classlab_runs"]["models"][run_key]``) holds:
architecture, classes, config, history, best_epoch, checkpoint, parent,
train_seconds, num_params, created_at, applied_to, images_per_second, plus
in_channels, input_size and label_field. The weights live in the checkpoint
file ``classlab.config.models_dir(dataset.name)/<model_id>.pt`` (``model_id`` and
``checkpoint`` in the record), written and deleted by :mod:`classlab.lenet.checkpoints`.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

from classlab import records
from classlab.errors import DataSourceError, InputError, RunExistsError, RunNotFoundError

KIND = "models"

logger = logging.getLogger("classlab")


def list_models(dataset) -> dict[str, dict]:
    """All models of ``dataset``: ``{run_key: record}`` (copies)."""
    return records.list_records(dataset, KIND)


def require_model(models, run_key: str, param: str = "run_key") -> str:
    """Checks that ``run_key`` is one of ``models`` (keys, or the dict of :func:`list_models`).

    Pure: forms pass the list they read once per call.

    Raises:
        RunNotFoundError: naming ``param`` and the models there are
    """
    if run_key and run_key in models:
        return run_key
    if not models:
        raise RunNotFoundError(
            f"No model on this dataset yet, so {param} {run_key or ''!r} cannot be used: "
            "train one with train_lenet first"
        )
    known = ", ".join(sorted(models))
    if not run_key:
        raise RunNotFoundError(f"Pick a model for {param} (models: {known})")
    raise RunNotFoundError(
        f"No model with run key {run_key!r} on this dataset: pick another {param} (models: {known})"
    )


def get_model_record(dataset, run_key: str, param: str = "run_key") -> dict:
    """The record of ``run_key`` (``param``: the parameter named in the error).

    Raises:
        RunNotFoundError: no model has that key
    """
    rec = records.get_record(dataset, KIND, run_key)
    if rec is None:
        require_model(list_models(dataset), run_key, param)
    return rec


def require_run_key(run_key: str, param: str = "run_key") -> str:
    """Checks that ``run_key`` is a safe key (:func:`classlab.config.check_key`)."""
    from classlab.config import check_key

    return check_key(run_key, param)


def check_new_run_key(run_key: str, models, overwrite: bool = False, param: str = "run_key"):
    """Checks that a new model can take ``run_key`` among ``models`` (keys or records).

    Pure: forms pass the list they read once per call. With ``overwrite``, an
    existing key is allowed (the model will be replaced).

    Raises:
        InputError: the key is not valid
        RunExistsError: a model has that key and ``overwrite`` is False
    """
    require_run_key(run_key, param)
    if run_key in models and not overwrite:
        fix = " or pass overwrite=True to replace it" if param == "run_key" else ""
        raise RunExistsError(
            f"A model with run key {run_key!r} already exists. Pick another {param} "
            f"(e.g. {run_key}_2){fix}."
        )
    return run_key


def checkpoint_path(dataset, model_id: str) -> Path:
    """Where the checkpoint of the model with the immutable id ``model_id`` goes."""
    from classlab.lenet.checkpoints import model_path

    return model_path(dataset.name, model_id)


def save_checkpoint(path: Path, payload: dict) -> Path:
    """Writes ``payload`` with ``torch.save`` atomically (a temp file, then ``os.replace``)."""
    from classlab.lenet.checkpoints import write_atomic

    return write_atomic(path, payload)


def load_checkpoint(record: dict, run_key: str = "") -> dict:
    """Reads a record's checkpoint and checks its classes against the record.

    Raises:
        DataSourceError: the file is missing, unreadable or does not match the record
    """
    import torch

    path = Path(record.get("checkpoint") or "")
    if not path.is_file():
        raise DataSourceError(
            f"The checkpoint of model {run_key!r} is missing ({path}). Train the model again, "
            "or delete its record with delete_model."
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as e:
        raise DataSourceError(
            f"The checkpoint {path} of model {run_key!r} is unreadable ({e}). "
            "Train the model again."
        ) from None
    if list(payload.get("classes", [])) != list(record["classes"]):
        raise DataSourceError(
            f"The checkpoint {path} holds classes {payload.get('classes')} but model "
            f"{run_key!r} was recorded with {record['classes']}: the file was replaced. "
            "Train the model again."
        )
    return payload


def load_model(dataset, run_key: str, device: str = "cpu"):
    """The trained network of ``run_key`` in eval mode, and its record.

    Returns:
        ``(model, record)``; ``record["classes"]`` maps output index to label
    """
    from classlab.lenet.models import build_model

    rec = get_model_record(dataset, run_key)
    payload = load_checkpoint(rec, run_key)
    cfg = rec["config"]
    model = build_model(
        rec["architecture"],
        len(rec["classes"]),
        rec["in_channels"],
        rec["input_size"],
        cfg.get("dropout", 0.25),
    )
    model.load_state_dict(payload["state_dict"])
    return model.to(device).eval(), rec


def rename_model(dataset, run_key: str, new_key: str) -> dict:
    """Renames a model's record in one atomic update; the checkpoint file is named by the
    model's immutable id, so no file moves. Returns the record."""
    models = list_models(dataset)
    require_model(models, run_key)
    check_new_run_key(new_key, models, param="new_key")
    records.rename_record(dataset, KIND, run_key, new_key)
    return records.get_record(dataset, KIND, new_key)


def check_delete(record: dict, run_key: str, delete_checkpoint: bool) -> None:
    """Refuses ``delete_checkpoint`` for a checkpoint (or ONNX file) outside ClassLab's
    root (no write).

    Raises:
        InputError: naming ``delete_checkpoint`` and what to do
    """
    from classlab.config import inside_root
    from classlab.lenet.checkpoints import FILE_KEYS

    for key in FILE_KEYS:
        path, what = record.get(key), "checkpoint" if key == "checkpoint" else "ONNX file"
        if not (delete_checkpoint and path):
            continue
        try:
            inside_root(path)
        except InputError:
            raise InputError(
                f"delete_checkpoint: the {what} {path} of model {run_key!r} is outside "
                "ClassLab's root, and ClassLab never deletes files there. Delete the model "
                "with delete_checkpoint=False and remove the file yourself."
            ) from None


def delete_model(dataset, run_key: str, delete_checkpoint: bool = False) -> dict:
    """Removes a model's record; its checkpoint and ONNX files only with
    ``delete_checkpoint``, and only when a file is inside ClassLab's root and no record of
    any dataset (a clone's, another key's) still references it.

    Prediction fields written by the model are left in place. Returns the removed record.
    """
    from classlab.lenet.checkpoints import remove_unreferenced

    check_delete(get_model_record(dataset, run_key), run_key, delete_checkpoint)
    rec = records.delete_record(dataset, KIND, run_key)
    if rec is None:  # deleted by another process since the check
        raise RunNotFoundError(f"Model {run_key!r} was deleted meanwhile: list the models")
    if delete_checkpoint:
        remove_unreferenced(rec.get("checkpoint"))
        remove_unreferenced(rec.get("onnx_path"))
    return rec


def record_prediction(dataset, run_key: str, field: str, images_per_second: float) -> dict:
    """Notes in the record that ``field`` holds this model's predictions."""
    rec = get_model_record(dataset, run_key)
    applied = [f for f in rec.get("applied_to", []) if f != field] + [field]
    return records.update_record(
        dataset, KIND, run_key, applied_to=applied, images_per_second=float(images_per_second)
    )


def model_summary(record: dict) -> dict:
    """The short view of a record that listings show (best val accuracy, lineage, file)."""
    history = record.get("history") or []
    best = history[record["best_epoch"] - 1] if history else {}
    return {
        "architecture": record["architecture"],
        "val_acc": best.get("val_acc"),
        "best_epoch": record["best_epoch"],
        "parent": record.get("parent"),
        "num_params": record["num_params"],
        "train_seconds": record.get("train_seconds"),
        "latency_ms": record.get("latency_ms"),
        "onnx_path": record.get("onnx_path"),
        "applied_to": record.get("applied_to", []),
        "created_at": record.get("created_at"),
        "checkpoint": record["checkpoint"],
    }


def model_for_field(dataset, field: str) -> tuple[str, dict] | None:
    """The (run_key, record) of the model whose predictions are in ``field``, if any."""
    for key, rec in list_models(dataset).items():
        if field in rec.get("applied_to", []):
            return key, rec
    return None
