"""Grad-CAM heatmaps of a recorded CNN on the samples, as ``fo.Heatmap`` fields.

captum's ``LayerGradCam`` computes the maps at the target layer of each architecture
(:data:`TARGET_LAYERS`), ReLU'd, upsampled bilinearly to the model's input and then
to each image's size (from its metadata, when known), scaled per sample to 0..255.
They are stored in the database (``fo.Heatmap(map=uint8, range=[0, 255])``) or as
PNG files under ClassLab's root (``media_dir(dataset, "gradcam", field)``).

By default only the model's mistakes are explained (prediction field != ground
truth); ``target`` chooses the class explained: the model's predicted class
(``<field>``), the ground-truth class (``<field>_gt``) or both.
"""

from __future__ import annotations

import logging

import numpy as np

from classlab import defaults
from classlab.errors import FieldError, InputError

logger = logging.getLogger("classlab")

# The layer Grad-CAM reads, per architecture: a dotted path from the model ClassLab
# builds (LeNet-5: ``conv``/``fc``/``head``; torchvision backbones: ``body``/``head``);
# a negative number indexes a Sequential from its end.
TARGET_LAYERS = {
    "lenet5": "conv.3",  # the last convolution (C3: 16 maps)
    "lenet5_modern": "conv.4",  # the last convolution (32 maps)
    "resnet18": "body.layer4",  # the last residual stage
    "resnet50": "body.layer4",
    "mobilenet_v3_small": "body.features.-1",  # the last feature block
    "efficientnet_b0": "body.features.-1",
}
# Input pixels per map cell where the target layer's map covers only the input's centre
# (LeNet-5's last convolution is unpadded: its 10 x 10 map of a 28 x 28 digit spans the
# central 20 x 20 pixels, 2 per cell). Such a map is upsampled to ``stride x cells`` and
# centred with zeros around it; stretching it over the whole input would shift every
# peak outwards. Maps of padded networks (torchvision's) span the whole input.
VALID_STRIDES = {"lenet5": 2, "lenet5_modern": 2}


def target_layer(model, architecture: str):
    """The module of ``model`` that Grad-CAM reads for ``architecture``.

    Raises:
        InputError: the architecture has no Grad-CAM layer here (not a CNN ClassLab knows)
    """
    check_architecture(architecture)
    module = model
    for part in TARGET_LAYERS[architecture].split("."):
        module = module[int(part)] if part.lstrip("-").isdigit() else getattr(module, part)
    return module


def check_architecture(architecture: str, run_key: str = "") -> str:
    """Checks that Grad-CAM knows the architecture's target layer (a CNN).

    Raises:
        InputError: naming ``run_key`` and the architectures it supports
    """
    if architecture not in TARGET_LAYERS:
        raise InputError(
            f"run_key: model {run_key!r} is a {architecture!r}, not a CNN that Grad-CAM "
            f"supports ({', '.join(TARGET_LAYERS)}). Pick a CNN model."
        )
    return architecture


def heatmap_fields(heatmap_field: str, target: str) -> dict[str, str]:
    """``{"predicted" | "ground_truth": field}`` that ``target`` writes."""
    if target not in defaults.GRADCAM_TARGETS:
        raise InputError(
            f"target must be one of {', '.join(defaults.GRADCAM_TARGETS)}, got {target!r}"
        )
    gt_name = heatmap_field + defaults.GRADCAM_GT_SUFFIX
    fields = {"predicted": heatmap_field, "ground_truth": gt_name}
    return fields if target == "both" else {target: fields[target]}


def check_heatmap_field(dataset, field: str, protected: dict, overwrite: bool) -> str:
    """A field that can receive heatmaps: a valid name, not a built-in nor a field the call
    reads (``protected``: ``{field: what}``); an existing one only with ``overwrite`` and
    only a Heatmap field.

    Raises:
        FieldError / InputError: naming ``heatmap_field`` and what to do
    """
    import fiftyone as fo

    from classlab.validation import builtin_fields, fields_of_type, require_field_name

    require_field_name(field, "heatmap_field")
    if field in builtin_fields(dataset) or field in protected:
        what = protected.get(field, "a built-in field of every sample")
        raise FieldError(
            f"heatmap_field {field!r} is {what}: heatmaps cannot go there. Pick another "
            "heatmap_field."
        )
    if not dataset.has_field(field):
        return field
    if field not in fields_of_type(dataset, fo.Heatmap):
        raise FieldError(
            f"heatmap_field {field!r} exists and is not a Heatmap field: pick another "
            "heatmap_field."
        )
    if not overwrite:
        raise FieldError(
            f"heatmap_field {field!r} already exists: pick another heatmap_field, or pass "
            "overwrite=True to replace its heatmaps."
        )
    return field


def default_pred_field(record: dict) -> str | None:
    """The field where the model last wrote predictions (its record's ``applied_to``)."""
    applied = record.get("applied_to") or []
    return applied[-1] if applied else None


def scale_maps(cams, sizes) -> list[np.ndarray]:
    """Per-sample uint8 maps: resized to ``(width, height)`` when known, scaled to 0..255."""
    import cv2

    out = []
    for cam, (w, h) in zip(cams, sizes):
        if w and h and (w, h) != (cam.shape[1], cam.shape[0]):
            cam = cv2.resize(cam, (int(w), int(h)), interpolation=cv2.INTER_LINEAR)
        peak = float(cam.max())
        scaled = cam / peak * 255.0 if peak > 0 else np.zeros_like(cam)
        out.append(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))
    return out


def upsample(attr, input_size: int, stride: int | None = None):
    """``N x 1 x h x w`` maps -> ``N x S x S`` (bilinear); with ``stride`` (see
    :data:`VALID_STRIDES`) to ``stride * h`` pixels, centred in the input with zeros."""
    import torch.nn.functional as F

    region = input_size if stride is None else min(input_size, stride * attr.shape[-1])
    up = F.interpolate(attr, size=(region, region), mode="bilinear", align_corners=False)
    before = (input_size - region) // 2
    after = input_size - region - before
    return F.pad(up, (before, after, before, after))[:, 0]


def gradcam_batch(model, layer, x, targets: dict[str, object], stride: int | None = None):
    """Grad-CAM maps of one batch (captum's ``LayerGradCam``, ReLU'd).

    Args:
        model: the network (eval mode, on the device of ``x``)
        layer: its target layer (:func:`target_layer`)
        x: ``N x C x S x S`` float input
        targets: ``{name: class index tensor, or None for the predicted class}``
        stride: the target layer's input pixels per cell when its map covers only the
            input's centre (:data:`VALID_STRIDES`), else None

    Returns:
        ``({name: N x S x S float32 array}, predicted class indices)``
    """
    import torch
    from captum.attr import LayerGradCam

    with torch.no_grad():
        predicted = model(x).argmax(dim=1)
    cam = LayerGradCam(model, layer)
    maps = {}
    for name, idx in targets.items():
        attr = cam.attribute(x, target=predicted if idx is None else idx, relu_attributions=True)
        maps[name] = upsample(attr.detach().float(), x.shape[-1], stride).cpu().numpy()
    return maps, predicted.cpu().numpy()


def plan_view(view, record, samples, pred_field, gt_field, target, run_key):
    """The samples to explain, after the checks on ``samples``, ``pred_field`` and
    ``gt_field`` (counts and schema only)."""
    from fiftyone import ViewField as F

    from classlab.lenet.apply import check_gt_classes
    from classlab.validation import require_classification_field

    if samples not in defaults.GRADCAM_SAMPLES:
        raise InputError(
            f"samples must be one of {', '.join(defaults.GRADCAM_SAMPLES)}, got {samples!r}"
        )
    needs_gt = samples == "mistakes" or target != "predicted"
    if needs_gt:
        require_classification_field(view, gt_field, "gt_field")
        view = view.match(F(gt_field).exists())
    if samples == "mistakes":
        if not pred_field:
            raise FieldError(
                f"samples='mistakes' needs the predictions of model {run_key!r}, and it has "
                "written none: apply the model first, pass pred_field, or use samples='all'."
            )
        require_classification_field(view, pred_field, "pred_field")
        if pred_field == gt_field:
            raise InputError("pred_field and gt_field are the same field: pick two fields")
        view = view.match(
            F(pred_field).exists() & (F(f"{pred_field}.label") != F(f"{gt_field}.label"))
        )
    if target != "predicted":
        check_gt_classes(view, gt_field, list(record["classes"]))
    return view
