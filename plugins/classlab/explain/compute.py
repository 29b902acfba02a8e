"""``compute_gradcam``: Grad-CAM heatmaps of a recorded CNN on a view, written in chunks.

PNG heatmaps (``storage="png"``) go through a temp file and ``os.replace``, a chunk's
files before its field values: a killed run leaves whole PNGs only (old or new), and the
next run into the folder removes the dead writer's temp files. Test-only SIGKILL points
(``CLASSLAB_FAULT``): :data:`FAULT_POINTS`."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classlab import config, defaults
from classlab.errors import InputError
from classlab.explain.gradcam import (
    VALID_STRIDES,
    check_architecture,
    check_heatmap_field,
    default_pred_field,
    gradcam_batch,
    heatmap_fields,
    plan_view,
    scale_maps,
    target_layer,
)
from classlab.progress import ProgressFn, as_progress
from classlab.writers import alive, fault, owner

logger = logging.getLogger("classlab")

FAULT_POINTS = ("gradcam_after_tmp_write", "gradcam_after_pngs")


@dataclass
class GradcamPlan:
    """What the checks decided: the samples, the fields, the model's record."""

    view: object
    record: dict
    fields: dict[str, str]  # {"predicted" | "ground_truth": heatmap field}
    pred_field: str | None
    gt_field: str


def check_gradcam_args(
    view,
    run_key: str,
    samples: str = "mistakes",
    pred_field: str | None = None,
    gt_field: str = defaults.GROUND_TRUTH,
    target: str = "predicted",
    heatmap_field: str | None = None,
    storage: str = "database",
    batch_size: int = 64,
    overwrite: bool = False,
    models: dict | None = None,
) -> GradcamPlan:
    """Every check of :func:`compute_gradcam` (no write; counts and schema only).

    ``models``: the dict of ``registry.list_models``, when the caller has read it.
    """
    from classlab.lenet import registry
    from classlab.lenet.apply import check_batch_size
    from classlab.validation import require_nonempty

    check_batch_size(batch_size)
    if storage not in defaults.GRADCAM_STORAGE:
        raise InputError(
            f"storage must be one of {', '.join(defaults.GRADCAM_STORAGE)}, got {storage!r}"
        )
    require_nonempty(view)
    dataset = view._dataset
    models = registry.list_models(dataset) if models is None else models
    registry.require_model(models, run_key)
    rec = models[run_key]
    check_architecture(rec.get("architecture"), run_key)
    pred_field = pred_field or default_pred_field(rec)
    if not heatmap_field:
        heatmap_field = f"{pred_field or run_key}{defaults.GRADCAM_SUFFIX}"
    fields = heatmap_fields(heatmap_field, target)
    protected = {gt_field: "the ground truth (gt_field)"}
    if pred_field:
        protected[pred_field] = "the model's predictions (pred_field)"
    if len(set(fields.values())) != len(fields):
        raise InputError("heatmap_field: the two heatmap fields must differ")
    for field in fields.values():
        check_heatmap_field(dataset, field, protected, overwrite)
    chosen = plan_view(view, rec, samples, pred_field, gt_field, target, run_key)
    return GradcamPlan(chosen, rec, fields, pred_field, gt_field)


def _heatmaps(maps, ids, storage, folder):
    """``{sample id: fo.Heatmap}`` of uint8 maps (in the database, or PNG files)."""
    import cv2
    import fiftyone as fo

    if storage == "database":
        return {i: fo.Heatmap(map=m, range=[0, 255]) for i, m in zip(ids, maps)}
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, m in zip(ids, maps):
        path = folder / f"{i}.png"
        ok, png = cv2.imencode(".png", m)
        if not ok:
            raise OSError(f"Could not encode the heatmap {path}")
        _write_atomic(path, png.tobytes())
        out[i] = fo.Heatmap(map_path=str(path), range=[0, 255])
    fault("gradcam_after_pngs")
    return out


def _write_atomic(path: Path, data: bytes) -> None:
    """Writes ``data`` into a temp file of ``path``'s folder, then ``os.replace``: a
    killed writer never leaves a partial PNG under its final name (nor over an old one)."""
    tmp = path.with_name(f".{path.name}~{owner()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        fault("gradcam_after_tmp_write")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def sweep_temp(folder: Path) -> int:
    """Removes the temp PNGs of writers whose process is gone (a killed run)."""
    if not folder.is_dir():
        return 0
    dead = [p for p in folder.glob(".*.png~*.tmp") if not alive(p.name, p.stat().st_mtime)]
    return sum(config.remove_file(p) for p in dead)


def _explain_chunk(chunk, plan, model, layer, device, batch_size, storage, folders):
    """Decodes one chunk's images, computes its maps batch by batch, writes them."""
    import torch

    from classlab.lenet.data import decode_images
    from classlab.lenet.train import to_input

    rec = plan.record
    stride = VALID_STRIDES.get(rec["architecture"])
    size, channels = rec["input_size"], rec["in_channels"]
    x_all = decode_images(chunk["filepath"], channels, size)
    lookup = {c: i for i, c in enumerate(rec["classes"])}
    gt = chunk.values.get("gt")
    sizes = list(zip(chunk["metadata.width"], chunk["metadata.height"]))
    maps = {name: [] for name in plan.fields}
    wrong = 0
    for s in range(0, len(x_all), batch_size):
        x = to_input(x_all[s : s + batch_size].to(device))
        targets = {"predicted": None}
        if gt is not None:
            idx = torch.tensor([lookup[v] for v in gt[s : s + batch_size]], device=device)
            targets = {name: (None if name == "predicted" else idx) for name in plan.fields}
        got, predicted = gradcam_batch(model, layer, x, targets, stride)
        if gt is not None:
            wrong += int((predicted != idx.cpu().numpy()).sum())
        for name in plan.fields:
            maps[name] += scale_maps(got[name], sizes[s : s + batch_size])
    for name, field in plan.fields.items():
        values = _heatmaps(maps[name], chunk.ids, storage, folders.get(field))
        chunk.view.set_values(field, values, key_field="id")
    return wrong


def compute_gradcam(
    view,
    run_key: str,
    samples: str = "mistakes",
    pred_field: str | None = None,
    gt_field: str = defaults.GROUND_TRUTH,
    target: str = "predicted",
    heatmap_field: str | None = None,
    storage: str = "database",
    batch_size: int = 64,
    device: str = "auto",
    overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> dict:
    """Grad-CAM heatmaps of the model ``run_key`` on the samples of ``view``.

    Args:
        view: the samples to consider
        run_key: a recorded CNN (LeNet-5 or a torchvision backbone)
        samples: ``"mistakes"`` (``pred_field`` != ``gt_field``) or ``"all"``
        pred_field: the model's predictions (default: the field it last wrote)
        gt_field: the ground truth (for mistakes and the ground-truth class)
        target: the class explained: ``"predicted"`` (the model's own argmax),
            ``"ground_truth"`` or ``"both"``
        heatmap_field: where the predicted class's maps go (default
            ``<pred_field or run_key>_gradcam``); the ground truth's go to
            ``<heatmap_field>_gt``
        storage: ``"database"`` (uint8 arrays in the samples) or ``"png"`` (files
            under ClassLab's root)
        batch_size: images per Grad-CAM pass
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``
        overwrite: replace existing heatmap fields
        progress: ``fn(fraction, label)``

    Returns:
        ``{run_key, num_samples, fields, samples, target, storage}`` (and, with a ground
        truth, ``num_wrong``: samples whose predicted class differs from it)
    """
    from classlab import chunks
    from classlab.lenet import registry
    from classlab.lenet.config import check_option

    report = as_progress(progress)
    check_option("device", device)
    plan = check_gradcam_args(
        view,
        run_key,
        samples,
        pred_field,
        gt_field,
        target,
        heatmap_field,
        storage,
        batch_size,
        overwrite,
    )
    device = config.resolve_device(device)
    dataset = view._dataset
    model, _ = registry.load_model(dataset, run_key, device)
    layer = target_layer(model, plan.record["architecture"])
    folders = {}
    if storage == "png":
        folders = {f: config.media_dir(dataset.name, "gradcam", f) for f in plan.fields.values()}
        for folder in folders.values():
            sweep_temp(folder)
    paths = ["filepath", "metadata.width", "metadata.height"]
    want_gt = samples == "mistakes" or target != "predicted"
    total, done, wrong = plan.view.count(), 0, 0
    report(0.0, f"Grad-CAM on {total} samples", force=True)
    # chunks of a few batches: decoded images of large RGB inputs stay small in memory
    wanted = paths + ([f"{gt_field}.label"] if want_gt else [])
    for chunk in chunks.iter_chunks(plan.view, wanted, size=int(batch_size) * 8):
        if want_gt:
            chunk.values["gt"] = chunk.values.pop(f"{gt_field}.label")
        wrong += _explain_chunk(
            chunk, plan, model, layer, device, int(batch_size), storage, folders
        )
        done += len(chunk)
        report(done / max(total, 1), f"Grad-CAM {done}/{total}")
    out = {
        "run_key": run_key,
        "num_samples": done,
        "fields": list(plan.fields.values()),
        "samples": samples,
        "target": target,
        "storage": storage,
    }
    if want_gt:
        out["num_wrong"] = wrong
    report(1.0, f"{done} heatmaps in {', '.join(out['fields'])}", force=True)
    return out


def heatmap_peaks(maps: list[np.ndarray]) -> list[tuple[int, int]]:
    """``(row, col)`` of each map's maximum (for checks and tests)."""
    return [tuple(int(v) for v in np.unravel_index(int(np.argmax(m)), m.shape)) for m in maps]
