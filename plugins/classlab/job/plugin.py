"""Makes this checkout visible to FiftyOne as the ``@classlab/classlab`` plugin."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional

from classlab.errors import ClassLabError

logger = logging.getLogger("classlab")


def repo_root() -> Path:
    """The plugin directory (the repository root holding ``fiftyone.yml``)."""
    root = Path(__file__).resolve().parents[3]  # <root>/plugins/classlab/job/plugin.py
    if not (root / "fiftyone.yml").is_file():
        raise ClassLabError(
            f"{root} has no fiftyone.yml: install ClassLab from its repository "
            "(pip install -e .) so the plugin files are next to the package"
        )
    return root


def install_plugin(plugins_dir: Optional[str | Path] = None) -> Path:
    """Links the plugin into FiftyOne's plugins directory (idempotent).

    Args:
        plugins_dir: defaults to ``fo.config.plugins_dir``

    Returns:
        the path of the link
    """
    import fiftyone as fo

    target = repo_root()
    plugins_dir = Path(plugins_dir or fo.config.plugins_dir).expanduser()
    plugins_dir.mkdir(parents=True, exist_ok=True)
    link = plugins_dir / "classlab"
    if link.is_symlink() and link.resolve() == target:
        return link
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
