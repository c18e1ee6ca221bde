"""The service's contract as outside tools check it (issue 23): schemathesis against a real
``fuzzykv serve``, a cold start that never blocks ``/healthz``, and the cases fuzzing found."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import test_app
from fastapi.testclient import TestClient
from test_app import PAIRS, client_for, error_of
from test_service import TOKEN, Server, start, stop

from fuzzykv import Database, Embeddings, errors
from fuzzykv.serve.app import create_app
from fuzzykv.serve.client import RemoteDatabase
from fuzzykv.serve.config import LIMITS, ServeConfig
from fuzzykv.serve.errors import error_response
from fuzzykv.serve.models import NOT_BLANK

AUTH = {"Authorization": f"Bearer {TOKEN}"}
store = test_app.store  # the fixture of a served store, as test_app makes it


# -- errors carry their HTTP form (issue 21, item 3) ------------------------------------------------


def test_each_error_class_states_its_status_once_and_the_client_reads_it_back() -> None:
    assert errors.ReadOnlyStoreError.http_status == 403 and errors.StoreFullError.http_status == 507
    assert errors.NotAStoreError.http_status == 500  # inherited from StoreError
    assert errors.error_class("ValidationError") is errors.RequestSchemaError
    assert errors.error_class("KeyError") is errors.MissingKeyError
    from fuzzykv.serve import client
    from fuzzykv.serve import errors as served

    # One definition: the client's and the service's AuthenticationError are the library's.
    assert client.AuthenticationError is served.AuthenticationError is errors.AuthenticationError
    for kind in (errors.StoreSettingsError, errors.ShardUnavailableError, errors.EmptyTextError, errors.StoreFullError):
        sent = httpx.Response(kind.http_status, json={"error": {"type": kind.error_type, "message": "m"}})
        rebuilt = client._error_from(sent)
        assert type(rebuilt) is kind and str(rebuilt) == "m"
    unknown = errors.UnknownWordError("qzx cat", ["qzx"], 400_000, every_word=False)
    body = json.loads(served.response_of(unknown).body)["error"]
    again = client._error_from(httpx.Response(400, json={"error": body}))
    assert isinstance(again, errors.UnknownWordError) and again.words == ("qzx",) and str(again) == str(unknown)


def test_a_new_error_class_is_one_edit() -> None:
    class TeapotError(errors.FuzzyKVError):
        http_status = 418

    try:
        from fuzzykv.serve import client
        from fuzzykv.serve.errors import response_of

        answer = response_of(TeapotError("short and stout"))
        assert answer.status_code == 418
        rebuilt = client._error_from(httpx.Response(418, content=answer.body))
        assert type(rebuilt) is TeapotError
    finally:
        errors._BY_TYPE.pop("TeapotError")


# -- item 1: a lone surrogate ------------------------------------------------------------------------


def test_a_lone_surrogate_is_refused_with_422_not_500(store: Database) -> None:
    http = client_for(store)
    raw = b'{"pairs":[{"key":"cat \\ud800","value":"animal"}]}'
    response = http.post("/v1/pairs:batch", content=raw, headers={"Content-Type": "application/json"})
    assert error_of(response) == (422, "ValidationError") and "unicode" in response.json()["error"]["message"]
    put = http.put("/v1/pairs/cat", content=b'{"value":"\\udc00x"}', headers={"Content-Type": "application/json"})
    assert error_of(put) == (422, "ValidationError")
    assert "cat \ud800" not in store


def test_an_error_message_with_a_surrogate_still_renders() -> None:
    answer = error_response(400, "UnknownWordError", "'\ud800' has no word", text="\ud800")
    assert json.loads(answer.body)["error"]["text"] == "\ud800"


# -- item 3: keys with a newline ----------------------------------------------------------------------


def test_a_key_with_a_newline_is_usable_by_key(store: Database) -> None:
    http = client_for(store)
    assert http.put("/v1/pairs/red%0Ablue", json={"value": "animal"}).status_code == 200
    assert store["red\nblue"] == "animal"
    assert http.get("/v1/pairs/red%0Ablue").json() == {"key": "red\nblue", "value": "animal"}
    assert http.delete("/v1/pairs/red%0Ablue").status_code == 204
    assert "red\nblue" not in store
    remote = RemoteDatabase("http://testserver", client=http)
    remote["cat\r\ndog"] = "animal"
    assert remote["cat\r\ndog"] == "animal"
    del remote["cat\r\ndog"]


# -- item 4: the batch follows PUT's rules --------------------------------------------------------------


@pytest.mark.parametrize("pair", [
    {"key": "k" * 9_999, "value": "animal"},
    {"key": "cat", "value": "v" * 2_799},
    {"key": "cat", "value": "animal", "colour": "red"},
    {"key": "   ", "value": "animal"},
    {"key": "cat", "value": ""},
])
def test_the_batch_refuses_what_put_refuses(store: Database, pair: dict[str, str]) -> None:
    http = client_for(store)
    assert error_of(http.post("/v1/pairs:batch", json={"pairs": [pair]})) == (422, "ValidationError")
    assert len(store) == len(PAIRS)
    if "colour" not in pair:
        put = http.put(f"/v1/pairs/{pair['key']}", json={"value": pair["value"]})
        assert put.status_code in (404, 422)  # a blank key leaves the path (no endpoint): refused either way


# -- item 5: the token before the body --------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"{not json", b'{"k": "five"}', b"[]", b'{"text": 1}'])
def test_no_token_is_401_whatever_the_body(store: Database, body: bytes) -> None:
    http = client_for(store, token=TOKEN)
    for path in ("/v1/query", "/v1/pairs:batch", "/v1/nosuch"):
        response = http.post(path, content=body, headers={"Content-Type": "application/json"})
        assert error_of(response) == (401, "AuthenticationError") and response.headers["www-authenticate"] == "Bearer"
    assert http.post("/v1/query", content=body, headers={"Content-Type": "application/json", **AUTH}).status_code in (
        400, 422)


# -- item 6: Allow lists every method --------------------------------------------------------------------------


def test_options_lists_every_method_of_the_path(store: Database) -> None:
    http = client_for(store)
    response = http.options("/v1/pairs/cat")
    assert error_of(response) == (405, "MethodNotAllowed")
    assert set(response.headers["allow"].split(", ")) == {"GET", "PUT", "DELETE"}
    assert http.patch("/v1/query").headers["allow"] == "POST"


# -- item 7: the schema says what the service does ---------------------------------------------------------------


def test_the_schema_declares_auth_errors_and_limits(store: Database) -> None:
    schema = client_for(store, token=TOKEN).get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http", "scheme": "bearer", "description": schema["components"]["securitySchemes"]["HTTPBearer"]["description"]}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            if path.startswith("/v1"):
                assert operation["security"] == [{"HTTPBearer": []}], (method, path)
                assert {"401", "404", "405", "422", "500", "503"} <= statuses, (method, path)
                assert operation["responses"]["503"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
            elif path == "/healthz":
                assert statuses == {"200"}
            elif path == "/readyz":
                assert statuses == {"200", "503"}
    models = schema["components"]["schemas"]
    query = models["QueryBody"]["properties"]
    assert (query["k"]["minimum"], query["k"]["maximum"]) == (1, LIMITS.max_k)
    assert (query["attention_k"]["minimum"], query["attention_k"]["maximum"]) == (1, LIMITS.max_k)
    assert models["QueryBody"]["additionalProperties"] is False
    text = models["ClassifyBody"]["properties"]["text"]
    assert (text["minLength"], text["maxLength"], text["pattern"]) == (1, LIMITS.max_text_chars, NOT_BLANK)
    pair = models["PairIn"]
    assert pair["additionalProperties"] is False and pair["properties"]["key"]["maxLength"] == LIMITS.max_text_chars
    assert {"words", "text", "vocabulary_size", "every_word", "key"} <= set(models["ErrorDetail"]["properties"])


def test_k_over_and_under_its_limits_is_the_same_error(store: Database) -> None:
    http = client_for(store)
    for k in (0, LIMITS.max_k + 1):
        for path in ("/v1/query", "/v1/nearest", "/v1/classify"):
            assert error_of(http.post(path, json={"text": "cat", "k": k})) == (422, "ValidationError")
    assert http.post("/v1/query", json={"text": "cat", "k": 3.0}).json()["words"].__len__() == 3  # JSON's 3.0 is 3


# -- item 2 and readiness: heavy work off the event loop ------------------------------------------------------------


def test_v1_answers_503_while_warming_and_readyz_says_so(tmp_path: Path, glove: Embeddings) -> None:
    gate = threading.Event()

    class SlowToOpen(ServeConfig):
        def open_store(self) -> Any:
            assert gate.wait(60)
            return super().open_store()

    app = create_app(SlowToOpen(store=tmp_path / "w.fkv"))
    app.state.warm_wait = 0.2  # how long a request waits for the warm-up before its 503
    with TestClient(app, raise_server_exceptions=False) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").status_code == 503 and http.get("/readyz").json()["status"] == "warming"
        busy = http.get("/v1/info")
        assert error_of(busy) == (503, "ServiceUnavailableError") and busy.headers["retry-after"] == "1"
        with pytest.raises(errors.ServiceUnavailableError, match="warming"):
            len(RemoteDatabase("http://testserver", client=http))
        gate.set()
        deadline = time.monotonic() + 60
        while http.get("/readyz").json()["status"] == "warming" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert http.get("/readyz").json()["status"] == "ready" and http.get("/v1/info").json()["pairs"] == 0


def test_query_and_writes_run_off_the_event_loop() -> None:
    from fastapi.routing import APIRoute

    from fuzzykv.serve.routers import neighbours, pairs, query, service

    for router in (query.router, pairs.router, neighbours.router, service.router):
        for route in router.routes:
            assert isinstance(route, APIRoute)
            assert not _is_coroutine(route.endpoint), f"{route.path} runs on the event loop"


def _is_coroutine(function: Any) -> bool:
    import inspect

    return inspect.iscoroutinefunction(function)


def test_healthz_answers_throughout_a_cold_start(tmp_path: Path, glove: Embeddings) -> None:
    """A cold cache: the worker converts GloVe and builds its indexes while /healthz keeps answering."""
    with Database.open(tmp_path / "cold.fkv") as db:
        db.update(PAIRS)
    cold = tmp_path / "cold-cache"
    server = start(tmp_path / "cold.fkv", cold, tmp_path / "cold.log", wait_for="/healthz")
    # A /v1 request sent now waits for the warm-up (in the event loop, without blocking it) and answers.
    early: list[httpx.Response] = []
    waiting = threading.Thread(target=lambda: early.append(httpx.get(f"{server.url}/v1/info", timeout=120)))
    waiting.start()
    # NOTE: one client, but a new connection per probe (as a load balancer's): httpx.get() would
    # spend ~150 ms building an SSL context per call, which is the prober's time, not the server's.
    probe = httpx.Client(timeout=5, limits=httpx.Limits(max_keepalive_connections=0))
    try:
        slow: list[float] = []
        states: list[str] = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            began = time.monotonic()
            health = probe.get(f"{server.url}/healthz")
            took = time.monotonic() - began
            assert health.json() == {"status": "ok"}
            if took > 0.1:
                slow.append(round(took, 3))
            ready = probe.get(f"{server.url}/readyz").json()["status"]
            states.append(ready)
            if ready == "ready":
                break
            time.sleep(0.05)
        assert states[-1] == "ready" and "warming" in states, states
        # NOTE: the machine running the tests may be shared: a probe may wait for a core now and then,
        # so the bound is on nearly every probe (95% within 100 ms), and on every one within 0.5 s.
        assert len(slow) <= len(states) // 20 and max(slow, default=0) < 0.5, f"slow /healthz: {slow} of {len(states)}"
        answer = httpx.post(f"{server.url}/v1/query", json={"text": "kitten"}, timeout=60).json()
        assert answer["words"] and (cold / "v1").is_dir()
        waiting.join(120)
        assert early and early[0].status_code in (200, 503)
        print(f"cold start: {len(states)} probes, {states.count('warming')} while warming, over 100 ms: {slow}")
    finally:
        probe.close()
        stop(server)


# -- item 11: a store made with other vectors can be served ---------------------------------------------------------


def test_serve_takes_the_stores_embeddings(tmp_path: Path, glove_file: Path, glove: Embeddings) -> None:
    with Database.open(tmp_path / "small.fkv", embeddings=str(glove_file)) as db:
        db.update({"he": "people", "she": "people", "year": "one"})  # words of gensim's 76-word slice
    config = ServeConfig(store=tmp_path / "small.fkv", embeddings=str(glove_file))
    assert ServeConfig.from_env(config.to_env()) == config
    for given, expected in ((config, "ready"), (ServeConfig(store=tmp_path / "small.fkv"), "failed")):
        app = create_app(given)
        with TestClient(app, raise_server_exceptions=False) as http:
            deadline = time.monotonic() + 60
            while http.get("/readyz").json()["status"] == "warming" and time.monotonic() < deadline:
                time.sleep(0.05)
            readiness = http.get("/readyz").json()
            assert readiness["status"] == expected, readiness
            if expected == "failed":
                assert "--embeddings" in readiness["message"] and "embeddings=..." not in readiness["message"]
            else:
                assert http.post("/v1/lookup", json={"text": "she"}).json()["value"] == "people"
    from click.testing import CliRunner

    from fuzzykv.serve.command import serve

    assert "--embeddings" in CliRunner().invoke(serve, ["--help"]).output


# -- schemathesis against a real service ------------------------------------------------------------------------------

#: A text the schema allows may still hold no known word (400 UnknownWordError), a query may name
#: nothing to query (400 EmptyTextError): answers to schema-valid requests, by design.
SCHEMATHESIS_CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "400", "401", "403", "404", "409"]
"""


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, session_cache: Path, glove: Embeddings) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("fuzzed")
    with Database.open(folder / "f.fkv") as db:
        db.update(PAIRS)
    server = start(folder / "f.fkv", session_cache, folder / "server.log", env={"FUZZYKV_TOKEN": TOKEN})
    yield server
    stop(server)


def schemathesis(server: Server, folder: Path, *args: str) -> dict[str, Any]:
    (folder / "schemathesis.toml").write_text(SCHEMATHESIS_CONFIG)
    report = folder / "report.json"
    command = [str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(folder / "schemathesis.toml"),
               "run", f"{server.url}/openapi.json", "--checks", "all", "--seed", "23",
               # NOTE: one worker: Python 3.11's ast.parse is not thread-safe, and hypothesis calls it.
               "--workers", "1",
               "--phases", "coverage,fuzzing,stateful", "--report", "json", "--report-json-path", str(report),
               "--continue-on-failure", "--request-timeout", "30", *args]
    if shutil.which(command[0]) is None:
        command[0:1] = [sys.executable, "-m", "schemathesis.cli"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=110, cwd=folder,
                          env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    found: dict[str, Any] = json.loads(report.read_text())
    return found


def test_schemathesis_finds_nothing_with_the_token(fuzzed: Server, tmp_path: Path) -> None:
    report = schemathesis(fuzzed, tmp_path, "-H", f"Authorization: Bearer {TOKEN}", "--max-examples", "15",
                          "--max-time", "45")
    assert report["test_cases"]["with_failures"] == 0 and report["operations"]["selected"] >= 13
    assert report["operations"]["errored"] == 0 and report["test_cases"]["errored"] == 0
    assert report["phases"]["stateful"]["status"] == "success" and report["test_cases"]["generated"] > 100
    print(f"schemathesis with the token: {report['test_cases']['generated']} cases in {report['running_time']:.1f} s")


def test_schemathesis_finds_nothing_without_the_token(fuzzed: Server, tmp_path: Path) -> None:
    report = schemathesis(fuzzed, tmp_path, "--max-examples", "5")  # every answer is a 401: quick
    assert report["test_cases"]["with_failures"] == 0 and report["operations"]["selected"] >= 13
    assert report["operations"]["errored"] == 0 and report["test_cases"]["generated"] > 50
    print(f"schemathesis without the token: {report['test_cases']['generated']} cases in {report['running_time']:.1f} s")


def test_the_client_update_reads_keys_and_getitem_as_dict_update(store: Database) -> None:
    class KeysAndGetitem:
        def keys(self) -> list[str]:
            return ["kitten"]

        def __getitem__(self, key: str) -> str:
            return "animal"

    remote = RemoteDatabase("http://testserver", client=client_for(store))
    remote.update(KeysAndGetitem())
    assert store["kitten"] == "animal"
    with pytest.raises(errors.EmptyTextError):  # the same class a local store raises, checked before sending
        remote.update({"   ": "animal"})


def test_the_not_blank_pattern_agrees_with_what_python_calls_white_space() -> None:
    import re

    for code in range(0x3001):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        assert bool(re.search(NOT_BLANK, char)) == bool(char.split()), hex(code)
