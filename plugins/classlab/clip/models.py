"""Loading open_clip models: pretrained tags, local checkpoints, ``hf-hub:`` names.

Nothing is cached in module globals: callers keep a :class:`ModelCache` for the
life of one run (an operator execution, a script) and pass it around.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from classlab import config, defaults
from classlab.clip.weights import checkpoint_problem, is_checkpoint_path
from classlab.errors import DataSourceError, InputError, MissingDependencyError

logger = logging.getLogger("classlab")

HF_HUB_PREFIX = "hf-hub:"
PRECISIONS = ("fp32", "fp16", "bf16")
RANDOM_WEIGHTS_SEED = 0  # random-weight models are seeded, so two loads are the same model


def _open_clip():
    try:
        import open_clip
    except ImportError as e:  # pragma: no cover - the pinned stack has it
        raise MissingDependencyError(
            "open_clip is not installed: pip install open_clip_torch==3.3.0"
        ) from e
    return open_clip


@dataclass(frozen=True)
class ClipSpec:
    """Which CLIP model: architecture, weights and numeric precision.

    Construction does not validate (a spec read back from a run record must be
    describable); :meth:`checked` (or :func:`check_spec`) validates and
    normalises one without loading anything.

    Attributes:
        model_name: an open_clip architecture (``open_clip.list_models()``) or
            ``"hf-hub:org/repo"``
        pretrained: a tag of ``open_clip.list_pretrained()``, the path of a local
            checkpoint file, or None for random weights (hf-hub names: None)
        random_weights: True when the model has untrained (seeded random) weights
        precision: ``"fp32"``, ``"fp16"`` or ``"bf16"`` (autocast; fp16 needs CUDA)
    """

    model_name: str = defaults.CLIP_MODEL
    pretrained: str | None = defaults.CLIP_PRETRAINED
    random_weights: bool = False
    precision: str = "fp32"

    def checked(self) -> ClipSpec:
        """This spec validated and normalised (see :func:`check_spec`)."""
        return check_spec(self.model_name, self.pretrained, self.random_weights, self.precision)

    def to_record(self) -> dict[str, Any]:
        """The keys a ``clip`` run record stores about the model."""
        return asdict(self)

    def same_weights(self, record: dict | None) -> bool:
        """Whether ``record`` (a ``clip`` run record) was made by these weights."""
        if not record:
            return False
        return (
            record.get("model_name") == self.model_name
            and (record.get("pretrained") or None) == (self.pretrained or None)
            and bool(record.get("random_weights")) == self.random_weights
        )

    def describe(self) -> str:
        weights = "random weights" if self.random_weights else (self.pretrained or "hub weights")
        return f"{self.model_name} ({weights}, {self.precision})"


def check_model_name(model_name: str, random_weights: bool = False) -> str:
    """Validates the architecture name (stripped); returns it.

    Raises:
        InputError: empty, unknown to open_clip, ``hf-hub:`` without a repository,
            or an ``hf-hub:`` name with ``random_weights``
    """
    open_clip = _open_clip()
    model_name = (model_name or "").strip()
    if not model_name:
        raise InputError(
            f"model_name is empty: use e.g. {defaults.CLIP_MODEL!r} or 'hf-hub:org/repo'"
        )
    if model_name.startswith(HF_HUB_PREFIX):
        if random_weights:
            raise InputError(
                f"model_name {model_name!r} loads its weights from the Hugging Face Hub; "
                f"random_weights needs a built-in architecture name such as {defaults.CLIP_MODEL!r}"
            )
        if len(model_name) == len(HF_HUB_PREFIX):
            raise InputError("model_name 'hf-hub:' needs a repository: 'hf-hub:org/repo'")
        return model_name
    if model_name not in open_clip.list_models():
        close = difflib.get_close_matches(model_name, open_clip.list_models(), n=5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise InputError(
            f"model_name {model_name!r} is not a known CLIP model: use an architecture of "
            f"open_clip.list_models() (e.g. {defaults.CLIP_MODEL!r}) or 'hf-hub:org/repo'.{hint}"
        )
    return model_name


def check_spec(
    model_name: str = defaults.CLIP_MODEL,
    pretrained: str | None = defaults.CLIP_PRETRAINED,
    random_weights: bool = False,
    precision: str = "fp32",
) -> ClipSpec:
    """Validates a model choice without loading anything; returns the normalised spec.

    ``random_weights=True`` is the explicit opt-in for an untrained model; it
    ignores ``pretrained``. An empty ``pretrained`` without it is an error. A
    local checkpoint (see :func:`classlab.clip.weights.is_checkpoint_path`) is
    stored as an absolute path.

    Raises:
        InputError: unknown architecture, unknown tag, missing checkpoint file,
            unknown precision, or random weights not asked for explicitly
    """
    if precision not in PRECISIONS:
        raise InputError(
            f"precision {precision!r} is not supported: use one of {', '.join(PRECISIONS)} "
            "(fp16 needs a GPU)"
        )
    model_name = check_model_name(model_name, random_weights)
    pretrained = (str(pretrained).strip() if pretrained is not None else "") or None
    if model_name.startswith(HF_HUB_PREFIX):
        return ClipSpec(model_name, None, False, precision)
    if random_weights:
        if pretrained:
            logger.info("random_weights=True: ignoring pretrained=%r", pretrained)
        return ClipSpec(model_name, None, True, precision)
    open_clip = _open_clip()
    tags = open_clip.list_pretrained_tags_by_model(model_name)
    if pretrained is None:
        raise InputError(
            f"No weights given for {model_name}: pass a pretrained tag "
            f"({', '.join(tags[:5]) or 'none'}, ...), a local checkpoint path, or "
            "random_weights=True for an untrained model"
        )
    if is_checkpoint_path(pretrained):
        problem = checkpoint_problem(pretrained)
        if problem:
            raise InputError(problem)
        return ClipSpec(model_name, str(Path(pretrained).expanduser().resolve()), False, precision)
    if pretrained in tags:
        return ClipSpec(model_name, pretrained, False, precision)
    raise InputError(
        f"Unknown pretrained tag {pretrained!r} for {model_name}: use one of "
        f"{', '.join(tags) or '(none: this architecture has no published weights)'}, "
        "or the path of a local checkpoint file"
    )


@dataclass
class LoadedClip:
    """A loaded model with its image transform, tokenizer and device."""

    spec: ClipSpec
    model: Any
    preprocess: Any
    tokenizer: Any
    device: str

    @property
    def embed_dim(self) -> int:
        import torch

        with torch.no_grad():
            return int(self.model.encode_text(self.tokenizer(["x"]).to(self.device)).shape[-1])

    def autocast(self):
        """Autocast for the spec's precision (CUDA fp16/bf16, CPU bf16), else a no-op."""
        import torch

        if self.spec.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.float16 if self.spec.precision == "fp16" else torch.bfloat16
        return torch.autocast(device_type=self.device.split(":")[0], dtype=dtype)

    def logit_scale(self) -> float:
        """The model's learned temperature, ``exp(logit_scale)`` (about 100 when trained)."""
        return float(self.model.logit_scale.exp().item())


def _weights_error(spec: ClipSpec, err: Exception) -> DataSourceError:
    what = spec.model_name if spec.pretrained is None else f"{spec.model_name} / {spec.pretrained}"
    return DataSourceError(
        f"Could not download the weights of CLIP model {what} (offline, or HF_HUB_OFFLINE=1?): "
        f"{str(err).splitlines()[0][:300]}. To use local weights: pass pretrained='/path/to/"
        "open_clip_pytorch_model.bin' (a checkpoint file for this architecture), or put the "
        "files in the Hugging Face cache ($HF_HOME or $HF_HUB_CACHE) where open_clip looks "
        "for them, or use model_name='hf-hub:org/repo' for a repo already in that cache. "
        "random_weights=True gives an untrained model (tests and benchmarks only)."
    )


def load_clip(spec: ClipSpec, device: str = "auto") -> LoadedClip:
    """Creates the model, its preprocessing transform and tokenizer on ``device``.

    Raises:
        DeviceError: CUDA asked for without a GPU
        InputError: fp16 on a CPU
        DataSourceError: the weights cannot be downloaded or the checkpoint is unreadable
    """
    open_clip = _open_clip()
    import torch

    device = config.resolve_device(device)
    if spec.precision == "fp16" and not device.startswith("cuda"):
        raise InputError("precision='fp16' needs a CUDA GPU: use 'fp32' or 'bf16' on a CPU")
    local = is_checkpoint_path(spec.pretrained)
    if local and checkpoint_problem(spec.pretrained):  # an unchecked spec: same message
        raise InputError(checkpoint_problem(spec.pretrained))
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_WEIGHTS_SEED)
            model, _, preprocess = open_clip.create_model_and_transforms(
                spec.model_name, pretrained=spec.pretrained, device=device
            )
        tokenizer = open_clip.get_tokenizer(spec.model_name)
    except Exception as e:
        if local:  # any failure to read a user's file: unpickling, shapes, keys
            raise DataSourceError(
                f"Checkpoint {spec.pretrained!r} could not be loaded into {spec.model_name}: "
                f"{str(e).splitlines()[0][:300]}. Check that the file is an open_clip state "
                "dict (torch.save(model.state_dict())) for this architecture."
            ) from e
        download = isinstance(e, (RuntimeError, OSError, ValueError)) or type(
            e
        ).__module__.startswith(("huggingface_hub", "requests", "urllib3"))
        if download:
            raise _weights_error(spec, e) from e
        raise
    model.eval()
    logger.info("Loaded CLIP %s on %s", spec.describe(), device)
    return LoadedClip(spec, model, preprocess, tokenizer, device)


class ModelCache:
    """Loaded models for the life of one run, keyed by (spec, device).

    Create one per operator execution or script and pass it to the core
    functions, so a run that embeds and then classifies loads the model once.
    """

    def __init__(self):
        self._models: dict[tuple, LoadedClip] = {}

    def get(self, spec: ClipSpec, device: str = "auto") -> LoadedClip:
        """The loaded model for ``spec`` on ``device``, loading it on first use."""
        device = config.resolve_device(device)
        key = (spec.model_name, spec.pretrained, spec.random_weights, spec.precision, device)
        if key not in self._models:
            self._models[key] = load_clip(spec, device)
        return self._models[key]

    def __len__(self) -> int:
        return len(self._models)

    def clear(self) -> None:
        """Drops every loaded model."""
        self._models.clear()
