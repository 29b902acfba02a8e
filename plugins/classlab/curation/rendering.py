"""Images of an augmentation: read, augment, write, and the preview a form shows.

:mod:`classlab.curation.augment` writes a run with these helpers; the
``augment_samples`` form's preview uses :func:`preview_augmentations`, which
commits nothing and shows each original beside its copies, enlarged (nearest
neighbour, so pixels stay pixels) and labelled.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any, Optional, Union

from classlab import config, defaults
from classlab.chunks import sorted_by_id
from classlab.curation.augment_checks import check_copies
from classlab.curation.presets import build_pipeline
from classlab.errors import DataSourceError
from classlab.progress import as_progress
from classlab.validation import require_nonempty

# the preview's images are enlarged to this size (px, longest side) when smaller
PREVIEW_SIZE = 112


def read_image(path: str):
    import cv2

    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DataSourceError(f"Cannot read the image {path} (corrupt or not an image).")
    return image


def augment_all(
    pipeline, paths: list, num_copies: int, write, progress, start: int = 0, total: int = 0
) -> None:
    """Runs the pipeline over every source in order: ``write(i, k, image)`` (``i`` the
    index in ``paths``). ``paths`` may be one chunk of ``total`` sources beginning at
    ``start`` (for the progress); the pipeline's random state runs on from chunk to
    chunk, so the images do not depend on the chunk size."""
    total = total or len(paths)
    for i, path in enumerate(paths):
        image = read_image(path)
        for k in range(num_copies):
            write(i, k, pipeline(image=image)["image"])
        done = start + i + 1
        progress(done / total, f"augmented {done}/{total}")


def write_png(path: Path, image) -> None:
    import cv2

    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 3]):
        raise DataSourceError(f"Could not write {path}")


def data_uri(image, size: Optional[int] = None) -> str:
    """A PNG data URI of ``image``, enlarged (nearest neighbour) so that its longest
    side is ``size`` when it is smaller (never shrunk)."""
    import cv2

    h, w = image.shape[:2]
    if size and max(h, w) < size:
        scale = size / max(h, w)
        dim = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = cv2.resize(image, dim, interpolation=cv2.INTER_NEAREST)
    _, buf = cv2.imencode(".png", image)
    return "data:image/png;base64," + base64.b64encode(buf).decode()


def _preview_sources(view, max_samples: int, label_field: str):
    # sample-id order: the order in which augment_samples reads its sources (chunks)
    head = sorted_by_id(view).limit(max(1, int(max_samples)))
    require_nonempty(head, "source view")
    label = f"{label_field}.label"
    fields = ["id", "filepath"] + ([label] if view.has_field(label_field) else [])
    values = head.values(fields)
    ids, paths = values[0], values[1]
    labels = values[2] if len(values) > 2 else [None] * len(ids)
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise DataSourceError(f"{len(missing)} source image(s) are missing: {missing[0]} ...")
    return ids, paths, labels


def preview_augmentations(
    view,
    preset: Optional[str] = defaults.AUGMENT_PRESET,
    pipeline_json: Union[str, dict, None] = None,
    num_copies: int = defaults.AUGMENT_COPIES,
    seed: int = defaults.AUGMENT_SEED,
    max_samples: int = 4,
    write: bool = False,
    max_copies: int = defaults.AUGMENT_MAX_COPIES,
    label_field: str = defaults.GROUND_TRUTH,
    size: int = PREVIEW_SIZE,
) -> list[dict[str, Any]]:
    """Augments the first ``max_samples`` samples of the view without committing anything.

    The samples are the view's first in sample-id order (the order in which
    :func:`~classlab.curation.augment.augment_samples` reads its sources), so with
    the same seed the images are the first images it would write for that view.
    With ``write=True`` they are also saved as PNGs in
    ``media_dir(dataset, "augmentations", ".preview")`` (replaced on each call).

    Returns:
        one dict per source: ``{"source_id", "filepath", "label", "original_uri",
        "images": [arrays], "paths": [str], "data_uris": [str]}``; the data URIs
        (original and copies) are enlarged to ``size`` px for display
    """
    num_copies = check_copies(num_copies, max_copies)
    pipeline = build_pipeline(preset, pipeline_json, seed)
    ids, paths, labels = _preview_sources(view, max_samples, label_field)
    out = [
        {
            "source_id": i,
            "filepath": p,
            "label": lab,
            "original_uri": data_uri(read_image(p), size),
            "images": [],
            "paths": [],
            "data_uris": [],
        }
        for i, p, lab in zip(ids, paths, labels)
    ]
    folder = config.media_dir(view._dataset.name, "augmentations", ".preview")
    if write:
        config.remove_tree(folder)
        folder.mkdir(parents=True)

    def keep(i, k, image):
        entry = out[i]
        entry["images"].append(image)
        entry["data_uris"].append(data_uri(image, size))
        if write:
            path = folder / f"{ids[i]}_{k}.png"
            write_png(path, image)
            entry["paths"].append(str(path))

    augment_all(pipeline, paths, num_copies, keep, as_progress(None))
    return out
