import fiftyone as fo
import fiftyone.operators as foo
import pytest
from fiftyone.operators.executor import ExecutionError


def test_plugin_lists_its_operators():
    names = {op.uri for op in foo.list_operators()}
    assert "@classlab/classlab/load_mnist" in names
    assert "@classlab/classlab/split_dataset" in names


def test_load_mnist_operator(execute, mnist_dir, mnist_base, dataset_name):
    result = execute(
        "load_mnist",
        dataset=mnist_base,
        params=dict(source_dir=str(mnist_dir), dataset_name=dataset_name, limit_per_split=15),
    )
    assert result.result["num_samples"] == 30
    assert fo.load_dataset(dataset_name).count_sample_tags() == {"train": 15, "test": 15}


def test_load_mnist_operator_refuses_existing(execute, mnist_dir, mnist_small, unchanged):
    with unchanged(mnist_small):
        with pytest.raises(ExecutionError, match="already exists"):
            execute(
                "load_mnist",
                dataset=mnist_small,
                params=dict(source_dir=str(mnist_dir), dataset_name=mnist_small.name),
            )


def test_load_mnist_operator_missing_files(execute, mnist_base, tmp_path, dataset_name):
    with pytest.raises(ExecutionError, match="lacks the MNIST IDX"):
        execute(
            "load_mnist",
            dataset=mnist_base,
            params=dict(source_dir=str(tmp_path), dataset_name=dataset_name),
        )
    assert not fo.dataset_exists(dataset_name)


def test_split_operator(execute, mnist_small):
    res = execute(
        "split_dataset",
        view=mnist_small.match_tags("train"),
        params=dict(train=0.75, val=0.25, overwrite=True, seed=7),
    )
    assert res.result["counts"] == {"train": 225, "val": 75}
    assert mnist_small.count_sample_tags()["test"] == 300


def test_split_operator_validates_form(execute, mnist_small, unchanged):
    with unchanged(mnist_small):
        with pytest.raises(ExecutionError, match="sum to <= 1"):
            execute("split_dataset", view=mnist_small, params=dict(train=0.8, val=0.4))
        with pytest.raises(ExecutionError, match="no samples"):
            execute("split_dataset", view=mnist_small.limit(0), params=dict(train=0.8))
        with pytest.raises(ExecutionError, match="already have split tags"):
            execute("split_dataset", view=mnist_small, params=dict(train=0.8, val=0.2))


def test_load_mnist_form_flags_missing_directory(execute, mnist_base, tmp_path, dataset_name):
    with pytest.raises(ExecutionError, match="is not a directory"):
        execute(
            "load_mnist",
            dataset=mnist_base,
            params=dict(source_dir=str(tmp_path / "nowhere"), dataset_name=dataset_name),
        )
    assert not fo.dataset_exists(dataset_name)
