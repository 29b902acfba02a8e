"""Every Python example in README.md and docs/*.md runs, and the docs hold together.

Each file's ```` ```python ```` blocks run in order in one namespace (what a
reader pasting them one after the other gets), all files in one subprocess
against this session's private database, with ``CLASSLAB_MNIST_DIR`` set and a
temporary working directory. Datasets and delegated operations a file creates
are deleted after it. A block that cannot run in a test is fenced
```` ```python no-run: <reason> ````; shell and text blocks are not run.

Run as a script (``python test_docs_examples.py OUT.json FILE...``) it is that
subprocess.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_BYTES = 12_800  # "fits on a page": about 12 KB
REQUIRED_PAGES = [
    "operators",
    "python-api",
    "clip",
    "curation",
    "panel",
    "delegated",
    "benchmarks",
    "troubleshooting",
    "development",
]
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,})(?P<info>[^`]*)$")
_NO_RUN = re.compile(r"^python\s+no-run:\s*(?P<reason>\S.*)$")
_PYTHONISH = {"py", "python3", "pycon", "ipython", "pyi"}


def fences(path: Path) -> list[dict]:
    """The fenced blocks of a Markdown file: info string, first code line, code."""
    blocks, current = [], None
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        m = _FENCE.match(line)
        if current is None:
            if m:
                current = dict(info=m["info"].strip(), ticks=m["ticks"], line=n + 1, lines=[])
        elif m and m["ticks"].startswith(current["ticks"]) and not m["info"].strip():
            current["code"] = textwrap.dedent("\n".join(current.pop("lines")))
            blocks.append(current)
            current = None
        else:
            current["lines"].append(line)
    assert current is None, (
        f"{path.name}: a fence opened on line {current['line'] - 1} never closes"
    )
    return blocks


def runnable(path: Path) -> list[dict]:
    return [b for b in fences(path) if b["info"] == "python"]


# ----------------------------------------------------------------- the runner
def _run_file(path: Path) -> dict:
    import fiftyone as fo
    from fiftyone.operators.delegated import DelegatedOperationService

    svc = DelegatedOperationService()
    datasets = set(fo.list_datasets())
    ops = {str(op.id) for op in svc.list_operations()}
    namespace = {"__name__": "__docs__"}
    start = time.perf_counter()
    out = dict(ok=True, error=None, blocks=0)
    try:
        for block in runnable(path):
            # leading newlines: a traceback names the line in the Markdown file
            src = "\n" * (block["line"] - 1) + block["code"]
            code = compile(src, str(path.relative_to(ROOT)), "exec")
            exec(code, namespace)  # noqa: S102 - running the docs is the point
            out["blocks"] += 1
    except BaseException:  # report every failure, including SystemExit
        out.update(ok=False, error=traceback.format_exc(limit=-8))
    finally:
        out["seconds"] = round(time.perf_counter() - start, 1)
        for op in svc.list_operations():
            if str(op.id) not in ops:
                svc.delete_operation(op.id)
        for name in set(fo.list_datasets()) - datasets:
            fo.delete_dataset(name)
    return out


def _main(out_path: str, paths: list[str]) -> None:
    results = {}
    for p in paths:
        results[p] = _run_file(Path(p))
        Path(out_path).write_text(json.dumps(results))  # partial results survive a timeout


if __name__ == "__main__":
    _main(sys.argv[1], sys.argv[2:])
    sys.exit(0)


# ------------------------------------------------------------------ the tests
import pytest  # noqa: E402 - the runner above does not need pytest

RUNNABLE = [p for p in DOCS if runnable(p)]


@pytest.fixture(scope="module")
def results(mnist_dir, tmp_path_factory, request):
    """Runs the examples of every selected file once, in one subprocess; {path: result}."""
    selected = [
        item.callspec.params["path"]
        for item in request.session.items
        if item.originalname == "test_examples_run" and hasattr(item, "callspec")
    ]
    work = tmp_path_factory.mktemp("docs")
    out = work / "results.json"
    env = dict(os.environ, CLASSLAB_MNIST_DIR=str(mnist_dir), PYTHONUNBUFFERED="1")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, str(out), *map(str, selected or RUNNABLE)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    found = json.loads(out.read_text()) if out.exists() else {}
    found["__seconds__"] = round(time.perf_counter() - start, 1)
    found["__stderr__"] = proc.stderr[-6000:]
    (work / "stdout.txt").write_text(proc.stdout)  # what the examples printed
    (work / "stderr.txt").write_text(proc.stderr)
    print(
        "docs examples:",
        {Path(k).name: v["seconds"] for k, v in found.items() if isinstance(v, dict)},
        f"total {found['__seconds__']} s; output in {work}",
    )
    return found


@pytest.mark.parametrize("path", RUNNABLE, ids=[p.name for p in RUNNABLE])
def test_examples_run(results, path):
    res = results.get(str(path))
    assert res is not None, f"{path.name} was not run:\n{results['__stderr__']}"
    assert res["ok"], f"an example in {path.name} failed:\n{res['error']}"
    assert res["blocks"] == len(runnable(path))


def test_every_page_exists_and_examples_are_fenced_as_python_or_no_run():
    for page in REQUIRED_PAGES:
        assert (ROOT / "docs" / f"{page}.md").is_file(), f"docs/{page}.md is missing"
    for path in DOCS:
        for block in fences(path):
            info = block["info"]
            where = f"{path.name}:{block['line'] - 1}"
            lang = info.split()[0].lower() if info else ""
            assert lang not in _PYTHONISH, f"{where}: fence as ```python (run) or no-run"
            if lang == "python" and info != "python":
                m = _NO_RUN.match(info)
                assert m and len(m["reason"]) >= 10, (
                    f"{where}: a Python block that is not run says why: ```python no-run: <reason>"
                )
            assert info or block["code"].strip() == "", f"{where}: a fence says its language"


def test_readme_fits_on_a_page_and_keeps_the_test_command():
    readme = (ROOT / "README.md").read_text()
    size = len(readme.encode())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes: move detail to docs/"
    assert "./run.sh main" in readme and "./run.sh test" in readme
    assert "fiftyone plugins download" in readme and "pip install" in readme
    assert "docs/workflow-app.png" in readme
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert "exec ./run.sh test" in ci, ".ci/run must run exactly the README's test command"
    development = (ROOT / "docs" / "development.md").read_text()
    first = re.search(r"^## (.+)$", development, re.M)
    assert first and first[1] == "Layout", "docs/development.md starts with the layout map"


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown file."""
    out = set()
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.M | re.S)
    for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", m[1].strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


def test_relative_links_resolve():
    for path in DOCS:
        text = re.sub(r"^\s*```.*?^\s*```", "", path.read_text(), flags=re.M | re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            dest = (path.parent / file).resolve() if file else path
            assert dest.exists(), f"{path.name}: link to {target}: no such file"
            if anchor and dest.suffix == ".md":
                assert anchor in _anchors(dest), f"{path.name}: link to {target}: no such heading"


def test_no_run_examples_compile_and_import_what_exists():
    """What is not run still parses, and its ``from classlab... import`` names exist."""
    for path in DOCS:
        for block in fences(path):
            if not _NO_RUN.match(block["info"]):
                continue
            where = f"{path.name}:{block['line'] - 1}"
            tree = ast.parse(block["code"], filename=where)  # a SyntaxError names the block
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("classlab"):
                    module = importlib.import_module(node.module)
                    for alias in node.names:
                        assert hasattr(module, alias.name), f"{where}: {node.module}.{alias.name}"
