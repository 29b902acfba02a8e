"""The main job links this checkout into FiftyOne's plugins directory before the App."""

import pytest
from classlab.errors import ClassLabError
from classlab.job.plugin import install_plugin, repo_root


def test_repo_root_is_the_plugin_directory():
    root = repo_root()
    assert (root / "fiftyone.yml").is_file() and (root / "plugins" / "classlab").is_dir()


def test_install_plugin_links_the_checkout_once(tmp_path):
    link = install_plugin(tmp_path / "plugins")
    assert link.is_symlink() and link.resolve() == repo_root()
    assert install_plugin(tmp_path / "plugins") == link  # idempotent


def test_install_plugin_refuses_a_foreign_directory(tmp_path):
    (tmp_path / "classlab").mkdir()
    with pytest.raises(ClassLabError, match="is not ClassLab"):
        install_plugin(tmp_path)
