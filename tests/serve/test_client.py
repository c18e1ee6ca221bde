"""RemoteDatabase against the service in process: the same answers and the same errors as Database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from fuzzykv import Database, Embeddings, EmptyTextError, InvalidOptionError, ReadOnlyStoreError, UnknownWordError
from fuzzykv.errors import FuzzyKVError
from fuzzykv.serve.app import create_app
from fuzzykv.serve.client import AuthenticationError, RemoteDatabase, ServiceUnavailableError, _error_from
from fuzzykv.serve.config import ServeConfig

PAIRS = {"one": "number", "cat": "animal", "dog": "animal", "ball": "toy", "sphere": "shape", "male": "gender"}


@pytest.fixture()
def local(tmp_path: Path, glove: Embeddings) -> Iterator[Database]:
    with Database.open(tmp_path / "s.fkv") as db:
        db.update(PAIRS)
        yield db


def remote_for(db: Database, token: str | None = None, read_only: bool = False) -> RemoteDatabase:
    app = create_app(ServeConfig(store=Path("unused.fkv"), token=token, read_only=read_only), database=db)
    return RemoteDatabase("http://testserver", token=token, client=TestClient(app, raise_server_exceptions=False))


@pytest.fixture()
def remote(local: Database) -> Iterator[RemoteDatabase]:
    with remote_for(local) as db:
        yield db


def test_mapping_protocol(remote: RemoteDatabase, local: Database) -> None:
    assert len(remote) == len(PAIRS) and list(remote) == list(PAIRS) and dict(remote.items()) == PAIRS
    assert list(remote.values()) == list(PAIRS.values())
    remote["new york"] = "city"
    assert remote["new york"] == "city" == local["new york"] and "new york" in remote and 3 not in remote  # type: ignore[comparison-overlap]
    del remote["new york"]
    with pytest.raises(KeyError) as missing:
        remote["new york"]
    assert missing.value.args == ("new york",)
    with pytest.raises(KeyError):
        del remote["new york"]
    remote.update({"kitten": "animal"}, cube="shape")
    assert local["kitten"] == "animal" and local["cube"] == "shape"
    assert remote.pop("cube") == "shape" and "cube" not in local


def test_iteration_pages_through_many_pairs(
    remote: RemoteDatabase, local: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fuzzykv.serve.client.PAGE", 4)
    numbers = {str(n): "number" for n in range(10)}
    remote.update(numbers)  # in three requests
    assert list(remote) == list(local) == [*PAIRS, *numbers]


def test_same_answers_as_local(remote: RemoteDatabase, local: Database) -> None:
    assert remote.query("rhombus", exact=True) == local.query("rhombus", exact=True)
    assert remote.query(positive=["seven"], negative="one", k=2) == local.query(positive=["seven"], negative="one", k=2)
    assert remote.query_batch(["rhombus", "seven"], k=2) == local.query_batch(["rhombus", "seven"], k=2)
    for got, want in zip(remote.search_batch(["rhombus", "sevn"], k=2, exact=True),
                         local.search_batch(["rhombus", "sevn"], k=2, exact=True, attention_k=10)):
        assert (got.words, got.attention, got.corrections, got.text) == (want.words, want.attention, want.corrections, want.text)
        np.testing.assert_array_equal(got.vector, want.vector)
    assert remote.lookup("puppy") == local.lookup("puppy") == "animal"
    assert remote.lookup("banana", default="?", min_similarity=0.99) == "?"
    assert remote.nearest("puppy", k=2) == local.nearest("puppy", k=2)  # floats survive JSON exactly
    assert remote.classify("kitten").label == local.classify("kitten").label
    assert remote.settings == local.settings


def test_search_result(remote: RemoteDatabase, local: Database) -> None:
    far, near = remote.search("rhombuss", k=3, attention_k=2), local.search("rhombuss", k=3, attention_k=2)
    assert far.words == near.words and [k for k, _ in far.attention] == [k for k, _ in near.attention]
    assert far.vector.shape == near.vector.shape == (50,) and far.vector == pytest.approx(near.vector, abs=1e-6)
    assert far.corrections == near.corrections and far.approximate
    assert far.best_similarity == pytest.approx(near.best_similarity)


def test_same_error_classes(remote: RemoteDatabase) -> None:
    with pytest.raises(EmptyTextError):
        remote.query("   ")
    with pytest.raises(InvalidOptionError, match="k must be"):
        remote.query("cat", k=0)
    with pytest.raises(InvalidOptionError, match="ValidationError|Input should"):
        remote.query("cat", k=10_000)
    with pytest.raises(UnknownWordError) as unknown:
        remote["cat"] = "qqxzqqwv"
    assert unknown.value.words == ("qqxzqqwv",) and "qqxzqqwv" in str(unknown.value)


def test_token_and_read_only(local: Database) -> None:
    guarded = TestClient(create_app(ServeConfig(store=Path("unused.fkv"), token="t0k3n"), database=local))
    with pytest.raises(AuthenticationError, match="token"):
        len(RemoteDatabase("http://testserver", token="wrong", client=guarded))
    assert len(remote_for(local, token="t0k3n")) == len(PAIRS)
    with pytest.raises(ReadOnlyStoreError), remote_for(local, read_only=True) as readonly:
        readonly["kitten"] = "animal"


def test_unknown_error_names_and_unreachable_services() -> None:
    odd = httpx.Response(418, json={"error": {"type": "TeapotError", "message": "short and stout"}})
    assert type(_error_from(odd)).__mro__[1] is FuzzyKVError and "short and stout" in str(_error_from(odd))
    assert type(_error_from(httpx.Response(502, text="<html>bad gateway</html>"))).__mro__[1] is FuzzyKVError
    with RemoteDatabase("http://127.0.0.1:9", timeout=2) as nowhere:
        with pytest.raises(ServiceUnavailableError, match="running"):
            len(nowhere)
