"""A small step runner: ordered named steps, skip-when-done, time and memory per step.

Each :class:`Step` has a ``run`` function and a ``done`` check. :func:`run_steps`
runs them in order, skipping those whose result already exists. It hands each
step a progress callback (:class:`StepProgress`) to pass to the core functions,
logs a line when each step starts and ends, and measures every step's wall
time, CPU time and peak resident memory (:mod:`classlab.job.memory`).
:func:`format_summary` renders the results as a table.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from classlab.errors import ClassLabError
from classlab.job.memory import MemorySampler, cpu_seconds
from classlab.progress import ProgressFn

logger = logging.getLogger("classlab")


@dataclass
class Step:
    """One named step of a workflow.

    Attributes:
        name: a short identifier (``train_lenet``)
        title: what the step does, for the log
        run: ``fn(progress) -> outcome``: does the work, reporting through
            ``progress(fraction, label)``; returns a typed outcome whose
            ``summary()`` is the step's one-line result (or that line itself)
        done: ``fn() -> bool``: True when the step's result already exists
        skip: ``fn() -> Optional[str]``: a reason to skip the step (e.g. CLIP
            weights unavailable), or None to run it
        optional: a failure is reported and the workflow goes on
    """

    name: str
    title: str
    run: Callable[[ProgressFn], Any]
    done: Callable[[], bool] = lambda: False
    skip: Callable[[], Optional[str]] = lambda: None
    optional: bool = False


@dataclass
class StepResult:
    """What happened to one step: ``status`` is done, skipped, unavailable, failed or
    not run; ``data`` is the typed outcome of a step that ran (None otherwise)."""

    name: str
    status: str
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    start_rss_mb: float = 0.0
    peak_db_rss_mb: float = 0.0
    message: str = ""
    cpu_seconds: float = 0.0
    data: Any = None

    def as_dict(self) -> dict[str, Any]:
        """The fields as plain values (``data`` as a dict when it is a dataclass)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "data"}
        if dataclasses.is_dataclass(self.data):
            out["data"] = dataclasses.asdict(self.data)
        return out


class StepProgress:
    """The progress callback a step hands to the core (``progress=``): logs
    ``  [step]  42.0% label`` on the ``classlab`` logger, at most one line every
    ``interval`` seconds, plus every 100% line."""

    def __init__(
        self, step: str, interval: float = 2.0, clock: Callable[[], float] = time.monotonic
    ):
        self.step, self.interval, self._clock = step, interval, clock
        self._last: Optional[float] = None

    def __call__(self, fraction: float, label: Optional[str] = None) -> None:
        now = self._clock()
        if fraction < 1.0 and self._last is not None and now - self._last < self.interval:
            return
        self._last = now
        logger.info("  [%s] %5.1f%% %s", self.step, 100.0 * fraction, label or "")


@dataclass
class Runner:
    """Runs steps in order; see :func:`run_steps`."""

    steps: list[Step]
    progress_interval: float = 2.0
    results: list[StepResult] = field(default_factory=list)

    def run(self) -> list[StepResult]:
        n = len(self.steps)
        failed_required = False
        for i, step in enumerate(self.steps, 1):
            if failed_required:
                self.results.append(
                    StepResult(step.name, "not run", message="an earlier step failed")
                )
                continue
            result = self._one(step, f"[{i}/{n}] {step.name}")
            self.results.append(result)
            if result.status == "failed" and not step.optional:
                failed_required = True
        return self.results

    def _one(self, step: Step, head: str) -> StepResult:
        t0 = time.perf_counter()
        try:
            reason = step.skip()
            done = not reason and step.done()
        except Exception as e:  # a check that cannot run fails its step, like its work
            return StepResult(
                step.name, "failed", time.perf_counter() - t0, message=_failed(head, e)
            )
        if reason:
            logger.info("%s: skipped - %s", head, reason)
            return StepResult(step.name, "unavailable", message=reason)
        if done:
            logger.info("%s: already done, skipping (use --fresh to start over)", head)
            return StepResult(
                step.name, "skipped", time.perf_counter() - t0, message="already done"
            )
        logger.info("%s: %s ...", head, step.title)
        t0, cpu0 = time.perf_counter(), cpu_seconds()
        outcome, status = None, "done"
        with MemorySampler() as mem:
            try:
                outcome = step.run(StepProgress(step.name, self.progress_interval))
                message = _summary(outcome)
            except Exception as e:  # reported in the summary; the CLI sets the exit code
                message, status = _failed(head, e), "failed"
        seconds, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
        if status == "done":
            logger.info(
                "%s: done in %.1f s (CPU %.1f s), peak RSS %.0f MiB%s",
                head,
                seconds,
                cpu,
                mem.peak_mb,
                f" - {message}" if message else "",
            )
        return StepResult(
            step.name,
            status,
            seconds,
            mem.peak_mb,
            mem.start_mb,
            mem.peak_db_mb,
            message,
            cpu,
            outcome,
        )


def _failed(head: str, e: Exception) -> str:
    """Logs a step's failure; returns its message for the summary."""
    message = _error_message(e)
    if isinstance(e, ClassLabError):  # a message for the user
        logger.error("%s failed: %s", head, message)
    else:  # a bug: keep the traceback
        logger.error("%s failed: %s", head, message, exc_info=e)
    return message


def _summary(outcome: Any) -> str:
    """A step's one-line result: its outcome's ``summary()``, or the outcome as text."""
    if outcome is None:
        return ""
    summary = getattr(outcome, "summary", None)
    return summary() if callable(summary) else str(outcome)


def _error_message(e: Exception) -> str:
    """The user-facing message of an error: ClassLab's own message, else the type too."""
    text = str(e).strip()
    if isinstance(e, ClassLabError) and text:
        return text
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def run_steps(steps: list[Step], progress_interval: float = 2.0) -> list[StepResult]:
    """Runs ``steps`` in order (a failed required step stops the rest).

    Args:
        steps: the steps
        progress_interval: seconds between two progress lines of a step

    Returns:
        one :class:`StepResult` per step
    """
    return Runner(steps, progress_interval).run()


def format_summary(results: list[StepResult]) -> str:
    """A plain-text table: step, status, wall time, CPU time, peak RSS, the
    database's peak RSS, and the step's one-line result."""
    rows = [("step", "status", "time", "CPU", "peak RSS", "db RSS", "result")]
    for r in results:
        ran = r.status in ("done", "failed")
        rows.append(
            (
                r.name,
                r.status,
                f"{r.seconds:.1f} s" if ran or r.seconds else "-",
                f"{r.cpu_seconds:.1f} s" if ran else "-",
                f"{r.peak_rss_mb:.0f} MiB" if ran else "-",
                f"{r.peak_db_rss_mb:.0f} MiB" if ran and r.peak_db_rss_mb else "-",
                r.message,
            )
        )
    widths = [max(len(row[c]) for row in rows) for c in range(6)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row[:6], widths)) + "  " + row[6] for row in rows]
    total = sum(r.seconds for r in results)
    peak = max((r.peak_rss_mb for r in results), default=0.0)
    lines.append(f"total {total:.1f} s, peak RSS {peak:.0f} MiB")
    return "\n".join(lines)


def repeat_progress(progress: ProgressFn, i: int, n: int) -> ProgressFn:
    """Repeat ``i`` of ``n``'s share of a step's progress."""
    if n == 1:
        return progress

    def report(fraction: float, label=None) -> None:
        progress((i + fraction) / n, f"repeat {i + 1}/{n}: {label or ''}")

    return report
