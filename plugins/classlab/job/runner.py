"""A small step runner: ordered named steps, skip-when-done, time and memory per step.

Each :class:`Step` has a ``run`` function and a ``done`` check. :func:`run_steps`
runs them in order, skipping those whose result already exists, logs a line
when each step starts and ends, forwards operator progress to the ``classlab``
logger (see :func:`progress_to_log`), and measures every step's wall time and
peak resident memory (this process and its worker processes, sampled with
psutil; the database server is reported separately). :func:`format_summary`
renders the results as a table.

:func:`run_operator` runs a ClassLab operator through ``foo.execute_operator``
(the SDK path), off any running event loop. It is the only place in the core
that touches ``fiftyone.operators``, and it imports it lazily.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

logger = logging.getLogger("classlab")

PROGRESS_LOGGER = "classlab.progress"
PLUGIN = "@classlab/classlab"
_DB_NAMES = ("mongod",)


@dataclass
class Step:
    """One named step of a workflow.

    Attributes:
        name: a short identifier (``train_lenet``)
        title: what the step does, for the log
        run: ``fn() -> str``: does the work, returns a one-line result
        done: ``fn() -> bool``: True when the step's result already exists
        skip: ``fn() -> Optional[str]``: a reason to skip the step (e.g. CLIP
            weights unavailable), or None to run it
        optional: a failure is reported and the workflow goes on
    """

    name: str
    title: str
    run: Callable[[], str]
    done: Callable[[], bool] = lambda: False
    skip: Callable[[], Optional[str]] = lambda: None
    optional: bool = False


@dataclass
class StepResult:
    """What happened to one step: ``status`` is done, skipped, unavailable or failed."""

    name: str
    status: str
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    start_rss_mb: float = 0.0
    peak_db_rss_mb: float = 0.0
    message: str = ""
    cpu_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class MemorySampler:
    """Samples the RSS of this process (plus its children except the database
    server) and of the database server in a background thread; keeps the peaks."""

    def __init__(self, interval: float = 0.1):
        import psutil

        self.interval = interval
        self._proc = psutil.Process(os.getpid())
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.start_mb = self.peak_mb = self.peak_db_mb = 0.0

    def sample(self) -> tuple[float, float]:
        """(RSS of this process and its workers, RSS of the database server) in MiB."""
        import psutil

        own, db = self._proc.memory_info().rss, 0
        try:
            children = self._proc.children(recursive=True)
        except psutil.Error:
            children = []
        for child in children:
            try:
                if child.name() in _DB_NAMES:  # a mongod this process started
                    db += child.memory_info().rss
                elif not _is_database(child):
                    own += child.memory_info().rss
            except psutil.Error:
                continue
        return own / 2**20, db / 2**20 if db else _database_mb()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._update()

    def _update(self) -> None:
        own, db = self.sample()
        self.peak_mb = max(self.peak_mb, own)
        self.peak_db_mb = max(self.peak_db_mb, db)

    def __enter__(self) -> "MemorySampler":
        self.start_mb, db = self.sample()
        self.peak_mb, self.peak_db_mb = self.start_mb, db
        self._thread = threading.Thread(target=self._loop, name="classlab-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._update()


def _is_database(proc) -> bool:
    """FiftyOne's database service (a Python process) or its mongod."""
    return proc.name() in _DB_NAMES or any(_SERVICE in arg for arg in proc.cmdline())


_SERVICE = os.path.join("fiftyone", "service", "main.py")
_DB_CACHE: dict[int, Any] = {}


def _database_mb() -> float:
    """RSS of the mongod behind the FiftyOne database service this process is
    attached to (the embedded database, started by another process); 0 when
    there is none (an external MongoDB)."""
    import psutil

    try:
        import fiftyone.core.odm.database as fodb

        service = getattr(fodb, "_db_service", None)
        pid = service.child.pid if service is not None and service.child is not None else None
    except Exception:  # FiftyOne internals changed or no database yet: nothing to measure
        return 0.0
    if pid is None:
        return 0.0
    try:
        mongod = _DB_CACHE.get(pid)
        if mongod is None or not mongod.is_running():
            kids = psutil.Process(pid).children(recursive=True)
            mongod = _DB_CACHE[pid] = next((k for k in kids if k.name() in _DB_NAMES), None)
        return mongod.memory_info().rss / 2**20 if mongod is not None else 0.0
    except psutil.Error:
        return 0.0


class _ProgressFilter(logging.Filter):
    """Prefixes operator progress records with the step name and throttles them
    to one line every ``interval`` seconds (plus the 100% line)."""

    def __init__(self, step: str, interval: float):
        super().__init__()
        self.step, self.interval, self._last = step, interval, 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        fraction, label = getattr(record, "classlab_progress", (None, None))
        if fraction is None:
            return True
        now = time.monotonic()
        if fraction < 1.0 and now - self._last < self.interval:
            return False
        self._last = now
        record.msg, record.args = "  [%s] %5.1f%% %s", (self.step, 100.0 * fraction, label or "")
        return True


@contextmanager
def progress_to_log(step: str, interval: float = 2.0):
    """While active, operator progress (the ``classlab.progress`` logger, fed by
    ``operators.common.progress``) is logged as ``[step] 42.0% label`` lines."""
    log = logging.getLogger(PROGRESS_LOGGER)
    filt = _ProgressFilter(step, interval)
    old_level = log.level
    log.addFilter(filt)
    log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeFilter(filt)
        log.setLevel(old_level)


def run_operator(name: str, dataset=None, view=None, params: Optional[dict] = None, **kwargs):
    """Runs ``@classlab/classlab/<name>`` through ``foo.execute_operator``.

    Where an event loop is running in this thread (a notebook), the call runs in
    a worker thread, so it always completes and returns its result.

    Returns:
        the operator's result dict (or the delegated operation's record when
        ``request_delegation=True``)

    Raises:
        fiftyone.operators.executor.ExecutionError: the operator failed
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import fiftyone as fo
    import fiftyone.operators as foo

    if isinstance(view, fo.Dataset):  # the execution context takes a Dataset only as dataset
        dataset, view = view, None
    ctx: dict[str, Any] = {"params": dict(params or {})}
    if view is not None:
        ctx["view"] = view
    if dataset is not None:
        ctx["dataset"] = dataset
    uri = f"{PLUGIN}/{name}"
    try:
        asyncio.get_running_loop()
        in_loop = True
    except RuntimeError:
        in_loop = False
    if in_loop:
        with ThreadPoolExecutor(1) as pool:
            res = pool.submit(foo.execute_operator, uri, ctx=ctx, **kwargs).result()
    else:
        res = foo.execute_operator(uri, ctx=ctx, **kwargs)
    return res.result


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
            head = f"[{i}/{n}] {step.name}"
            if failed_required:
                self.results.append(
                    StepResult(step.name, "not run", message="an earlier step failed")
                )
                continue
            result = self._one(step, head)
            self.results.append(result)
            if result.status == "failed" and not step.optional:
                failed_required = True
        return self.results

    def _one(self, step: Step, head: str) -> StepResult:
        reason = step.skip()
        if reason:
            logger.info("%s: skipped - %s", head, reason)
            return StepResult(step.name, "unavailable", message=reason)
        t0 = time.perf_counter()
        if step.done():
            logger.info("%s: already done, skipping (use --fresh to start over)", head)
            return StepResult(
                step.name, "skipped", time.perf_counter() - t0, message="already done"
            )
        logger.info("%s: %s ...", head, step.title)
        t0, cpu0 = time.perf_counter(), _cpu_seconds()
        with MemorySampler() as mem, progress_to_log(step.name, self.progress_interval):
            try:
                message, status = step.run() or "", "done"
            except Exception as e:  # reported in the summary; the CLI sets the exit code
                message, status = _error_message(e), "failed"
                logger.error("%s failed: %s", head, message)
        seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
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
            step.name, status, seconds, mem.peak_mb, mem.start_mb, mem.peak_db_mb, message, cpu
        )


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (data-loader
    workers); the database server is not included. On a loaded machine, wall time
    grows while CPU time stays close to the work done."""
    import resource

    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _error_message(e: Exception) -> str:
    """The user-facing message of an error (ExecutionError keeps the operator's
    message as its first line; the traceback follows)."""
    text = str(e).strip() or type(e).__name__
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):  # the last "SomeError: message" line of a traceback
        if "Error: " in ln and not ln.startswith(" "):
            return ln.split("Error: ", 1)[1].strip()
    return lines[0]


def run_steps(steps: list[Step], progress_interval: float = 2.0) -> list[StepResult]:
    """Runs ``steps`` in order (a failed required step stops the rest).

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
