"""``fiftyone delegated launch`` workers for integration tests: real subprocesses with
this session's environment (its standalone mongod through FIFTYONE_DATABASE_URI, its
plugins directory), and the tests' tiny CLIP architecture registered with open_clip."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TERMINAL = ("completed", "failed")
SUPPORT = Path(__file__).resolve().parent

# ``fiftyone delegated launch``, after registering the tiny CLIP config in the worker
LAUNCH = (
    "import sys; from support.tiny_clip import register_tiny_clip; register_tiny_clip(); "
    "sys.argv = ['fiftyone', 'delegated', 'launch']; "
    "from fiftyone.core.cli import main; main()"
)


class Workers:
    """Starts workers (``start(tag)``), logs to ``log_dir``; ``stop()`` sends SIGTERM."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.procs: list[tuple[subprocess.Popen, object, Path]] = []

    def start(self, tag: str = "") -> subprocess.Popen:
        path = self.log_dir / f"worker{tag}.log"
        log = open(path, "w")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(SUPPORT.parent), env.get("PYTHONPATH", "")])
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        self.procs.append((proc, log, path))
        return proc

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for _, _, p in self.procs)

    def wait(self, op_ids, timeout: float = 400.0) -> dict:
        """Waits until every operation of ``op_ids`` is completed or failed; returns
        ``{id: DelegatedOperationDocument}``. Raises if a worker dies or time runs out."""
        from bson import ObjectId
        from fiftyone.operators.delegated import DelegatedOperationService

        svc = DelegatedOperationService()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ops = {i: svc.get(ObjectId(str(i))) for i in op_ids}
            if all(str(op.run_state) in TERMINAL for op in ops.values()):
                return ops
            dead = [p for p, _, _ in self.procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"a worker exited ({dead[0].returncode}):\n{self.logs()}")
            time.sleep(1.0)
        raise TimeoutError(f"delegated operations did not finish in {timeout} s:\n{self.logs()}")

    def stop(self) -> None:
        for proc, log, _ in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            log.close()
