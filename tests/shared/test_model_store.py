import numpy as np
import pytest

from shared.contract.errors import ModelFileRejected
from shared.engine.model_store import ModelStore


def test_round_trip(tmp_path):
    store = ModelStore(tmp_path, "secret")
    store.save("abc", "v1", {"weights": np.arange(3)})
    loaded = store.load("abc", "v1")
    assert loaded["weights"].tolist() == [0, 1, 2]
    assert store.load("missing", "v1") is None


def test_tampered_file_is_refused_not_loaded(tmp_path, monkeypatch):
    store = ModelStore(tmp_path, "secret")
    path = store.save("abc", "v1", {"x": 1})
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF
    path.write_bytes(bytes(blob))

    def must_not_unpickle(*args, **kwargs):
        raise AssertionError("a file with a bad signature was unpickled")

    monkeypatch.setattr("shared.engine.model_store.joblib.load", must_not_unpickle)
    with pytest.raises(ModelFileRejected):
        store.load_verified("abc", "v1")
    assert store.load("abc", "v1") is None  # logged and treated as absent: the caller re-fits


def test_file_signed_with_another_key_is_refused(tmp_path):
    ModelStore(tmp_path, "old-secret").save("abc", "v1", {"x": 1})
    with pytest.raises(ModelFileRejected):
        ModelStore(tmp_path, "new-secret").load_verified("abc", "v1")


def test_truncated_file_is_refused(tmp_path):
    store = ModelStore(tmp_path, "secret")
    path = store.save("abc", "v1", {"x": 1})
    path.write_bytes(path.read_bytes()[:10])
    with pytest.raises(ModelFileRejected):
        store.load_verified("abc", "v1")


def test_needs_a_key(tmp_path):
    with pytest.raises(ValueError):
        ModelStore(tmp_path, "")
