"""Starting the main job over: its dataset and the files ClassLab wrote for it."""

from __future__ import annotations

import logging
import shutil

logger = logging.getLogger("classlab")


def start_over(dataset_name: str) -> None:
    """Deletes the dataset and the files ClassLab wrote for it (media, models)."""
    import fiftyone as fo

    from classlab.config import media_dir, models_dir

    if fo.dataset_exists(dataset_name):
        fo.delete_dataset(dataset_name)
        logger.info("Deleted dataset %r", dataset_name)
    for path in (media_dir(dataset_name), models_dir(dataset_name)):
        if path.exists():
            shutil.rmtree(path)
            logger.info("Deleted %s", path)
