"""Batched image encoding: workers decode files, the model's device does the rest.

Decoding threads only turn files into uint8 arrays (grayscale stays one
channel); the resize, crop and normalisation run batched on the model's device
(:mod:`classlab.clip.preprocess`), matching open_clip's own PIL transform. A
model whose transform cannot run there falls back to that transform run per
image in DataLoader worker processes (:func:`encode_images_pil`). Grayscale
(8- and 16-bit), palette and RGBA images are handled as open_clip sees them
after an RGB conversion; a file that cannot be read becomes a reported
failure, never a silent zero vector.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from classlab.clip.preprocess import DevicePreprocess, decode, to_gray_or_rgb
from classlab.progress import Progress, as_progress

logger = logging.getLogger("classlab")
READ_ERRORS = (OSError, ValueError, SyntaxError)  # PIL's UnidentifiedImageError is an OSError


def to_rgb(img):
    """Converts a PIL image of any mode to 8-bit RGB.

    16-bit and 32-bit grayscale are rescaled to 0-255 first (PIL's own
    ``convert("RGB")`` would clip them); transparency is composited on black.
    """
    img = to_gray_or_rgb(img)
    return img if img.mode == "RGB" else img.convert("RGB")


class ImageFiles:
    """A map-style dataset of ``(index, pixels | None, error | None)`` per file.

    With a ``transform`` (the PIL path), pixels are its output tensor; without
    one, the uint8 array of :func:`~classlab.clip.preprocess.decode`.
    """

    def __init__(self, filepaths: Sequence[str], transform=None):
        self.filepaths = list(filepaths)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.filepaths)

    def __getitem__(self, i: int):
        from PIL import Image

        path = self.filepaths[i]
        try:
            if self.transform is None:
                return i, decode(path), None
            with Image.open(path) as img:
                img.load()
                rgb = to_rgb(img)
            return i, self.transform(rgb), None
        except READ_ERRORS as e:
            return i, None, f"{type(e).__name__}: {e}"


def _collate(items):
    """PIL path: ``((indices, float tensor) | None, failures)``."""
    import torch

    ok = [(i, t) for i, t, err in items if err is None]
    failed = [(i, err) for i, t, err in items if err is not None]
    batch = ([i for i, _ in ok], torch.stack([t for _, t in ok])) if ok else None
    return batch, failed


def _collate_arrays(items):
    """Device path: ``([(indices, uint8 tensor), ...] one per image shape, failures)``."""
    import torch

    by_shape: dict[tuple, list] = {}
    for i, arr, err in items:
        if err is None:
            by_shape.setdefault(arr.shape, []).append((i, arr))
    groups = [
        ([i for i, _ in group], torch.from_numpy(np.stack([a for _, a in group])))
        for group in by_shape.values()
    ]
    failed = [(i, err) for i, _, err in items if err is not None]
    return groups, failed


def _worker_init(_):
    import torch

    torch.set_num_threads(1)  # decoding workers must not compete with the model's threads


@dataclass
class EncodeResult:
    """Normalised image features for the files that could be read."""

    indices: list[int]
    features: np.ndarray  # (len(indices), D) float32, L2-normalised rows
    failures: dict[int, str] = field(default_factory=dict)


def make_loader(filepaths, transform, batch_size: int, num_workers: int, pin_memory: bool):
    """A DataLoader of worker processes; ClassLab uses it for the PIL path only.

    With ``transform=None`` its batches are those of :func:`decoded_batches`.
    """
    import torch

    return torch.utils.data.DataLoader(
        ImageFiles(filepaths, transform),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=_collate_arrays if transform is None else _collate,
        pin_memory=pin_memory,
        worker_init_fn=_worker_init if num_workers > 0 else None,
        prefetch_factor=4 if num_workers > 0 else None,
    )


def decoded_batches(filepaths, batch_size: int, num_workers: int, pin_memory: bool = False):
    """Yields ``(groups, failures)`` per batch (see :func:`_collate_arrays`), in order.

    ``num_workers`` threads decode whole batches, up to ``4 * num_workers``
    batches ahead of the consumer (0: in the caller). Threads, not processes:
    OpenCV and PIL decode with the GIL released, and threads cost no fork, no
    pickling and no shared-memory segment per batch; with the tests' tiny model
    on 2 cores they encode about twice as fast as DataLoader processes.
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    files = ImageFiles(filepaths)
    spans = (range(s, min(s + batch_size, len(files))) for s in range(0, len(files), batch_size))
    if num_workers == 0:
        yield from (_decode_batch(files, span, pin_memory) for span in spans)
        return
    with ThreadPoolExecutor(num_workers, thread_name_prefix="classlab-decode") as pool:
        pending = deque()
        try:
            for span in spans:
                pending.append(pool.submit(_decode_batch, files, span, pin_memory))
                if len(pending) > 4 * num_workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # the consumer stopped early (an error): drop what is not started
            for future in pending:
                future.cancel()


def _decode_batch(files: ImageFiles, span: range, pin_memory: bool):
    groups, failed = _collate_arrays([files[i] for i in span])
    if pin_memory:
        groups = [(idx, pixels.pin_memory()) for idx, pixels in groups]
    return groups, failed


def encode_images(
    loaded,
    filepaths: Sequence[str],
    batch_size: int = 64,
    num_workers: int = 2,
    progress: Progress | None = None,
) -> EncodeResult:
    """Encodes image files with ``loaded`` (a :class:`~classlab.clip.models.LoadedClip`).

    ``num_workers`` threads decode (:func:`decoded_batches`); the model's
    transform runs batched on its device. A transform that
    :class:`DevicePreprocess` does not recognise runs per image in
    ``num_workers`` DataLoader processes instead (:func:`encode_images_pil`).

    Returns:
        the indices (into ``filepaths``) that were encoded, their L2-normalised
        features, and ``{index: error}`` for files that could not be read
    """
    prep = DevicePreprocess.from_transform(loaded.preprocess)
    if prep is None:
        logger.info("CLIP transform not run on the device: %s", loaded.preprocess)
    return _encode(loaded, filepaths, batch_size, num_workers, progress, prep)


def encode_images_pil(
    loaded,
    filepaths: Sequence[str],
    batch_size: int = 64,
    num_workers: int = 2,
    progress: Progress | None = None,
) -> EncodeResult:
    """:func:`encode_images` with open_clip's PIL transform run per image in DataLoader
    worker processes (the pipeline before device preprocessing; kept as the fallback
    and for the benchmark's comparison)."""
    return _encode(loaded, filepaths, batch_size, num_workers, progress, None)


def _encode(loaded, filepaths, batch_size, num_workers, progress, prep) -> EncodeResult:
    import torch

    report = as_progress(progress)
    n = len(filepaths)
    num_workers = max(0, min(int(num_workers), os.cpu_count() or 1, n))
    cuda = loaded.device.startswith("cuda")
    if prep is not None:
        batches = decoded_batches(filepaths, batch_size, num_workers, cuda)
    else:
        batches = make_loader(filepaths, loaded.preprocess, batch_size, num_workers, cuda)
    chunks, indices, failures, done = [], [], {}, 0
    with torch.no_grad():
        for payload, failed in batches:
            failures.update(failed)
            idx, batch = _model_input(payload, prep, loaded.device)
            if idx:
                with loaded.autocast():
                    feats = loaded.model.encode_image(batch)
                feats = torch.nn.functional.normalize(feats.float(), dim=-1)
                chunks.append(feats.cpu().numpy())
                indices.extend(idx)
            done += len(idx) + len(failed)
            report(done / n, f"embedded {done}/{n} images")
    dim = chunks[0].shape[1] if chunks else 0
    features = np.concatenate(chunks) if chunks else np.zeros((0, dim), np.float32)
    for i, err in failures.items():
        logger.warning("Could not read image %s: %s", filepaths[i], err)
    return EncodeResult(indices, features.astype(np.float32, copy=False), failures)


def _model_input(payload, prep: DevicePreprocess | None, device: str):
    """``(indices, float32 model input on device)`` of one collated batch (``([], None)``)."""
    if prep is not None:
        return prep.apply(payload, device) if payload else ([], None)
    if payload is None:
        return [], None
    idx, batch = payload
    return idx, batch.to(device, non_blocking=True)
