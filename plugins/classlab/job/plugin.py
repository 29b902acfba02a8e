"""Makes this checkout visible to FiftyOne as the ``@classlab/classlab`` plugin."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional

from classlab.errors import ClassLabError

logger = logging.getLogger("classlab")


PLUGIN_NAME = "@classlab/classlab"


def checkout_root() -> Optional[Path]:
    """The repository root holding ``fiftyone.yml`` when the package runs from a
    checkout (``pip install -e .``); None for an installed wheel."""
    root = Path(__file__).resolve().parents[3]  # <root>/plugins/classlab/job/plugin.py
    return root if (root / "fiftyone.yml").is_file() else None


def repo_root() -> Path:
    """The plugin directory of this checkout (the repository root)."""
    root = checkout_root()
    if root is None:
        raise ClassLabError(
            f"{Path(__file__).resolve().parents[3]} has no fiftyone.yml: this classlab "
            "package is not a checkout. Install the plugin with `fiftyone plugins download "
            "<ClassLab's repository URL>` (or use a checkout with pip install -e .)"
        )
    return root


def find_installed(plugins_dir: str | Path) -> Optional[Path]:
    """The directory of an ``@classlab/classlab`` plugin already in ``plugins_dir``
    (e.g. from ``fiftyone plugins download``), or None."""
    import yaml

    base = Path(plugins_dir).expanduser()
    for depth in ("*/fiftyone.yml", "*/*/fiftyone.yml", "*/*/*/fiftyone.yml"):
        for manifest in sorted(base.glob(depth)):
            try:
                name = (yaml.safe_load(manifest.read_text()) or {}).get("name")
            except (OSError, yaml.YAMLError):
                continue
            if name == PLUGIN_NAME:
                return manifest.parent
    return None


def install_plugin(plugins_dir: Optional[str | Path] = None) -> Path:
    """Makes ``@classlab/classlab`` visible to FiftyOne (idempotent).

    From a checkout, links it into ``plugins_dir``; with an installed package
    (no checkout), uses the plugin already there (``fiftyone plugins download``).

    Args:
        plugins_dir: defaults to ``fo.config.plugins_dir``

    Returns:
        the plugin's path (the link, or the installed plugin's directory)

    Raises:
        ClassLabError: no checkout and no installed plugin, or ``classlab`` in
            ``plugins_dir`` is something else
    """
    import fiftyone as fo

    plugins_dir = Path(plugins_dir or fo.config.plugins_dir).expanduser()
    target = checkout_root()
    if target is None:
        found = find_installed(plugins_dir)
        if found is not None:
            return found
        repo_root()  # raises with what to do
    plugins_dir.mkdir(parents=True, exist_ok=True)
    link = plugins_dir / "classlab"
    if link.exists() or link.is_symlink():
        if link.resolve() == target:
            return link
        raise ClassLabError(
            f"{link} exists and is not ClassLab from {target}: remove it or set "
            "FIFTYONE_PLUGINS_DIR to another directory"
        )
    os.symlink(target, link)
    logger.info("Linked the ClassLab plugin into %s", plugins_dir)
    return link
