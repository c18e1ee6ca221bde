"""The service in process (FastAPI's TestClient): every endpoint, the error shape and statuses, the token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import WRITEUP_PAIRS
from fastapi.testclient import TestClient

from fuzzykv import Database, Embeddings, StoreFullError, StoreSettingsError
from fuzzykv.serve.app import create_app
from fuzzykv.serve.config import LIMITS, ServeConfig
from fuzzykv.serve.errors import status_of
from fuzzykv.serve.models import QueryAnswer, QueryBatchAnswer

PAIRS = WRITEUP_PAIRS
TOKEN = "s3cret-token"


@pytest.fixture()
def store(tmp_path: Path, glove: Embeddings) -> Iterator[Database]:
    with Database.open(tmp_path / "s.fkv") as db:
        db.update(PAIRS)
        yield db


def client_for(db: Any, **config: Any) -> TestClient:
    app = create_app(ServeConfig(store=Path("unused.fkv"), **config), database=db)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture()
def http(store: Database) -> TestClient:
    return client_for(store)


def error_of(response: Any) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"error"} and "Traceback" not in response.text
    return response.status_code, body["error"]["type"]


def test_health_and_info(http: TestClient) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    info = http.get("/v1/info").json()
    assert info["pairs"] == len(PAIRS) and info["dimension"] == 50 and info["read_only"] is False
    assert info["settings"]["similarity"] == "cosine" and info["limits"]["max_k"] == LIMITS.max_k
    assert "/v1/query" in http.get("/openapi.json").json()["paths"]


def test_pairs_round_trip(http: TestClient, store: Database) -> None:
    assert http.put("/v1/pairs/kitten", json={"value": "animal"}).json() == {"key": "kitten", "value": "animal"}
    assert store["kitten"] == "animal"
    assert http.get("/v1/pairs/kitten").json() == {"key": "kitten", "value": "animal"}
    assert http.delete("/v1/pairs/kitten").status_code == 204
    assert error_of(http.get("/v1/pairs/kitten")) == (404, "KeyError")
    assert error_of(http.delete("/v1/pairs/kitten")) == (404, "KeyError")


def test_pages_follow_the_stores_order(http: TestClient) -> None:
    first = http.get("/v1/pairs", params={"limit": 4}).json()
    assert [p["key"] for p in first["pairs"]] == list(PAIRS)[:4] and first["next"] == list(PAIRS)[3]
    rest = http.get("/v1/pairs", params={"limit": 4, "after": first["next"]}).json()
    assert [p["key"] for p in rest["pairs"]] == list(PAIRS)[4:] and rest["next"] is None
    assert error_of(http.get("/v1/pairs", params={"after": "nokey"})) == (400, "InvalidOptionError")
    assert error_of(http.get("/v1/pairs", params={"limit": 0})) == (422, "ValidationError")


def test_batch_is_all_or_nothing(http: TestClient, store: Database) -> None:
    good = {"pairs": [{"key": "kitten", "value": "animal"}, {"key": "cube", "value": "shape"}]}
    assert http.post("/v1/pairs:batch", json=good).json() == {"written": 2}
    bad = {"pairs": [{"key": "puppy", "value": "animal"}, {"key": "qqxzqq", "value": "shape"}]}
    assert error_of(http.post("/v1/pairs:batch", json=bad)) == (400, "UnknownWordError")
    assert "puppy" not in store and store["cube"] == "shape"


def test_query_matches_the_library(http: TestClient, store: Database) -> None:
    answer = http.post("/v1/query", json={"text": "rhombus", "k": 3, "exact": True}).json()
    local = store.search("rhombus", k=3, exact=True, attention_k=10)
    assert answer["words"] == local.words == [c["word"] for c in answer["candidates"]]
    assert [a["key"] for a in answer["attention"]] == [k for k, _ in local.attention]
    assert answer["best_similarity"] == pytest.approx(local.best_similarity)
    assert answer["approximate"] is False and answer["vector"] is None
    assert QueryAnswer.model_validate(answer).model_dump() == answer  # the documented schema, exactly
    with_vector = http.post("/v1/query", json={"text": "rhombus", "vector": True}).json()
    assert len(with_vector["vector"]) == 50
    typo = http.post("/v1/query", json={"text": "rhombuss"}).json()
    assert typo["approximate"] is True and typo["corrections"][0]["used"] == "rhombus"
    composite = http.post("/v1/query", json={"positive": ["seven"], "negative": [], "k": 1}).json()
    assert composite["words"] == store.query(positive=["seven"], k=1)


def test_query_batch_lookup_nearest_classify(http: TestClient, store: Database) -> None:
    batch = http.post("/v1/query:batch", json={"texts": ["rhombus", "seven"], "k": 2, "exact": True}).json()
    assert [r["words"] for r in batch["results"]] == store.query_batch(["rhombus", "seven"], k=2, exact=True)
    local = store.search_batch(["rhombus", "seven"], k=2, exact=True, attention_k=10)
    assert [[a["key"] for a in r["attention"]] for r in batch["results"]] == [[k for k, _ in r.attention] for r in local]
    assert all(r["vector"] is None for r in batch["results"])
    assert QueryBatchAnswer.model_validate(batch).model_dump() == batch
    with_vectors = http.post("/v1/query:batch", json={"texts": ["rhombus", "seven"], "vector": True}).json()
    assert [len(r["vector"]) for r in with_vectors["results"]] == [50, 50]
    assert http.post("/v1/lookup", json={"text": "puppy"}).json()["value"] == "animal"
    exact = http.post("/v1/lookup", json={"text": "cat"}).json()
    assert exact == {"value": "animal", "key": "cat", "similarity": 1.0}
    far = http.post("/v1/lookup", json={"text": "banana", "min_similarity": 0.99}).json()
    assert far["value"] is None and far["key"] is not None
    neighbours = http.post("/v1/nearest", json={"text": "puppy", "k": 2}).json()["neighbours"]
    assert [(n["key"], n["value"]) for n in neighbours] == [(n.key, n.value) for n in store.nearest("puppy", k=2)]
    verdict = http.post("/v1/classify", json={"text": "kitten"}).json()
    assert verdict["label"] == "animal" and sum(s["share"] for s in verdict["scores"]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # The schema declares these limits, so they are schema violations (422) like the others.
        ({"text": ""}, (422, "ValidationError")),
        ({"text": "   "}, (422, "ValidationError")),
        ({"text": "cat", "k": 0}, (422, "ValidationError")),
        ({"text": "cat", "attention_k": 0}, (422, "ValidationError")),
        ({"text": "cat", "min_similarity": 2.0}, (422, "ValidationError")),
        ({}, (400, "EmptyTextError")),
        ({"text": "cat", "k": "5"}, (422, "ValidationError")),
        ({"text": "cat", "k": LIMITS.max_k + 1}, (422, "ValidationError")),
        ({"text": "x" * (LIMITS.max_text_chars + 1)}, (422, "ValidationError")),
        ({"text": "cat", "min_similiarity": 0.5}, (422, "ValidationError")),
    ],
)
def test_bad_queries(http: TestClient, body: dict[str, Any], expected: tuple[int, str]) -> None:
    response = http.post("/v1/query", json=body)
    assert error_of(response) == expected
    assert response.json()["error"]["message"]


def test_not_json_and_unknown_routes(http: TestClient) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    response = http.post("/v1/query", content=b"text=cat", headers=form)
    assert error_of(response) == (422, "ValidationError") and "JSON object" in response.json()["error"]["message"]
    assert error_of(http.post("/v1/query", content=b"{nope", headers={"Content-Type": "application/json"}))[0] == 422
    assert error_of(http.get("/v1/nothing")) == (404, "NotFound")
    assert error_of(http.delete("/v1/query")) == (405, "MethodNotAllowed")


def test_empty_store_is_a_400(tmp_path: Path, glove: Embeddings) -> None:
    with Database.open(tmp_path / "empty.fkv") as db:
        assert error_of(client_for(db).post("/v1/query", json={"text": "cat"})) == (400, "EmptyDatabaseError")


def test_body_limit(store: Database) -> None:
    http = client_for(store, max_body=200)
    assert http.post("/v1/query", json={"text": "cat"}).status_code == 200
    response = http.post("/v1/query", json={"text": "cat " * 100})
    assert error_of(response) == (413, "RequestTooLargeError") and "--max-body" in response.json()["error"]["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        yield b'{"text": "'
        for _ in range(50):
            yield b"cat cat "
        yield b'"}'

    chunked = http.post("/v1/query", content=chunks(), headers={"Content-Type": "application/json"})
    assert error_of(chunked) == (413, "RequestTooLargeError")


def test_token(store: Database) -> None:
    http = client_for(store, token=TOKEN)
    assert http.get("/healthz").status_code == 200
    assert error_of(http.get("/v1/info")) == (401, "AuthenticationError")
    assert http.get("/v1/info").headers["www-authenticate"] == "Bearer"
    assert error_of(http.get("/v1/info", headers={"Authorization": "Bearer wrong"})) == (401, "AuthenticationError")
    assert error_of(http.get("/v1/info", headers={"Authorization": f"Basic {TOKEN}"})) == (401, "AuthenticationError")
    assert http.get("/v1/info", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert error_of(http.post("/v1/query", json={"text": "cat"})) == (401, "AuthenticationError")


def test_read_only_service_refuses_writes(store: Database) -> None:
    http = client_for(store, read_only=True)
    assert http.get("/v1/info").json()["read_only"] is True
    assert error_of(http.put("/v1/pairs/kitten", json={"value": "animal"})) == (403, "ReadOnlyStoreError")
    assert error_of(http.delete("/v1/pairs/cat")) == (403, "ReadOnlyStoreError")
    assert error_of(http.post("/v1/pairs:batch", json={"pairs": []})) == (403, "ReadOnlyStoreError")
    assert "kitten" not in store and http.get("/v1/pairs/cat").status_code == 200


def test_read_only_store_refuses_writes(tmp_path: Path, glove: Embeddings) -> None:
    Database.open(tmp_path / "s.fkv").close()
    with Database.open(tmp_path / "s.fkv", read_only=True) as db:
        assert error_of(client_for(db).put("/v1/pairs/kitten", json={"value": "animal"})) == (403, "ReadOnlyStoreError")


class Broken(dict[str, str]):
    """A store whose writes fail as a full disk would, and whose queries hit a bug."""

    def __setitem__(self, key: str, value: str) -> None:
        raise StoreFullError("the disk is full")

    def search(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug with a secret path /home/x")


def test_server_faults_are_logged_not_shown(caplog: pytest.LogCaptureFixture) -> None:
    http = client_for(Broken())
    with caplog.at_level("ERROR", logger="fuzzykv.serve"):
        assert error_of(http.put("/v1/pairs/cat", json={"value": "animal"})) == (507, "StoreFullError")
    assert "StoreFullError" in caplog.text and caplog.records[0].exc_info is not None
    response = http.post("/v1/query", json={"text": "cat"})
    assert error_of(response) == (500, "InternalError") and "secret" not in response.text


def test_statuses_of_the_error_classes() -> None:
    assert status_of(StoreSettingsError("x")) == 409
    assert status_of(StoreFullError("x")) == 507
