"""Images of a FiftyOne view as torch data.

Two paths:

- :class:`ImageFileDataset`: a ``torch.utils.data.Dataset`` over filepaths and
  labels that decodes on every access (for data that does not fit in memory);
- :func:`decode_images`: decodes every file once, in parallel threads, into one
  ``N x C x S x S`` uint8 tensor (60,000 MNIST digits are 47 MB), which
  :func:`view_tensors` moves to the training device, so epochs never re-read files.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from classlab import defaults
from classlab.errors import DataSourceError, InputError
from classlab.progress import ProgressFn, as_progress

logger = logging.getLogger("classlab")


def _read(path: str, channels: int, size: int) -> np.ndarray:
    """One image as a ``C x S x S`` uint8 array (grayscale or RGB, resized)."""
    import cv2

    img = cv2.imread(path, cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR)
    if img is None:
        raise DataSourceError(
            f"Cannot read image {path}: the file is missing, unreadable or not an image. "
            "Fix or remove that sample (or exclude it from the view)."
        )
    if img.shape[0] != size or img.shape[1] != size:
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    if channels == 1:
        return img[None]
    return img[:, :, ::-1].transpose(2, 0, 1)  # BGR -> RGB, HWC -> CHW


def detect_channels(filepaths: Sequence[str], probe: int = 16) -> int:
    """3 if any of the first ``probe`` images has colour, else 1."""
    import cv2

    for path in list(filepaths)[:probe]:
        img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if img is None:
            raise DataSourceError(f"Cannot read image {path}: fix or remove that sample.")
        if img.ndim == 3 and img.shape[2] >= 3:
            b, g, r = img[..., 0], img[..., 1], img[..., 2]
            if not (np.array_equal(b, g) and np.array_equal(g, r)):
                return 3
    return 1


def decode_images(
    filepaths: Sequence[str],
    channels: int = 1,
    size: int = 28,
    workers: int = 8,
    progress: ProgressFn | None = None,
):
    """Decodes image files into one uint8 tensor ``N x channels x size x size``.

    OpenCV releases the GIL while decoding, so threads run in parallel.

    Raises:
        DataSourceError: a file cannot be read (nothing is returned)
    """
    import torch

    report = as_progress(progress)
    n = len(filepaths)
    out = np.empty((n, channels, size, size), dtype=np.uint8)

    def work(chunk: range) -> int:
        for i in chunk:
            out[i] = _read(filepaths[i], channels, size)
        return len(chunk)

    step = 2048
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for k in pool.map(work, [range(s, min(s + step, n)) for s in range(0, n, step)]):
            done += k
            report(done / max(n, 1), f"decoded {done}/{n} images")
    return torch.from_numpy(out)


def class_index(labels: Sequence[str | None], classes: Sequence[str]):
    """Labels -> int64 tensor of indices into ``classes``."""
    import torch

    lookup = {c: i for i, c in enumerate(classes)}
    return torch.tensor([lookup[label] for label in labels], dtype=torch.long)


def view_tensors(
    view,
    label_field: str | None,
    classes: Sequence[str] | None,
    channels: int,
    size: int,
    device: str = "cpu",
    workers: int = 8,
    progress: ProgressFn | None = None,
):
    """A view's images (uint8) and labels (int64, or None) on ``device``.

    Returns:
        ``(ids, x, y)``
    """
    if label_field:
        ids, paths, labels = view.values(["id", "filepath", f"{label_field}.label"])
    else:
        (ids, paths), labels = view.values(["id", "filepath"]), None
    x = decode_images(paths, channels, size, workers, progress).to(device)
    y = class_index(labels, classes).to(device) if labels is not None else None
    return ids, x, y


class ImageFileDataset:
    """A ``torch.utils.data.Dataset`` that reads one image file per item.

    Items are ``(uint8 tensor C x S x S, label index)``. Use it when the data
    does not fit in memory; otherwise :func:`decode_images` is much faster.

    Args:
        filepaths: image paths
        labels: class indices (same length), or None for unlabeled data
        channels: 1 or 3
        size: side of the square output
    """

    def __init__(self, filepaths, labels=None, channels: int = 1, size: int = 28):
        self.filepaths = list(filepaths)
        self.labels = None if labels is None else list(labels)
        self.channels, self.size = channels, size

    def __len__(self) -> int:
        return len(self.filepaths)

    def __getitem__(self, i: int):
        import torch

        x = torch.from_numpy(
            np.ascontiguousarray(_read(self.filepaths[i], self.channels, self.size))
        )
        return x, (-1 if self.labels is None else int(self.labels[i]))

    @classmethod
    def from_view(
        cls, view, label_field: str, classes: Sequence[str], channels: int = 1, size: int = 28
    ) -> ImageFileDataset:
        """The dataset of a FiftyOne view's filepaths and ``label_field`` labels."""
        paths, labels = view.values(["filepath", f"{label_field}.label"])
        lookup = {c: i for i, c in enumerate(classes)}
        return cls(paths, [lookup[label] for label in labels], channels, size)


class SplitLeakageError(InputError):
    """The train split shares samples (or augmented copies of samples) with val/test."""


def leaked_counts(train, holdout_tags, source_field: str = defaults.SOURCE_ID_FIELD):
    """``(shared, copies)``: train samples that also carry a ``holdout_tags`` tag, and
    train samples whose ``source_field`` names a sample tagged with one (augmented
    copies of val/test samples). Aggregations only (a count, a ``distinct`` of the
    train split's source ids, a count of the holdout sources among them)."""
    from fiftyone import ViewField as F

    tags = list(holdout_tags)
    shared = train.match_tags(tags).count()
    dataset = train._dataset
    if not dataset.has_sample_field(source_field):
        return shared, 0
    from bson import ObjectId

    sources = [s for s in train.distinct(source_field) if ObjectId.is_valid(s)]
    if not sources:
        return shared, 0
    leaked = dataset.select(sources).match_tags(tags).values("id")
    copies = train.match(F(source_field).is_in(leaked)).count() if leaked else 0
    return shared, copies


def check_no_leakage(
    train,
    holdout_tags=(defaults.VAL_TAG, defaults.TEST_TAG),
    train_tag: str = defaults.TRAIN_TAG,
    source_field: str = defaults.SOURCE_ID_FIELD,
) -> int:
    """Refuses a train split that shares samples, or augmented copies of samples, with
    the ``holdout_tags`` splits (their accuracy would no longer be honest); every
    trainer calls it before its first write. Returns the train split's count.

    Raises:
        SplitLeakageError: naming both counts and what to do
    """
    shared, copies = leaked_counts(train, holdout_tags, source_field)
    if not (shared or copies):
        return train.count()
    held = " or ".join(repr(t) for t in holdout_tags)
    parts, fixes = [], []
    if shared:
        parts.append(f"{shared} sample(s) tagged both {train_tag!r} and {held}")
        fixes.append(f"remove the {train_tag!r} tag from those samples (or re-split)")
    if copies:
        parts.append(f"{copies} augmented cop(ies) whose {source_field!r} is a {held} sample")
        fixes.append(
            "delete those copies (delete_augmentations) or train without include_augmented"
        )
    raise SplitLeakageError(
        f"train_tag: the train split shares {shared + copies} sample(s) with the {held} "
        f"split(s): {'; '.join(parts)}. Their accuracy would no longer be honest: "
        f"{', and '.join(fixes)}. Nothing was written."
    )
