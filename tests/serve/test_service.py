"""``fuzzykv serve`` for real: uvicorn in a subprocess on a free loopback port, talked to over HTTP.

Covers what only a real server shows: URL-encoded keys through uvicorn, the token, a body over the
limit on the wire, several worker processes under a mixed load from several client processes, SIGTERM
(clean shutdown) and SIGKILL (no acknowledged write lost).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from fuzzykv import Database, Embeddings
from fuzzykv.serve.command import is_loopback, serve

TOKEN = "correct-horse-battery-staple"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start(store: Path, cache: Path, log: Path, *args: str, env: dict[str, str] | None = None,
          wait_for: str = "/readyz") -> Server:
    """``fuzzykv serve`` in a subprocess, once ``wait_for`` answers 200 (``/readyz``: the store is open and warm)."""
    port = free_port()
    command = [sys.executable, "-m", "fuzzykv.serve", str(store), "--port", str(port), "--no-access-log", *args]
    environment = {**os.environ, "FUZZYKV_CACHE": str(cache), **(env or {})}
    if env is None or "FUZZYKV_TOKEN" not in env:
        environment.pop("FUZZYKV_TOKEN", None)
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=environment, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    # NOTE: on a cold cache, warming up (GloVe's conversion, the vocabulary index) takes a minute or more.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{server.url}{wait_for}", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    stop(server, signal.SIGKILL)
    raise AssertionError(f"the server did not start in 300 s:\n{log.read_text()}")


def stop(server: Server, how: signal.Signals = signal.SIGTERM) -> int:
    if server.process.poll() is None:
        os.killpg(server.process.pid, how)
    try:
        return server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        return server.process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, session_cache: Path, glove: Embeddings) -> Iterator[Server]:
    """One token-protected service over a small store, for the whole module."""
    folder = tmp_path_factory.mktemp("serve")
    with Database.open(folder / "s.fkv") as db:
        db.update({"one": "number", "cat": "animal", "sphere": "shape"})
    (folder / "token").write_text(TOKEN + "\n")
    running = start(folder / "s.fkv", session_cache, folder / "server.log", "--token-file", str(folder / "token"),
                    "--max-body", "4096")
    yield running
    stop(running)


@pytest.fixture()
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as client:
        yield client


@pytest.mark.parametrize("key", ["new york", "a/b/c", "/leading slash", "café", "東京", "50% off?", "x#y", "..", "a+b"])
def test_url_encoded_keys_round_trip(http: httpx.Client, key: str) -> None:
    from urllib.parse import quote

    path = "/v1/pairs/" + quote(key, safe="").replace(".", "%2E")
    words = "new york" if key == "new york" else "tokyo"
    # any key the store accepts must round-trip; a key whose words lack vectors is refused, with a reason
    put = http.put(path, json={"value": words})
    if put.status_code == 400:
        assert put.json()["error"]["type"] == "UnknownWordError"
        assert http.get(path).status_code == 404
        return
    assert put.json() == {"key": key, "value": words}
    assert http.get(path).json() == {"key": key, "value": words}
    assert key in [p["key"] for p in http.get("/v1/pairs", params={"limit": 1000}).json()["pairs"]]
    assert http.delete(path).status_code == 204


def test_token_rules(server: Server, http: httpx.Client) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/v1/info").status_code == 401
    assert httpx.get(f"{server.url}/v1/info", headers={"Authorization": "Bearer nope"}).status_code == 401
    info = http.get("/v1/info").json()
    assert info["limits"]["max_body_bytes"] == 4096 and info["read_only"] is False


def test_every_endpoint_over_the_wire(http: httpx.Client) -> None:
    assert http.post("/v1/query", json={"text": "rhombus", "k": 1}).json()["words"] == ["shape"]
    assert http.post("/v1/query:batch", json={"texts": ["seven"], "k": 1}).json()["results"][0]["words"] == ["number"]
    assert http.post("/v1/lookup", json={"text": "kitten"}).json()["value"] == "animal"
    assert http.post("/v1/nearest", json={"text": "kitten", "k": 1}).json()["neighbours"][0]["key"] == "cat"
    assert http.post("/v1/classify", json={"text": "kitten"}).json()["label"] == "animal"
    assert http.post("/v1/pairs:batch", json={"pairs": [{"key": "ball", "value": "toy"}]}).json() == {"written": 1}
    assert http.get("/v1/pairs/ball").json()["value"] == "toy"
    assert http.get("/openapi.json").status_code == 200 and http.get("/docs").status_code == 200


def test_errors_over_the_wire(server: Server, http: httpx.Client) -> None:
    assert http.post("/v1/query", json={"text": " "}).json()["error"]["type"] == "ValidationError"  # the schema says so
    assert http.post("/v1/query", json={}).json()["error"]["type"] == "EmptyTextError"
    assert http.post("/v1/query", json={"k": []}).status_code == 422
    assert http.get("/v1/pairs/nothing%20here").status_code == 404
    big = {"pairs": [{"key": "cat", "value": "animal"}] * 200}
    response = http.post("/v1/pairs:batch", json=big)
    assert response.status_code == 413 and response.json()["error"]["type"] == "RequestTooLargeError"

    def chunks() -> Iterator[bytes]:
        yield b'{"pairs": ['
        for _ in range(200):
            yield b'{"key": "cat", "value": "animal"},'
        yield b'{"key": "cat", "value": "animal"}]}'

    chunked = http.post("/v1/pairs:batch", content=chunks(), headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413
    assert "Traceback" not in server.log.read_text()


def test_refuses_a_public_address_without_a_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FUZZYKV_TOKEN", raising=False)
    result = CliRunner().invoke(serve, [str(tmp_path / "s.fkv"), "--host", "0.0.0.0"])
    assert result.exit_code == 1 and "without a token" in result.output and len(result.output.splitlines()) == 1
    assert not (tmp_path / "s.fkv").exists()
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("example.org") and not is_loopback("0.0.0.0")


def test_a_bad_store_is_one_clean_line(tmp_path: Path, glove: Embeddings) -> None:
    (tmp_path / "junk.fkv").write_bytes(b"not a store at all" * 100)
    result = CliRunner().invoke(serve, [str(tmp_path / "junk.fkv")])
    assert result.exit_code == 1 and result.output.startswith("Error: ") and "Traceback" not in result.output


def test_sigterm_closes_cleanly_and_keeps_writes(tmp_path: Path, session_cache: Path, glove: Embeddings) -> None:
    running = start(tmp_path / "s.fkv", session_cache, tmp_path / "log")
    assert httpx.put(f"{running.url}/v1/pairs/cat", json={"value": "animal"}).status_code == 200
    assert stop(running, signal.SIGTERM) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once shut down
    log = (tmp_path / "log").read_text()
    assert "Application shutdown complete" in log and "Traceback" not in log
    with Database.open(tmp_path / "s.fkv", read_only=True) as db:
        assert db["cat"] == "animal"


CLIENT = r'''
import sys, httpx
url, name, acks, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
values = ["animal", "shape", "number", "toy", "color", "food"]
with httpx.Client(base_url=url, timeout=30) as http, open(acks, "a") as out:
    for i in range(count):
        try:
            if i % 4 in (0, 1):
                key, value = f"{name} {i}", values[i % len(values)]
                if http.put(f"/v1/pairs/{key}", json={"value": value}).status_code == 200:
                    out.write(f"{key}\t{value}\n"); out.flush()   # acknowledged
            elif i % 4 == 2:
                assert http.post("/v1/query", json={"text": "cat", "k": 1}).status_code == 200
            else:
                http.get("/v1/pairs", params={"limit": 10}).raise_for_status()
        except httpx.TransportError:
            break  # the server was killed
'''


def run_clients(server: Server, folder: Path, names: list[str], count: int) -> list[subprocess.Popen[bytes]]:
    script = folder / "client.py"
    script.write_text(CLIENT)
    return [subprocess.Popen([sys.executable, str(script), server.url, name, str(folder / f"{name}.acks"), str(count)])
            for name in names]


def acknowledged(folder: Path) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for path in folder.glob("*.acks"):
        for line in path.read_text().splitlines():
            key, value = line.split("\t")
            pairs[key] = value
    return pairs


def test_workers_under_load_then_sigkill_lose_no_acknowledged_write(
    tmp_path: Path, session_cache: Path, glove: Embeddings
) -> None:
    with Database.open(tmp_path / "s.fkv") as db:
        db["cat"] = "animal"
    running = start(tmp_path / "s.fkv", session_cache, tmp_path / "log", "--workers", "2")
    try:
        clients = run_clients(running, tmp_path, ["red", "green", "blue"], 100)
        assert [c.wait(timeout=120) for c in clients] == [0, 0, 0]
        written = acknowledged(tmp_path)
        assert len(written) == 3 * 50
        with httpx.Client(base_url=running.url) as http:
            listed = {p["key"]: p["value"] for p in http.get("/v1/pairs", params={"limit": 1000}).json()["pairs"]}
        assert listed == {"cat": "animal", **written}

        clients = run_clients(running, tmp_path, ["yellow", "white", "black"], 400)
        deadline = time.monotonic() + 90
        while len(acknowledged(tmp_path)) < len(written) + 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop(running, signal.SIGKILL)  # mid-load
        for client in clients:
            client.wait(timeout=60)
    finally:
        stop(running, signal.SIGKILL)
    written = acknowledged(tmp_path)
    assert len(written) >= 3 * 50 + 30  # the kill came mid-load, after at least 30 more writes
    with Database.open(tmp_path / "s.fkv") as db:
        stored = dict(db.items())
    assert {key: stored.get(key) for key in written} == written
