"""``LoaderOptions``: how the CLIP functions read and encode images (not which model)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from numbers import Integral

from classlab import config, defaults
from classlab.clip.models import ClipSpec
from classlab.errors import InputError

ON_ERROR = ("skip", "raise")


def _whole(name: str, value, low: int, high: int, bound: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise InputError(f"{name} must be a whole number of {low} or more, got {value!r}")
    if value > high:
        raise InputError(
            f"{name} must be at most {high}, got {value!r}: use a smaller {name}{bound}"
        )
    return int(value)


@dataclass(frozen=True)
class LoaderOptions:
    """Batching, decoding workers, device and what to do with unreadable images.

    Validated on construction (cheap: no torch import), so an instance is
    always usable; whether a CUDA device exists is checked when the model loads,
    still before anything is written.

    Attributes:
        batch_size: images per forward pass (1 or more)
        num_workers: threads that decode images (DataLoader processes for a model
            transform that cannot run on its device; 0: in the caller)
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``
        on_error: ``"skip"`` unreadable images (reported in the result) or
            ``"raise"`` (a DataSourceError naming them, before any write)
        max_batch_size: the bound on ``batch_size``; raise it deliberately

    Raises:
        InputError: a value out of range, naming the parameter
    """

    batch_size: int = 64
    num_workers: int = 2
    device: str = "auto"
    on_error: str = "skip"
    max_batch_size: int = defaults.CLIP_MAX_BATCH_SIZE

    def __post_init__(self):
        _whole("max_batch_size", self.max_batch_size, 1, 2**31)
        raise_it = " (or raise max_batch_size deliberately)"
        _whole("batch_size", self.batch_size, 1, self.max_batch_size, raise_it)
        _whole("num_workers", self.num_workers, 0, defaults.CLIP_MAX_WORKERS)
        device = self.device.strip().lower() if isinstance(self.device, str) else ""
        if device not in config.DEVICES and not re.fullmatch(r"cuda:\d+", device):
            raise InputError(
                f"device must be one of {', '.join(map(repr, config.DEVICES))} or 'cuda:N', "
                f"got {self.device!r}"
            )
        if self.on_error not in ON_ERROR:
            raise InputError(f"on_error must be 'skip' or 'raise', got {self.on_error!r}")


def check_run(
    spec: ClipSpec | None = None, options: LoaderOptions | None = None
) -> tuple[ClipSpec, LoaderOptions]:
    """The validated ``(ClipSpec, LoaderOptions)`` of one CLIP call (defaults for None).

    Checks the model choice (:meth:`ClipSpec.checked`, no download), that
    ``options.device`` exists here and that the precision can run on it.

    Raises:
        InputError: not a ClipSpec / LoaderOptions, or a bad model choice
        DeviceError: a CUDA device asked for that this machine lacks
    """
    spec = ClipSpec() if spec is None else spec
    options = LoaderOptions() if options is None else options
    if not isinstance(spec, ClipSpec):
        raise InputError(
            "spec must be a ClipSpec (e.g. "
            f"ClipSpec({defaults.CLIP_MODEL!r}, {defaults.CLIP_PRETRAINED!r})), "
            f"got {type(spec).__name__} {spec!r}"
        )
    if not isinstance(options, LoaderOptions):
        raise InputError(
            f"options must be a LoaderOptions (e.g. LoaderOptions(batch_size=32)), "
            f"got {type(options).__name__} {options!r}"
        )
    device = config.resolve_device(options.device)
    spec = spec.checked()
    if spec.precision == "fp16" and not device.startswith("cuda"):
        raise InputError(
            f"precision='fp16' needs a CUDA GPU and device is {options.device!r} ({device}): "
            "use precision 'fp32' or 'bf16' on a CPU"
        )
    return spec, options
