"""One way from a user's key or dataset name to a path under ClassLab's root."""

import os

import pytest
from classlab import config
from classlab.errors import InputError

BAD_KEYS = [
    "",
    ".",
    "..",
    "_..",
    " ..",
    "/..",
    "a/b",
    "a\\b",
    "../x",
    ".hidden",
    "a..b",
    "/anywhere/else/evil",
    "x" * 129,
    "tab\tkey",
    "日本語",
    None,
    3,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused_naming_the_parameter(key):
    with pytest.raises(InputError, match=r"augment_key=.*not a valid key.*letters, digits"):
        config.check_key(key, "augment_key")


@pytest.mark.parametrize("key", ["lenet_v1", "a.b", "v-2", "_x", "A9"])
def test_good_keys_pass_and_are_their_own_folder(key):
    assert config.check_key(key) == key
    assert config.folder_name(key) == key


def test_folder_names_never_collide():
    names = [
        "coll x",
        "coll/x",
        "coll_x",
        "a/b",
        "a_b",
        "a\\b",
        "..",
        "_..",
        " ..",
        "/..",
        "日本語",
        "日本",
        ".preview",
        "preview",
        "a" * 200,
        "a" * 201,
    ]
    folders = [config.folder_name(n) for n in names]
    assert len(set(folders)) == len(names)
    for f in folders:
        assert "/" not in f and "\\" not in f and f not in (".", "..") and not f.startswith(".")
        assert len(f) <= 128


def test_media_and_model_dirs_stay_inside_the_root(tmp_root):
    root = config.root_dir()
    for name in ["..", "../../etc", "/abs/path", "coll/x", "日本語"]:
        for path in (config.media_dir(name, "augmentations", "_.."), config.models_dir(name)):
            assert root in path.resolve().parents
            assert config.inside_root(path) == path.resolve()


def test_deletes_are_confined_to_the_root(tmp_path):
    outside = tmp_path / "keep"
    outside.mkdir()
    (outside / "f.txt").write_text("user data")
    with pytest.raises(InputError, match="not inside ClassLab's root"):
        config.remove_tree(outside)
    with pytest.raises(InputError, match="not inside ClassLab's root"):
        config.remove_file(outside / "f.txt")
    with pytest.raises(InputError, match="not inside ClassLab's root"):
        config.remove_tree(config.root_dir())
    # a path that climbs out through '..' is caught after resolving
    with pytest.raises(InputError):
        config.remove_tree(config.root_dir() / "media" / ".." / ".." / "x")
    # a link inside the root pointing outside resolves outside: refused
    link = config.root_dir() / "media" / "link-out"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink():
        link.unlink()
    os.symlink(outside, link)
    with pytest.raises(InputError):
        config.remove_tree(link)
    link.unlink()
    assert (outside / "f.txt").read_text() == "user data"
    inside = config.media_dir("paths-test", "x")
    inside.mkdir(parents=True)
    (inside / "a.png").write_bytes(b"x")
    assert config.remove_file(inside / "a.png") and not (inside / "a.png").exists()
    assert config.remove_tree(inside) and not inside.exists()
    assert not config.remove_tree(inside)


def test_next_free_name_skips_taken_versions():
    from classlab.validation import next_free_name

    assert next_free_name([], "lenet") == "lenet"
    assert next_free_name(["lenet", "lenet_v2"], "lenet") == "lenet_v3"
    assert next_free_name(["lenet", "lenet_v2"], "lenet_v2") == "lenet_v3"
    assert next_free_name(["augment_v1"], "augment_v1") == "augment_v2"
    assert next_free_name(["x_vq"], "x_vq") == "x_vq_v2"
