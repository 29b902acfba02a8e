"""What crash-safe writers share: who owns a temp file, whether that owner still
runs, and the test-only fault hook.

A writer names its temporary files and folders ``...~<host>~<pid>.<ext>``
(:func:`owner`); a later run sweeps the ones whose writer is gone
(:func:`alive`). The environment variable ``CLASSLAB_FAULT=<point>`` makes a
writer SIGKILL itself at that point (:func:`fault`), for the fault tests.
"""

from __future__ import annotations

import os
import signal
import socket
import time

FAULT_ENV = "CLASSLAB_FAULT"
# a temp file or folder of another machine is swept only once this old (seconds)
FOREIGN_STALE_SECONDS = 24 * 3600


def fault(point: str) -> None:
    """Test-only hook: SIGKILL this process when ``CLASSLAB_FAULT`` names ``point``."""
    if os.environ.get(FAULT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def owner() -> str:
    """``<host>~<pid>``: the suffix that names this process's temporary files."""
    return f"{socket.gethostname()}~{os.getpid()}"


def alive(name: str, mtime: float) -> bool:
    """Whether the writer encoded in a temp name (``...~host~pid.ext``) still runs.

    A name not written this way counts as stale; another machine's file counts
    as alive until it is :data:`FOREIGN_STALE_SECONDS` old.
    """
    parts = name.rsplit(".", 1)[0].split("~")
    if len(parts) < 3 or not parts[-1].isdigit():
        return False
    host, pid = parts[-2], int(parts[-1])
    if host != socket.gethostname():
        return time.time() - mtime < FOREIGN_STALE_SECONDS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
