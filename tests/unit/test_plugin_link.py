"""install_plugin without a checkout: an installed wheel uses the plugin that
``fiftyone plugins download`` put in the plugins directory."""

import shutil

import pytest
from classlab.errors import ClassLabError
from classlab.job import plugin


def _no_checkout(monkeypatch):
    monkeypatch.setattr(plugin, "checkout_root", lambda: None)


def test_installed_package_uses_the_downloaded_plugin(tmp_path, monkeypatch):
    downloaded = tmp_path / "plugins" / "classlab-main" / "classlab-main"
    downloaded.mkdir(parents=True)
    shutil.copy(plugin.repo_root() / "fiftyone.yml", downloaded / "fiftyone.yml")
    (tmp_path / "plugins" / "other").mkdir()
    (tmp_path / "plugins" / "other" / "fiftyone.yml").write_text("name: '@x/y'\n")
    _no_checkout(monkeypatch)
    assert plugin.install_plugin(tmp_path / "plugins") == downloaded
    assert not (tmp_path / "plugins" / "classlab").exists()  # nothing linked


def test_installed_package_without_plugin_says_what_to_do(tmp_path, monkeypatch):
    _no_checkout(monkeypatch)
    with pytest.raises(ClassLabError, match="fiftyone plugins download"):
        plugin.install_plugin(tmp_path / "plugins")


def test_the_main_job_finds_mnist_beside_the_checkout(monkeypatch):
    from classlab.job.cli import default_mnist_dir

    monkeypatch.delenv("CLASSLAB_MNIST_DIR", raising=False)
    beside = plugin.repo_root().parent / "shared" / "datasets" / "mnist"
    assert default_mnist_dir() == (str(beside) if beside.is_dir() else None)
    monkeypatch.setenv("CLASSLAB_MNIST_DIR", "/data/mnist")
    assert default_mnist_dir() == "/data/mnist"
