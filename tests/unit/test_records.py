from classlab import records


def test_records_roundtrip(mnist_small):
    assert records.list_records(mnist_small, "models") == {}
    records.set_record(mnist_small, "models", "a", {"x": 1, "hist": [1, 2]})
    rec = records.get_record(mnist_small, "models", "a")
    rec["x"] = 99  # a copy: the stored record is unchanged
    assert records.get_record(mnist_small, "models", "a")["x"] == 1
    records.update_record(mnist_small, "models", "a", y=2)
    records.rename_record(mnist_small, "models", "a", "b")
    assert records.list_records(mnist_small, "models") == {"b": {"x": 1, "hist": [1, 2], "y": 2}}
    assert records.delete_record(mnist_small, "models", "b")["y"] == 2
    assert records.get_record(mnist_small, "models", "b") is None
