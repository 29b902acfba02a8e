"""Progress reporting shared by the core functions.

Core functions accept ``progress``: a callable ``fn(fraction, label)`` with
``fraction`` in [0, 1]. Operators pass one that forwards to
``ctx.set_progress``; scripts can pass :func:`log_progress` or nothing.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Optional

ProgressFn = Callable[[float, Optional[str]], None]

logger = logging.getLogger("classlab")


def log_progress(fraction: float, label: Optional[str] = None) -> None:
    """A progress function that logs at INFO level."""
    logger.info("%5.1f%% %s", 100.0 * fraction, label or "")


class Progress:
    """Throttled progress over a sub-range ``[start, end]`` of the caller's bar.

    Args:
        fn: the callback, or None for no reporting
        start: where this stage begins on the overall bar
        end: where this stage ends on the overall bar
        min_interval: seconds between two reports (the last one always goes)
    """

    def __init__(
        self,
        fn: Optional[ProgressFn] = None,
        start: float = 0.0,
        end: float = 1.0,
        min_interval: float = 0.5,
    ):
        self.fn = fn
        self.start = start
        self.end = end
        self.min_interval = min_interval
        self._last = 0.0

    def __call__(self, fraction: float, label: Optional[str] = None, force: bool = False) -> None:
        if self.fn is None:
            return
        now = time.monotonic()
        if not force and fraction < 1.0 and now - self._last < self.min_interval:
            return
        self._last = now
        fraction = min(max(fraction, 0.0), 1.0)
        self.fn(self.start + (self.end - self.start) * fraction, label)

    def stage(self, start: float, end: float) -> "Progress":
        """A child covering ``[start, end]`` of this stage's range."""
        span = self.end - self.start
        return Progress(
            self.fn, self.start + span * start, self.start + span * end, self.min_interval
        )


def as_progress(progress: "Progress | ProgressFn | None") -> Progress:
    """Normalise a callback (or None, or a Progress) to a :class:`Progress`."""
    if isinstance(progress, Progress):
        return progress
    return Progress(progress)
