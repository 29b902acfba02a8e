"""The main job's ending: ``python -m classlab`` (not headless) opens the App with
the workflow's dataset and the model comparison panel showing its models.

With ``CLASSLAB_SCREENSHOT_DIR`` set, the test trains on more data (1,000
samples per split, 3 epochs) and saves the README's screenshot
(``workflow-app.png``) in that directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from classlab.workflow import STEP_NAMES, WorkflowConfig, run_workflow
from support.app import open_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_url(url: str, proc, log: Path, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"the main job exited ({proc.returncode}):\n{log.read_text()[-4000:]}"
            )
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"the App did not answer on {url}:\n{log.read_text()[-4000:]}")


def test_main_job_opens_app_with_comparison_panel(mnist_dir, dataset_name, page, tmp_path):
    from classlab.compare import compare_models

    # the workflow on a small sample (no CLIP), then the main command: every step is
    # already done, so it goes straight to the App
    docs = os.environ.get("CLASSLAB_SCREENSHOT_DIR")
    cfg = WorkflowConfig(
        dataset_name=dataset_name,
        mnist_dir=str(mnist_dir),
        subset=1000 if docs else 100,
        clip=False,
        device="cpu",
        epochs=3 if docs else 1,
        finetune_epochs=1,
    )
    assert run_workflow(cfg).ok
    port, log = _free_port(), tmp_path / "main.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "classlab",
                "--dataset",
                dataset_name,
                "--mnist-dir",
                str(mnist_dir),
                "--no-clip",
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_url(url, proc, log)
        open_app(page, url)
        page.get_by_text("ClassLab model comparison").first.wait_for(timeout=90_000)
        expected = compare_models(page_dataset(dataset_name))
        for acc in expected["summary"]["accuracy"]:
            page.get_by_text(f"{acc:.4f}").first.wait_for(timeout=60_000)
        assert set(expected["fields"]) == {"lenet", "lenet_v2"}
        shot = tmp_path / "workflow-app.png"
        page.screenshot(path=str(shot))
        if docs:
            shutil.copy(shot, Path(docs) / shot.name)
        text = log.read_text()
        skipped = [n for n in STEP_NAMES if f"] {n}: already done" in text]
        assert len(skipped) == 9, text  # all but the two CLIP steps and compare
        assert "CLIP turned off" in text and "The App is at" in text
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl+C: the main job stops the App and exits
        try:
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def page_dataset(name: str):
    import fiftyone as fo

    return fo.load_dataset(name)
