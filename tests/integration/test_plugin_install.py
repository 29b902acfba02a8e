"""Installing ClassLab into an existing FiftyOne environment, as the README says:
``fiftyone plugins download <repo URL>`` (the plugin files) plus ``pip install``
(the ``classlab`` package). The package is built here as a wheel and installed
with pip into a folder of its own; each check runs in a fresh Python process
whose FIFTYONE_PLUGINS_DIR holds only the copied plugin and whose PYTHONPATH is
that folder, so ``classlab`` comes from the installed wheel, never from the
checkout's ``plugins/`` folder (the venv's editable install is shadowed)."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "@classlab/classlab"
# what FiftyOne needs of the repository root to load the plugin
PLUGIN_FILES = ["fiftyone.yml", "__init__.py", "operators", "panels", "assets"]
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".*", "node_modules")

# Lists the plugin's operators and panels, runs one operator, says where classlab
# was imported from; prints one JSON line.
PROBE = """
import json
import fiftyone as fo
import fiftyone.operators as foo
import fiftyone.plugins as fop
import fiftyone.plugins.context as fopc

plugin = fop.get_plugin("@classlab/classlab")
ctx = [c for c in fopc.build_plugin_contexts() if c.name == plugin.name][0]
ds = fo.Dataset()
res = foo.execute_operator("@classlab/classlab/list_models", ctx=dict(dataset=ds)).result
import classlab
print(json.dumps({
    "directory": plugin.directory,
    "names": [i.name for i in ctx.instances],
    "uris": [i.uri for i in ctx.instances],
    "errors": ctx.errors,
    "classlab": classlab.__file__,
    "list_models": res,
}))
ds.delete()
"""


def _env(plugins_dir: Path, site: Path) -> dict:
    # classlab must come from the installed wheel, not from the checkout
    return dict(os.environ, FIFTYONE_PLUGINS_DIR=str(plugins_dir), PYTHONPATH=str(site))


def _pip(*args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


def _probe(plugins_dir: Path, site: Path, cwd: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=_env(plugins_dir, site),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _check(found: dict, plugin_dir: Path, site: Path) -> None:
    manifest = yaml.safe_load((ROOT / "fiftyone.yml").read_text())
    assert Path(found["directory"]).resolve() == plugin_dir.resolve()
    assert found["errors"] == []
    assert sorted(found["names"]) == sorted(manifest["operators"] + manifest["panels"])
    assert all(uri == f"{PLUGIN}/{name}" for uri, name in zip(found["uris"], found["names"]))
    # the installed package, not the checkout's nor a copy inside the plugin directory
    assert Path(found["classlab"]).resolve().is_relative_to(site.resolve())
    assert found["list_models"] == {"models": {}, "count": 0, "table": []}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """``pip install`` of the package: a wheel built from the checkout's sources,
    installed by pip (no dependencies: this venv has them) into a folder."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "plugins", src / "plugins", ignore=SKIP)
    _pip("wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(src))
    (wheel,) = (tmp / "dist").glob("classlab-*.whl")
    _pip("install", "-q", "--no-deps", "--no-index", "--target", str(tmp / "site"), str(wheel))
    # every module of the core made it into the wheel (a folder without
    # __init__.py would be left out by setuptools' package discovery)
    ours = {p.relative_to(ROOT / "plugins") for p in (ROOT / "plugins").rglob("*.py")}
    ours = {p for p in ours if "__pycache__" not in p.parts}
    with zipfile.ZipFile(wheel) as zf:
        packed = {Path(n) for n in zf.namelist() if n.endswith(".py")}
    assert ours <= packed, f"left out of the wheel: {sorted(map(str, ours - packed))}"
    return tmp / "site"


def test_copied_plugin_directory_loads_with_the_installed_package(site, tmp_path):
    plugins_dir = tmp_path / "plugins"
    plugin_dir = plugins_dir / "classlab"
    plugin_dir.mkdir(parents=True)
    for name in PLUGIN_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, plugin_dir / name, ignore=SKIP)
        else:
            shutil.copy2(src, plugin_dir / name)
    _check(_probe(plugins_dir, site, tmp_path), plugin_dir, site)


def _repo_archive(dest: Path) -> Path:
    """A zip of the checkout laid out as GitHub's archive of a branch is
    (one top folder), without hidden and generated files."""
    path = dest / "classlab-main.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for top in sorted(ROOT.iterdir()):
            if top.name.startswith(".") or top.name in {"build", "out", "node_modules"}:
                continue
            files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
            for f in files:
                rel = f.relative_to(ROOT)
                if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                    continue
                if rel.parts[0] == "plugins" and ".egg-info" in str(rel):
                    continue
                zf.write(f, f"classlab-main/{rel}")
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_fiftyone_plugins_download_then_load(site, tmp_path):
    """``fiftyone plugins download <URL>`` of the repository's archive (served from
    this machine), then the plugin loads from where FiftyOne put it."""
    served = tmp_path / "served"
    served.mkdir()
    archive = _repo_archive(served)
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    plugins_dir = tmp_path / "plugins"
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{archive.name}"
        fiftyone = Path(sys.executable).parent / "fiftyone"
        proc = subprocess.run(
            [str(fiftyone), "plugins", "download", url],
            env=_env(plugins_dir, site),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stderr[-4000:]
    manifests = list(plugins_dir.rglob("fiftyone.yml"))
    assert len(manifests) == 1, f"expected one plugin manifest, found {manifests}"
    plugin_dir = manifests[0].parent
    assert plugin_dir == plugins_dir / "@classlab" / "classlab"
    _check(_probe(plugins_dir, site, tmp_path), plugin_dir, site)
