"""open_clip's image transform as batched torch ops on the model's device.

Loader workers only decode files to uint8 arrays (:func:`decode`); the resize,
center crop and normalisation of a whole batch then run on the model's device
(:meth:`DevicePreprocess.apply`). The result matches open_clip's own PIL
transform (``Resize(size, BICUBIC)``, ``CenterCrop``, ``ToTensor``,
``Normalize``): PIL resizes in two passes (width, then height) and rounds to
uint8 after each, and so does :func:`pil_resize`, with torch's antialiased
bicubic/bilinear kernels (ported from PIL). Grayscale images are resized once,
at one channel, and expanded to three only before normalisation.

A transform this module does not recognise (an aspect-keeping resize to a
non-square size, padding, a custom step) gives ``None`` from
:meth:`DevicePreprocess.from_transform`, and the caller falls back to running
the model's own transform in the workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRAY16_MODES = ("I;16", "I;16B", "I;16L")
RESCALED_MODES = (*GRAY16_MODES, "I", "F")
INTERPOLATIONS = ("bicubic", "bilinear")


def to_gray_or_rgb(img):
    """Converts a PIL image of any mode to 8-bit ``"L"`` (grayscale) or ``"RGB"``.

    16-bit and 32-bit grayscale are rescaled to 0-255 first (PIL's own
    ``convert`` would clip them); bilevel becomes 0/255; palette and
    transparent images are composited on black and become RGB.
    """
    from PIL import Image

    if img.mode in RESCALED_MODES:
        arr = np.asarray(img, dtype=np.float32)
        top = 65535.0 if img.mode in GRAY16_MODES else max(float(arr.max()), 1.0)
        return Image.fromarray(np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8), mode="L")
    if img.mode in ("L", "RGB"):
        return img
    if img.mode == "1":
        return img.convert("L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA"):
        background = Image.new("RGB", img.size)
        background.paste(img.convert("RGBA"), mask=img.convert("RGBA").split()[-1])
        return background
    return img.convert("RGB")


def decode(path: str) -> np.ndarray:
    """The image file at ``path`` as uint8 ``HxW`` (grayscale) or ``HxWx3`` (RGB).

    8-bit grayscale and RGB PNGs (MNIST-like files) are decoded by OpenCV, about
    four times faster than PIL for small images and the same pixels; everything
    else (JPEG, palette, alpha, 16-bit, unreadable files) by PIL, as open_clip does.

    Raises:
        OSError, ValueError, SyntaxError: the file cannot be read as an image
    """
    from PIL import Image

    if path.lower().endswith(".png"):
        with open(path, "rb") as f:
            arr = _decode_simple_png(f.read())
        if arr is not None:
            return arr
    with Image.open(path) as img:
        img.load()
        return np.array(to_gray_or_rgb(img), dtype=np.uint8, order="C")


def _decode_simple_png(data: bytes) -> np.ndarray | None:
    """An 8-bit grayscale or RGB PNG decoded by OpenCV; None for anything else."""
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint8:
        return None
    if arr.ndim == 2:
        return arr
    if arr.ndim == 3 and arr.shape[2] == 3:
        return np.ascontiguousarray(arr[..., ::-1])  # BGR -> RGB
    return None  # alpha (or palette with transparency): PIL composites it as before


def resized_size(height: int, width: int, short: int) -> tuple[int, int]:
    """torchvision's ``Resize(short)`` output size: the shorter side becomes ``short``."""
    if width <= height:
        return int(short * height / width), short
    return short, int(short * width / height)


def pil_resize(x, height: int, width: int, mode: str = "bicubic"):
    """Resizes float ``(N, C, H, W)`` images holding 0-255 values as PIL does uint8 ones.

    Width first, then height, each pass antialiased and rounded to whole
    values in 0-255 (PIL keeps an 8-bit image between and after the passes).
    """
    import torch

    for size in ((x.shape[-2], width), (height, width)):
        if tuple(x.shape[-2:]) != size:
            x = torch.nn.functional.interpolate(
                x, size=size, mode=mode, antialias=True, align_corners=False
            )
            x = torch.floor(x + 0.5).clamp_(0.0, 255.0)
    return x


def center_crop(x, height: int, width: int):
    """torchvision's ``CenterCrop`` offsets (``round`` half to even) on ``(..., H, W)``."""
    top = int(round((x.shape[-2] - height) / 2.0))
    left = int(round((x.shape[-1] - width) / 2.0))
    return x[..., top : top + height, left : left + width]


@dataclass(frozen=True)
class DevicePreprocess:
    """The parameters of an open_clip inference transform, applied on a device.

    Attributes:
        resize: the shorter side's length (an int, aspect kept) or ``(H, W)``
            (squashed), or None for no resize
        crop: ``(H, W)`` of the center crop, or None
        interpolation: ``"bicubic"`` or ``"bilinear"``
        mean, std: per-channel normalisation of 0-1 values
    """

    resize: int | tuple[int, int] | None
    crop: tuple[int, int] | None
    interpolation: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def from_transform(cls, transform) -> DevicePreprocess | None:
        """Reads a torchvision ``Compose`` such as open_clip's; None if a step is unknown."""
        from torchvision import transforms as T

        steps = getattr(transform, "transforms", None)
        if steps is None:
            return None
        found: dict = {"resize": None, "crop": None, "interpolation": "bicubic"}
        for step in steps:
            if not _read_step(step, found, T):
                return None
        norm = found.get("normalize")
        if norm is None or not found.get("to_tensor"):
            return None
        return cls(found["resize"], found["crop"], found["interpolation"], *norm)

    def apply(self, groups, device: str):
        """Preprocesses decoded images on ``device``.

        Args:
            groups: ``[(indices, uint8 tensor (N, H, W) or (N, H, W, 3)), ...]``,
                one entry per image size
            device: where to compute (the model's device)

        Returns:
            ``(indices, float32 tensor (N, 3, H', W'))``, in ascending index order
        """
        import torch

        outs, order = [], []
        for indices, pixels in groups:
            x = pixels.to(device, non_blocking=True)
            x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
            x = self._geometry(x.float())
            outs.append(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x)
            order.extend(indices)
        x = torch.cat(outs) if len(outs) > 1 else outs[0]
        mean = torch.tensor(self.mean, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
        x = x.div(255).sub_(mean).div_(std)  # ToTensor, then Normalize
        rank = sorted(range(len(order)), key=order.__getitem__)
        if rank != list(range(len(order))):
            x = x[torch.as_tensor(rank, device=x.device)]
        return [order[r] for r in rank], x

    def _geometry(self, x):
        """Resize and crop of one same-size group of 0-255 float images."""
        if isinstance(self.resize, int):
            x = pil_resize(x, *resized_size(*x.shape[-2:], self.resize), self.interpolation)
        elif self.resize is not None:
            x = pil_resize(x, *self.resize, self.interpolation)
        if self.crop is not None:
            x = center_crop(x, *self.crop)
        return x


def _read_step(step, found: dict, T) -> bool:
    """Records one transform step into ``found``; False if it cannot run on a device."""
    name = getattr(step, "__name__", type(step).__name__)
    if isinstance(step, (T.Resize, T.CenterCrop)) and found.get("to_tensor"):
        return False  # geometry on float tensors: not PIL's 8-bit resize
    if type(step) is T.Resize:  # not subclasses: open_clip's ResizeKeepRatio differs
        size = step.size if isinstance(step.size, int) else tuple(step.size)
        if isinstance(size, tuple) and len(size) == 1:
            size = size[0]
        mode = getattr(step.interpolation, "value", step.interpolation)
        if step.max_size is not None or mode not in INTERPOLATIONS or found["crop"]:
            return False
        found.update(resize=size, interpolation=mode)
        return True
    if type(step) is T.CenterCrop:
        crop = tuple(step.size) if not isinstance(step.size, int) else (step.size,) * 2
        found["crop"] = crop * 2 if len(crop) == 1 else crop
        return _crop_fits(found)
    if isinstance(step, T.ToTensor):  # open_clip's MaybeToTensor included
        found["to_tensor"] = True
        return True
    if type(step) is T.Normalize and not found.get("normalize"):
        mean, std = tuple(map(float, step.mean)), tuple(map(float, step.std))
        if len(mean) != 3 or len(std) != 3 or not found.get("to_tensor"):
            return False
        found["normalize"] = (mean, std)
        return True
    # RGB conversion: the workers' decode already gives L or RGB (L expands to RGB)
    return name in ("MaybeConvertMode", "_convert_to_rgb") and getattr(step, "mode", "RGB") == "RGB"


def _crop_fits(found: dict) -> bool:
    """A crop after an aspect-keeping resize must fit in it (no padding on the device)."""
    resize, crop = found["resize"], found["crop"]
    if isinstance(resize, int):
        return max(crop) <= resize
    if isinstance(resize, tuple):
        return crop[0] <= resize[0] and crop[1] <= resize[1]
    return False  # a crop of the raw image can be larger than it: leave it to PIL
