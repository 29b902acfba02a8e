"""The plugin's ``__init__.py``: importable outside a package (what pytest does with
a rootdir whose name is not a module name), and registers everything from one."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_entry_imports_outside_a_package():
    spec = importlib.util.spec_from_file_location("classlab-checkout", ROOT / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # a top-level relative import would fail here
    assert callable(module.register)


def test_entry_registers_every_operator_and_panel_of_the_manifest():
    spec = importlib.util.spec_from_file_location(
        "classlab_entry_pkg", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        registered = []

        class Plugin:
            def register(self, cls):
                registered.append(cls().config.name)

        module.register(Plugin())
    finally:
        for name in [n for n in sys.modules if n.startswith(spec.name)]:
            del sys.modules[name]
    manifest = yaml.safe_load((ROOT / "fiftyone.yml").read_text())
    assert sorted(registered) == sorted(manifest["operators"] + manifest["panels"])
