"""Every operator of ``fiftyone.yml``, opened and executed in the real App (headless Chromium).

So that no operator can hang in the App unseen (``list_models`` once did: the App asked
for its execution options and never executed it), each one is opened from the operator
browser, its form is filled with the few values of its row in :data:`CASES`, Execute is
clicked, and the test waits until the database shows what the operator does (``done``)
and, where the operator has a result dialog, until the dialog shows ``dialog``.

One App server for the module (with the tiny CLIP model registered, so the CLIP forms
run), one tiny dataset prepared with the core (150 samples without split tags, models
``lenet_v1`` and ``spare``, ``lenet_v1``'s predictions in ``lenet``), 1 epoch. The rows
build on each other in ``fiftyone.yml``'s order (split_dataset makes the splits that
training needs; tag_samples_to_fix tags what augment_samples copies, which
delete_augmentations removes).

ADDING AN OPERATOR: put its name in ``fiftyone.yml`` AND a row in :data:`CASES`
(``Case(fill={"Form label": "value"}, toggle=["Checkbox label"], done=..., dialog=...)``).
An operator without a row fails this test with a message naming it. The rows run in
``fiftyone.yml``'s order, each on the whole dataset (the view is cleared first);
``opens_valid=False`` marks a form that needs a value before Execute is enabled.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import yaml
from support.app import open_app, open_operator
from support.tiny_clip import CONFIG as TINY_CONFIG
from support.tiny_clip import TINY

ROOT = Path(__file__).resolve().parents[2]
OPERATORS = yaml.safe_load((ROOT / "fiftyone.yml").read_text())["operators"]

_SERVER = """
import sys, fiftyone as fo
session = fo.launch_app(fo.load_dataset(sys.argv[1]), remote=True, port=int(sys.argv[2]),
                        address="127.0.0.1")
session.wait(-1)
"""
# FiftyOne's App server runs in a child process of the launcher: it (and so the
# operators) gets the tiny CLIP config through a sitecustomize on its PYTHONPATH, which
# adds it when (and only if) a process imports open_clip (importing it in every Python
# process that starts would slow the server's start past FiftyOne's patience)
_SITECUSTOMIZE = """
import importlib.abc, importlib.util, sys

class _AddTinyClip(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "open_clip":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            module.add_model_config({config!r})

        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, _AddTinyClip())
"""


@dataclass
class State:
    """What the dataset looked like just before an operator executed."""

    n: int
    fields: set
    models: set
    evaluations: set
    tags: dict
    datasets: set


def state(ds) -> State:
    import fiftyone as fo
    from classlab.lenet.registry import list_models

    ds.reload()
    return State(
        len(ds),
        set(ds.get_field_schema()),
        set(list_models(ds)),
        set(ds.list_evaluations()),
        ds.count_sample_tags(),
        set(fo.list_datasets()),
    )


@dataclass
class Case:
    """How to run one operator in the App and what it must change."""

    done: Callable[[State, State], bool]  # (before, after) -> executed?
    fill: dict = field(default_factory=dict)  # form label -> text to type
    toggle: list = field(default_factory=list)  # checkbox labels to click
    dialog: str | None = None  # text of the result dialog (None: none expected)
    opens_valid: bool = True  # Execute enabled before anything is filled


def _new_fields(before: State, after: State) -> bool:
    return bool(after.fields - before.fields)


CLIP = {"CLIP model": TINY, "Loader workers": 1}

CASES: dict[str, Case] = {
    "load_mnist": Case(
        fill={"Dataset name": "{name}-loaded", "Samples per split": 5},  # IDX dir: below
        done=lambda b, a: bool(a.datasets - b.datasets),
        dialog="Loaded 10 samples",
    ),
    "split_dataset": Case(
        done=lambda b, a: a.tags.get("train", 0) + a.tags.get("val", 0) == b.n,
    ),
    "train_lenet": Case(
        fill={"Epochs": 1},
        done=lambda b, a: "lenet_v2" in a.models - b.models,
        dialog="Trained lenet_v2",
    ),
    "apply_lenet": Case(
        done=lambda b, a: "lenet_v1" in a.fields - b.fields,
        dialog="mistakes, now shown in the grid",
    ),
    "evaluate_predictions": Case(
        fill={"Eval key": "eval_app"},
        done=lambda b, a: "eval_app" in a.evaluations,
        dialog="Evaluated",
    ),
    "list_models": Case(done=lambda b, a: True, dialog="model(s) on this dataset"),
    "rename_model": Case(
        fill={"New run key": "renamed"},
        done=lambda b, a: "renamed" in a.models,
        dialog="to renamed",
        opens_valid=False,
    ),
    "delete_model": Case(
        done=lambda b, a: len(a.models) == len(b.models) - 1, dialog="Deleted model"
    ),
    "train_model": Case(  # resnet18 (the default), 16 x 16, one epoch
        fill={"Epochs": 1, "Input size": 16},
        done=lambda b, a: "resnet18_v1" in a.models - b.models,
        dialog="Trained resnet18_v1",
    ),
    "export_model": Case(done=lambda b, a: True, dialog="Exported"),  # the dialog proves it
    "compute_clip_embeddings": Case(
        fill=CLIP,
        toggle=["Random weights (tests only)"],
        done=lambda b, a: "clip_embeddings" in a.fields,
        dialog="Embedded",
        opens_valid=False,  # the default weights are not here (offline): see test_clip_form
    ),
    "zero_shot_classify": Case(
        fill=CLIP,
        toggle=["Random weights (tests only)"],
        done=lambda b, a: "clip_zero_shot" in a.fields,
        dialog="Labelled",
        opens_valid=False,
    ),
    "compute_sample_scores": Case(done=_new_fields),
    "tag_samples_to_fix": Case(
        toggle=["Misclassified"],
        done=lambda b, a: a.tags.get("to_augment", 0) > b.tags.get("to_augment", 0),
        opens_valid=False,  # a criterion must be chosen
    ),
    "augment_samples": Case(done=lambda b, a: a.n > b.n),
    "delete_augmentations": Case(done=lambda b, a: a.n < b.n),
    "train_linear_probe": Case(done=lambda b, a: "clip_probe" in a.fields - b.fields),
    "compute_gradcam": Case(
        done=lambda b, a: any(f.endswith("_gradcam") for f in a.fields - b.fields)
    ),
    "compute_oos_predictions": Case(
        fill={"Folds (K)": 2, "Epochs per fold": 1},
        done=lambda b, a: (
            "lenet_oos" in a.fields - b.fields
            and {"lenet_oos-fold1", "lenet_oos-fold2"} <= a.models
        ),
    ),
    "find_label_issues": Case(done=lambda b, a: "label_quality" in a.fields - b.fields),
    "fix_labels": Case(
        done=lambda b, a: a.tags.get("label_fixed", 0) > b.tags.get("label_fixed", 0)
    ),
    "revert_label_fixes": Case(
        done=lambda b, a: a.tags.get("label_fixed", 0) < b.tags.get("label_fixed", 0)
    ),
}


@pytest.fixture(scope="module")
def prepared(mnist_base):
    """150 MNIST samples without split tags (split_dataset, the second operator, splits
    them into train/val), with models ``lenet_v1`` and ``spare`` (trained on a split
    that is then removed) and ``lenet_v1``'s predictions in ``lenet`` (+ embeddings,
    ``eval_lenet``). The curation rows build on each other: tag, augment, delete."""
    import fiftyone as fo
    from classlab.data.splits import split_dataset
    from classlab.lenet.apply import apply_lenet
    from classlab.lenet.runs import train_lenet

    ds = mnist_base.limit(150).clone(f"classlab-app-{uuid.uuid4().hex[:8]}")
    ds.persistent = True
    split_dataset(ds, {"train": 0.8, "val": 0.2}, overwrite=True)
    for key in ("lenet_v1", "spare"):
        train_lenet(ds, run_key=key, config={"epochs": 1, "architecture": "lenet5"})
    apply_lenet(ds, "lenet_v1", label_field="lenet", eval_key="eval_lenet", device="cpu")
    ds.untag_samples(["train", "val", "test"])
    yield ds
    for name in fo.list_datasets():
        if name.startswith(ds.name):
            fo.delete_dataset(name)


@pytest.fixture(scope="module")
def server(prepared, tmp_path_factory):
    """The App serving ``prepared`` in a subprocess that registered the tiny CLIP model."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path_factory.mktemp("app") / "app.log", "w+")
    site = tmp_path_factory.mktemp("site")
    config = site / f"{TINY}.json"
    config.write_text(json.dumps(TINY_CONFIG))
    (site / "sitecustomize.py").write_text(_SITECUSTOMIZE.format(config=str(config)))
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    args = [sys.executable, "-c", _SERVER, prepared.name, str(port)]
    env = {**os.environ, "PYTHONPATH": path}
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_url(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_url(url, proc, log, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"App server exited:\n{log.read()[-4000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(1)
    raise RuntimeError("App server did not answer in time")


@pytest.fixture(scope="module")
def app(browser, server, prepared):
    """One page for the module, on the prepared dataset."""
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = ctx.new_page()
    open_app(page, f"{server}datasets/{prepared.name}")
    yield page
    ctx.close()


def field_input(page, label: str):
    """The text input that follows the form label ``label``."""
    return page.locator(f'xpath=//*[normalize-space(text())="{label}"]/following::input[1]').first


def execute_button(page):
    return page.get_by_role("button", name="Execute").first


def form_errors(page) -> str:
    """The text of the form (to say why Execute is disabled)."""
    dialog = page.locator('[role="dialog"], .MuiDialog-root, .MuiModal-root').first
    return dialog.inner_text() if dialog.count() else page.locator("body").inner_text()


def wait_enabled(page, timeout_s: float = 30) -> bool:
    for _ in range(int(timeout_s * 2)):
        if execute_button(page).is_enabled():
            return True
        page.wait_for_timeout(500)
    return False


def back_to_dataset(page, url: str, name: str) -> None:
    """The prepared dataset, with no view (an earlier operator may have opened another
    dataset or set a view)."""
    close_dialogs(page)
    current = page.url.split("?")[0].rstrip("/").rsplit("/datasets/", 1)[-1]
    if current != name or not page.locator('[data-cy="fo-grid"]').count():
        open_app(page, f"{url}datasets/{name}")
    clear = page.locator('[data-cy="btn-clear-view-bar"]')
    if clear.count() and clear.first.is_visible():
        clear.first.click()
        page.wait_for_timeout(1500)


def close_dialogs(page) -> None:
    """Closes a dialog left open (a result dialog, a failed operator's form)."""
    for _ in range(3):
        if not page.locator(".MuiDialog-root").count():
            return
        for button in ("Close", "Cancel", "Done"):
            shown = page.get_by_role("button", name=button, exact=True)
            if shown.count() and shown.first.is_visible():
                shown.first.click()
                break
        else:
            page.keyboard.press("Escape")
        page.wait_for_timeout(700)


def open_form(page, name: str) -> None:
    import fiftyone.operators as foo

    label = foo.get_operator(f"@classlab/classlab/{name}").config.label
    open_operator(page, label.replace("ClassLab: ", ""), label)  # retries a lost key press
    page.wait_for_timeout(1000)  # the dynamic form resolves once more


def wait_done(prepared, before, case: Case, name: str, timeout_s: float = 240) -> State:
    after = state(prepared)
    deadline = time.time() + timeout_s
    while not case.done(before, after):
        if time.time() > deadline:
            raise AssertionError(f"{name}: executing changed nothing in {timeout_s:.0f} s")
        time.sleep(0.5)
        after = state(prepared)
    return after


@pytest.mark.parametrize("name", OPERATORS)
def test_every_operator_opens_and_executes(name, app, server, prepared, mnist_dir):
    if name not in CASES:
        pytest.fail(
            f"Operator {name!r} is in fiftyone.yml but has no row in CASES of "
            f"{Path(__file__).name}: add one (the form values to fill, and what executing "
            "it changes) so that the App test opens and executes it"
        )
    case = CASES[name]
    page = app
    back_to_dataset(page, server, prepared.name)
    open_form(page, name)
    if case.opens_valid:
        assert wait_enabled(page), f"{name}: the form opens invalid:\n{form_errors(page)}"
    fill = dict(case.fill)
    if name == "load_mnist":
        fill = {"IDX directory": str(mnist_dir), **fill}
    for label, value in fill.items():
        field_input(page, label).fill(str(value).format(name=prepared.name))
        page.wait_for_timeout(1200)
    for label in case.toggle:
        page.get_by_text(label, exact=True).first.click()
        page.wait_for_timeout(1200)
    assert wait_enabled(page), f"{name}: Execute stays disabled:\n{form_errors(page)}"
    before = state(prepared)
    execute_button(page).click()
    wait_done(prepared, before, case, name)
    if case.dialog:
        text = re.sub(r"\s+", " ", case.dialog)
        page.get_by_text(text).first.wait_for(timeout=60_000)
        page.get_by_role("button", name="Close").first.click()
