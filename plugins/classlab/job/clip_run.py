"""The CLIP model of one run of the main job: which weights, whether they can be
loaded here, how images are batched, and the one model cache both CLIP steps share."""

from __future__ import annotations

from functools import cached_property
from typing import Optional

from classlab.job.settings import WorkflowConfig


class ClipRun:
    """The run's CLIP choice and its :class:`~classlab.clip.ModelCache`.

    Args:
        config: the workflow's settings (``clip*`` fields, ``device``)
        cache: the cache to load models into (default: a new one); pass the
            same one to every CLIP call of the run so the model loads once
    """

    def __init__(self, config: WorkflowConfig, cache=None):
        from classlab.clip import ModelCache

        self.cfg = config
        self.cache = cache if cache is not None else ModelCache()

    @cached_property
    def problem(self) -> Optional[str]:
        """Why the CLIP weights cannot be loaded here (asked once per run), or None."""
        from classlab.clip.weights import clip_weights_problem

        return clip_weights_problem(self.cfg.clip_model, self.cfg.clip_pretrained)

    def skip(self) -> Optional[str]:
        """Why the CLIP steps cannot run (None: they can)."""
        if not self.cfg.clip:
            return "CLIP turned off (--no-clip)"
        if self.cfg.clip_random_weights or not self.problem:
            return None
        return (
            f"{self.problem} Pass --clip-pretrained PATH (a local checkpoint) or "
            "--clip-random-weights (random weights: no meaningful accuracy)."
        )

    @property
    def spec(self):
        """The :class:`~classlab.clip.ClipSpec` (random weights when asked for)."""
        from classlab.clip import ClipSpec

        c = self.cfg
        if c.clip_random_weights:
            return ClipSpec(model_name=c.clip_model, pretrained=None, random_weights=True)
        return ClipSpec(model_name=c.clip_model, pretrained=c.clip_pretrained)

    @property
    def options(self):
        """The :class:`~classlab.clip.LoaderOptions`: batch size and device."""
        from classlab.clip import LoaderOptions

        return LoaderOptions(batch_size=self.cfg.clip_batch_size, device=self.cfg.device)

    @property
    def label(self) -> str:
        """The model as the summary shows it (random weights said loudly)."""
        c = self.cfg
        if c.clip_random_weights:
            return f"{c.clip_model} with RANDOM WEIGHTS (not a real CLIP: accuracy is meaningless)"
        return f"{c.clip_model} ({c.clip_pretrained})"
