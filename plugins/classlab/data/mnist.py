"""MNIST from the four standard IDX files into a persistent FiftyOne dataset.

Labels are exactly those of FiftyOne's zoo MNIST ("0 - zero" ... "9 - nine"),
images are written once as lossless PNGs under ClassLab's media root, and the
samples are added in bulk.

Every argument is checked before the first PNG is written. Each load writes into a
fresh folder ``media/<dataset>/mnist-<load id>/``: a failure removes exactly that
folder, and an overwrite removes the replaced dataset's images only when no dataset
(e.g. a clone) still shows them.
"""

from __future__ import annotations

import gzip
import logging
import struct
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import numpy as np

from classlab import config, defaults
from classlab.errors import DatasetExistsError, DataSourceError, InputError
from classlab.progress import ProgressFn, as_progress
from classlab.validation import require_field_name

logger = logging.getLogger("classlab")

SPLITS = {"train": "train", "test": "t10k"}
_IDX_DTYPES = {0x08: np.uint8}


def read_idx(path: str | Path) -> np.ndarray:
    """Reads an IDX file (optionally gzip-compressed) into a uint8 array.

    Raises:
        DataSourceError: the file is missing, truncated or not IDX
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise DataSourceError(f"IDX file {path} does not exist") from None
    except (OSError, EOFError) as e:
        raise DataSourceError(
            f"{path} is corrupt or truncated ({e}). Replace it with a fresh copy of the file."
        ) from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DataSourceError(f"{path} is not an IDX file of unsigned bytes (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataSourceError(f"{path} is truncated: its IDX header is incomplete")
    dims = struct.unpack(">" + "I" * ndim, data[4:header])
    expected = int(np.prod(dims))
    if len(data) - header != expected:
        raise DataSourceError(
            f"{path} is truncated or corrupt: its header promises {expected} bytes of data "
            f"for shape {tuple(dims)}, the file has {len(data) - header}. "
            "Replace it with a fresh copy."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _candidates(directory: Path, prefix: str, kind: str) -> list[Path]:
    names = [f"{prefix}-{kind}", f"{prefix}-{kind.replace('-idx', '.idx')}"]
    dirs = [directory, directory / "raw", directory / "MNIST" / "raw"]
    return [d / (n + ext) for d in dirs for n in names for ext in (".gz", "")]


def find_mnist_files(directory: str | Path) -> dict[str, tuple[Path, Path]]:
    """Finds the four IDX files in ``directory`` (also ``raw/`` and ``MNIST/raw/``).

    Returns:
        ``{"train": (images, labels), "test": (images, labels)}``

    Raises:
        DataSourceError: a file is missing
    """
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise DataSourceError(
            f"source_dir {str(directory)!r} does not exist or is not a directory. Pass the "
            "directory that holds train-images-idx3-ubyte.gz and the three other MNIST IDX "
            "files, or leave source_dir empty to download them."
        )
    found, missing = {}, []
    for split, prefix in SPLITS.items():
        pair = []
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            hit = next((p for p in _candidates(directory, prefix, kind) if p.is_file()), None)
            if hit is None:
                missing.append(f"{prefix}-{kind}[.gz]")
            pair.append(hit)
        found[split] = tuple(pair)
    if missing:
        raise DataSourceError(
            f"{directory} lacks the MNIST IDX file(s) {', '.join(missing)}. Point source_dir "
            "at the directory with all four standard files (optionally .gz)."
        )
    return found


def download_mnist(directory: str | Path) -> Path:
    """Downloads the IDX files with torchvision into ``directory/MNIST/raw``."""
    directory = Path(directory).expanduser()
    try:
        from torchvision.datasets import MNIST
    except ImportError as e:  # pragma: no cover - torchvision is a dependency
        raise DataSourceError(f"torchvision is needed to download MNIST: {e}") from e
    try:
        for train in (True, False):
            MNIST(root=str(directory), train=train, download=True)
    except Exception as e:
        raise DataSourceError(
            f"Could not download MNIST into {directory} ({e}). Download the four IDX files "
            "by other means and pass their directory as source_dir."
        ) from e
    return directory / "MNIST" / "raw"


def read_mnist(source_dir: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Reads and checks both splits: ``{split: (images N x 28 x 28, labels N)}``."""
    out = {}
    for split, (img_path, lbl_path) in find_mnist_files(source_dir).items():
        images, labels = read_idx(img_path), read_idx(lbl_path)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataSourceError(
                f"{img_path.name} ({images.shape}) and {lbl_path.name} ({labels.shape}) "
                "do not form an MNIST split: expected N x 28 x 28 images and N labels"
            )
        if labels.size and labels.max() > 9:
            raise DataSourceError(f"{lbl_path} has labels above 9: not MNIST")
        out[split] = (images, labels)
    return out


def _write_pngs(images: np.ndarray, paths: list[Path], progress, workers: int = 4) -> None:
    import cv2

    def write(i: int) -> None:
        if not cv2.imwrite(str(paths[i]), images[i]):
            raise OSError(f"could not write {paths[i]}")

    done = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(write, range(len(paths)), chunksize=256):
            done += 1
            if done % 1000 == 0:
                progress(done / len(paths), f"wrote {done}/{len(paths)} images")


def check_dataset_name(dataset_name: str, overwrite: bool = False) -> str:
    """Checks that ``dataset_name`` can be created (or replaced, with ``overwrite``).

    Raises:
        InputError: the name is empty
        DatasetExistsError: a dataset of that name exists and ``overwrite`` is False
    """
    import fiftyone as fo
    import fiftyone.core.utils as fou
    from fiftyone.core.odm import get_db_conn

    if not isinstance(dataset_name, str) or not dataset_name.strip():
        raise InputError("dataset_name must be a non-empty string: name the new dataset")
    try:
        slug = fou.to_slug(dataset_name)
    except ValueError:
        raise InputError(
            f"dataset_name {dataset_name!r} cannot name a FiftyOne dataset: use at least one "
            "letter or digit (A-Z, a-z, 0-9), e.g. 'mnist'"
        ) from None
    if fo.dataset_exists(dataset_name):
        if not overwrite:
            raise DatasetExistsError(
                f"A dataset named {dataset_name!r} already exists. Pick another dataset_name, "
                "or pass overwrite=True to replace it."
            )
        return dataset_name
    clash = get_db_conn().datasets.find_one({"slug": slug}, {"name": 1})
    if clash is not None:
        raise DatasetExistsError(
            f"dataset_name {dataset_name!r} is too close to the existing dataset "
            f"{clash['name']!r} (both become {slug!r} in URLs): pick another dataset_name"
        )
    return dataset_name


def check_limit(limit_per_split) -> Optional[int]:
    """``limit_per_split`` is None (all samples) or a positive integer.

    Raises:
        InputError: zero, negative or not a number
    """
    if limit_per_split is None:
        return None
    try:
        limit = int(limit_per_split)
        ok = not isinstance(limit_per_split, bool) and limit > 0
        ok = ok and float(limit_per_split) == limit
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise InputError(
            f"limit_per_split must be a positive integer, got {limit_per_split!r}: "
            "leave it empty to load every sample"
        )
    return limit


def check_split_tags(split_tags: Optional[dict]) -> dict[str, str]:
    """The tag of each MNIST split: ``split_tags`` maps ``train``/``test`` to non-empty tags.

    Raises:
        InputError: an unknown split or an empty tag
    """
    given = dict(split_tags or {})
    unknown = sorted(map(str, set(given) - set(SPLITS)))
    if unknown:
        raise InputError(f"split_tags has unknown split(s) {unknown}: use {sorted(SPLITS)}")
    tags = {"train": defaults.TRAIN_TAG, "test": defaults.TEST_TAG, **given}
    for split, tag in tags.items():
        if not isinstance(tag, str) or not tag.strip():
            raise InputError(f"split_tags[{split!r}] must be a non-empty tag, got {tag!r}")
    return tags


def check_load_args(
    dataset_name: str,
    overwrite: bool = False,
    limit_per_split=None,
    label_field: str = defaults.GROUND_TRUTH,
    source_dir: Optional[str | Path] = None,
    split_tags: Optional[dict] = None,
) -> None:
    """Every check :func:`load_mnist` makes before it reads or writes anything.

    ``source_dir`` None is not checked (the files will be looked for, or downloaded).
    """
    check_limit(limit_per_split)
    check_dataset_name(dataset_name, overwrite)
    require_field_name(label_field, "label_field")
    if label_field in ("id", "filepath", "tags", "metadata", "created_at", "last_modified_at"):
        raise InputError(
            f"label_field {label_field!r} is a built-in field of every sample: pick another "
            "label_field, e.g. 'ground_truth'"
        )
    check_split_tags(split_tags)
    if source_dir is not None:
        find_mnist_files(source_dir)


def _source(source_dir: Optional[str | Path], download: bool) -> Path:
    """``source_dir``, or ``<root>/downloads/mnist`` (downloading there when needed)."""
    if source_dir is not None:
        return Path(source_dir).expanduser()
    source_dir = config.root_dir() / "downloads" / "mnist"
    try:
        find_mnist_files(source_dir)
    except DataSourceError:
        if not download:
            raise
        logger.info("MNIST not found locally; downloading into %s", source_dir)
        source_dir = download_mnist(source_dir)
    return Path(source_dir)


def _mnist_samples(splits, media: Path, tags, label_field, limit, report) -> list:
    """Writes each split's PNGs under ``media`` and returns their ``fo.Sample``s."""
    import fiftyone as fo

    samples = []
    total = sum(min(len(lbl), limit or len(lbl)) for _, lbl in splits.values())
    written = 0
    for split, (images, labels) in splits.items():
        n = min(len(labels), limit or len(labels))
        split_dir = media / split
        split_dir.mkdir(parents=True, exist_ok=True)
        paths = [split_dir / f"{i:05d}.png" for i in range(n)]
        _write_pngs(
            images[:n], paths, report.stage(0.8 * written / total, 0.8 * (written + n) / total)
        )
        written += n
        h, w = images.shape[1:]
        meta = dict(width=w, height=h, num_channels=1)
        samples += [
            fo.Sample(
                filepath=str(paths[i]),
                tags=[tags[split]],
                metadata=fo.ImageMetadata(**meta),
                **{label_field: fo.Classification(label=defaults.MNIST_CLASSES[labels[i]])},
            )
            for i in range(n)
        ]
    return samples


def _save_dataset(samples: list, dataset_name: str, info: dict):
    """Adds ``samples`` to a new persistent dataset named ``dataset_name``.

    Built under a temporary name and renamed once complete, so a failure leaves
    any existing dataset of that name untouched (it is replaced only at the end).
    """
    import fiftyone as fo

    dataset = fo.Dataset(f"{dataset_name}-loading-{uuid.uuid4().hex[:8]}")
    try:
        dataset.add_samples(samples, progress=False)
        dataset.default_classes = list(defaults.MNIST_CLASSES)
        dataset.info["classlab"] = info
        dataset.save()
        if fo.dataset_exists(dataset_name):
            fo.delete_dataset(dataset_name)
        dataset.name = dataset_name
        dataset.persistent = True
    except BaseException:
        dataset.delete()
        raise
    return dataset


def _media_folders(dataset_name: str) -> list[Path]:
    """The MNIST image folders of earlier loads into ``dataset_name``."""
    base = config.media_dir(dataset_name)
    return sorted(p for p in base.glob("mnist*") if p.is_dir()) if base.is_dir() else []


def _remove_if_unused(folder: Path) -> bool:
    """Deletes ``folder`` (inside the root) unless a sample of any dataset points into it."""
    import re

    from fiftyone.core.odm import get_db_conn

    conn = get_db_conn()
    prefix = {"filepath": {"$regex": "^" + re.escape(str(folder.resolve()) + "/")}}
    for doc in conn.datasets.find({}, {"sample_collection_name": 1}):
        name = doc.get("sample_collection_name")
        if name and conn[name].count_documents(prefix, limit=1):
            return False
    return config.remove_tree(folder)


def load_mnist(
    source_dir: Optional[str | Path] = None,
    dataset_name: str = defaults.MNIST_DATASET_NAME,
    overwrite: bool = False,
    limit_per_split: Optional[int] = None,
    label_field: str = defaults.GROUND_TRUTH,
    split_tags: Optional[dict[str, str]] = None,
    download: bool = True,
    progress: Optional[ProgressFn] = None,
):
    """Builds a persistent FiftyOne dataset from the MNIST IDX files.

    Args:
        source_dir: directory with the four IDX files (``.gz`` or not). If None, the
            files are looked for in ``<root>/downloads/mnist`` and downloaded there
            with torchvision when absent (and ``download`` is True).
        dataset_name: the name of the dataset to create
        overwrite: replace an existing dataset of that name (only once the new one
            is complete: a failure leaves the old one untouched)
        limit_per_split: keep only the first N samples of each split
        label_field: the Classification field to write
        split_tags: tag per split, default ``{"train": "train", "test": "test"}``
        download: allow downloading when ``source_dir`` is None and no files are there
        progress: ``fn(fraction, label)``

    Returns:
        the new ``fo.Dataset``
    """
    report = as_progress(progress)
    check_load_args(dataset_name, overwrite, limit_per_split, label_field, source_dir, split_tags)
    tags = check_split_tags(split_tags)
    limit = check_limit(limit_per_split)
    source_dir = _source(source_dir, download)

    report(0.0, "reading IDX files", force=True)
    splits = read_mnist(source_dir)  # validates everything before any write
    info = {"source": "mnist", "source_dir": str(source_dir.resolve()), "limit_per_split": limit}
    old_folders = _media_folders(dataset_name)
    # a fresh folder per load: a failure removes only what this load wrote, and an
    # overwrite never rewrites images that the old dataset (or a clone of it) shows
    media = config.media_dir(dataset_name, f"mnist-{uuid.uuid4().hex[:12]}")
    try:
        samples = _mnist_samples(splits, media, tags, label_field, limit, report)
        report(0.8, f"adding {len(samples)} samples", force=True)
        dataset = _save_dataset(samples, dataset_name, info)
    except BaseException:
        config.remove_tree(media)
        raise
    for folder in old_folders:  # the replaced dataset's images, unless still shown
        _remove_if_unused(folder)
    report(1.0, f"loaded {len(dataset)} samples into {dataset_name!r}", force=True)
    logger.info("Loaded %d MNIST samples into dataset %r", len(dataset), dataset_name)
    return dataset
