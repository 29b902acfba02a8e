"""What a step costs: peak resident memory (this process and its workers, and the
database server, sampled in a background thread) and CPU time.

The database server is FiftyOne's embedded ``mongod``: either a child of this
process, or the child of the FiftyOne database service that another process
started (then it is found through FiftyOne's private ``_db_service`` handle;
when that changes or the database is external, its memory reads 0).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Optional

_DB_NAMES = ("mongod",)
_SERVICE = os.path.join("fiftyone", "service", "main.py")
_DB_CACHE: dict[int, Any] = {}


class MemorySampler:
    """Samples the RSS of this process (plus its children except the database
    server) and of the database server in a background thread; keeps the peaks.

    Use as a context manager: ``start_mb`` is read on entry, ``peak_mb`` and
    ``peak_db_mb`` are final on exit.
    """

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
        return own / 2**20, db / 2**20 if db else database_mb()

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


def database_mb() -> float:
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


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (data-loader
    workers); the database server is not included. On a loaded machine, wall time
    grows while CPU time stays close to the work done."""
    import resource

    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
