import gzip
import shutil

import numpy as np
import pytest
from classlab import defaults
from classlab.data.mnist import find_mnist_files, load_mnist, read_idx, read_mnist
from classlab.errors import DatasetExistsError, DataSourceError, InputError


def test_read_idx_matches_published_checks(mnist_dir):
    labels = read_idx(mnist_dir / "train-labels-idx1-ubyte.gz")
    assert labels.shape == (60000,)
    assert labels[:5].tolist() == [5, 0, 4, 1, 9]
    assert np.bincount(labels).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    test_labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    assert np.bincount(test_labels).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8


def test_missing_files_named(tmp_path):
    with pytest.raises(DataSourceError, match="train-images-idx3-ubyte"):
        find_mnist_files(tmp_path)
    with pytest.raises(DataSourceError, match="does not exist"):
        find_mnist_files(tmp_path / "nope")


def _copy(mnist_dir, dst):
    for f in mnist_dir.glob("*.gz"):
        shutil.copy(f, dst / f.name)


def test_truncated_gzip_is_reported(mnist_dir, tmp_path):
    _copy(mnist_dir, tmp_path)
    p = tmp_path / "t10k-labels-idx1-ubyte.gz"
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(DataSourceError, match="corrupt or truncated"):
        read_mnist(tmp_path)


def test_truncated_payload_is_reported(mnist_dir, tmp_path):
    _copy(mnist_dir, tmp_path)
    p = tmp_path / "t10k-images-idx3-ubyte.gz"
    data = gzip.decompress(p.read_bytes())[:-100]
    p.write_bytes(gzip.compress(data))
    with pytest.raises(DataSourceError, match="truncated"):
        read_mnist(tmp_path)


def test_not_idx(tmp_path):
    p = tmp_path / "x-idx1-ubyte"
    p.write_bytes(b"hello world")
    with pytest.raises(DataSourceError, match="magic"):
        read_idx(p)


def test_uncompressed_files_in_torchvision_layout(mnist_dir, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in mnist_dir.glob("*.gz"):
        (raw / f.name[:-3]).write_bytes(gzip.decompress(f.read_bytes()))
    found = find_mnist_files(tmp_path)
    assert found["train"][0].name == "train-images-idx3-ubyte"


def test_load_mnist_labels_tags_media(mnist_dir, dataset_name, tmp_root):
    ds = load_mnist(mnist_dir, dataset_name=dataset_name, limit_per_split=20)
    assert len(ds) == 40 and ds.persistent
    assert ds.count_sample_tags() == {"train": 20, "test": 20}
    train = ds.match_tags("train")
    assert train.values("ground_truth.label")[:5] == [
        "5 - five",
        "0 - zero",
        "4 - four",
        "1 - one",
        "9 - nine",
    ]
    assert ds.default_classes == defaults.MNIST_CLASSES
    path = train.first().filepath
    assert path.startswith(str(tmp_root / "classlab" / "media")) and path.endswith(".png")
    from PIL import Image

    img = np.asarray(Image.open(path))
    expected = read_idx(mnist_dir / "train-images-idx3-ubyte.gz")[0]
    assert np.array_equal(img, expected)  # lossless


def test_existing_name_refused_then_overwritten(mnist_dir, mnist_small, unchanged):
    with unchanged(mnist_small):
        with pytest.raises(DatasetExistsError, match="overwrite=True"):
            load_mnist(mnist_dir, dataset_name=mnist_small.name, limit_per_split=5)
    ds = load_mnist(mnist_dir, dataset_name=mnist_small.name, limit_per_split=5, overwrite=True)
    assert len(ds) == 10


def test_failed_overwrite_keeps_old_dataset(mnist_small, tmp_path, unchanged):
    with unchanged(mnist_small):
        with pytest.raises(DataSourceError):
            load_mnist(tmp_path, dataset_name=mnist_small.name, overwrite=True)


def test_bad_limit(mnist_dir, dataset_name):
    import fiftyone as fo

    with pytest.raises(InputError, match="positive"):
        load_mnist(mnist_dir, dataset_name=dataset_name, limit_per_split=0)
    assert not fo.dataset_exists(dataset_name)
