import fiftyone as fo
import fiftyone.operators as foo
import pytest
from fiftyone.operators.executor import ExecutionError
from support.forms import core_message, errors, form


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
        with pytest.raises(ExecutionError, match="sum to at most 1"):
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


# ---- forms show the core's own message (one rule, one place) ----------------------------


def test_split_form_valid_has_no_error(mnist_small):
    assert errors(form("split_dataset", mnist_small, {"overwrite": True})) == {}


@pytest.mark.parametrize(
    "params, prop, fractions",
    [
        ({"train": 0.5, "val": 1.5}, "val", {"train": 0.5, "val": 1.5}),
        ({"train": 0.9, "val": 0.4}, "val", {"train": 0.9, "val": 0.4}),
        ({"train": 0.8, "val": 0.1, "test": -0.2}, "test", {"train": 0.8, "test": -0.2}),
        ({"train": 0.0, "val": 0.0}, "train", {}),
    ],
)
def test_split_form_fraction_message_is_the_cores(mnist_small, unchanged, params, prop, fractions):
    from classlab.data.splits import split_dataset

    shown = errors(form("split_dataset", mnist_small, {**params, "overwrite": True}))
    assert list(shown) == [prop]
    with unchanged(mnist_small):
        assert shown[prop] == core_message(split_dataset, mnist_small, fractions, overwrite=True)


def test_split_form_existing_tags_message_is_the_cores(mnist_small, unchanged):
    from classlab.data.splits import split_dataset

    shown = errors(form("split_dataset", mnist_small, {"train": 0.8, "val": 0.2}))
    assert list(shown) == ["overwrite"] and "already have split tags" in shown["overwrite"]
    with unchanged(mnist_small):
        message = core_message(split_dataset, mnist_small, {"train": 0.8, "val": 0.2})
    assert shown["overwrite"] == message


def test_split_operator_takes_only_its_declared_params(execute, mnist_small):
    """``fractions`` is not a parameter of the form, so the operator ignores it."""
    res = execute(
        "split_dataset",
        view=mnist_small.match_tags("train"),
        params=dict(train=0.5, val=0.5, overwrite=True, fractions={"other": 1.0}),
    )
    assert res.result["counts"] == {"train": 150, "val": 150}
    assert "other" not in mnist_small.count_sample_tags()


def test_load_mnist_form_messages_are_the_cores(mnist_dir, mnist_small, tmp_path, unchanged):
    from classlab.data.mnist import load_mnist

    good = dict(source_dir=str(mnist_dir), dataset_name="classlab-test-unused")
    assert errors(form("load_mnist", mnist_small, good)) == {}
    cases = [
        ({"dataset_name": mnist_small.name}, "dataset_name"),
        ({"limit_per_split": 0}, "limit_per_split"),
        ({"source_dir": str(tmp_path / "nowhere")}, "source_dir"),
        ({"source_dir": str(tmp_path)}, "source_dir"),
        ({"label_field": "a.b"}, "label_field"),
    ]
    for change, prop in cases:
        params = {**good, **change}
        shown = errors(form("load_mnist", mnist_small, params))
        assert list(shown) == [prop], (change, shown)
        with unchanged(mnist_small):
            assert shown[prop] == core_message(load_mnist, **params)
        assert not fo.dataset_exists("classlab-test-unused")


def _output(name, dataset, results):
    """``resolve_output`` as the App calls it after execution (the result in ``results``)."""
    from fiftyone.operators.executor import ExecutionContext

    request = {"dataset_name": dataset.name, "params": {}, "results": results}
    ctx = ExecutionContext(request_params=request)
    return foo.get_operator(f"@classlab/classlab/{name}").resolve_output(ctx).type


def test_result_views_give_the_counts_per_split(execute, mnist_small):
    res = execute(
        "split_dataset",
        view=mnist_small.match_tags("train"),
        params=dict(train=0.9, val=0.1, overwrite=True),
    )
    out = _output("split_dataset", mnist_small, res.result)
    assert out.properties["headline"].view.label == "Split 300 samples (train: 270, val: 30)"
    loaded = {"dataset_name": "m", "num_samples": 30, "tags": {"train": 15, "test": 15}}
    out = _output("load_mnist", mnist_small, loaded)
    assert out.properties["headline"].view.label == "Loaded 30 samples into 'm'"
    assert "per split tag: test: 15, train: 15" in out.properties["details"].default
