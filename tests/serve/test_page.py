"""The page, its assets and the map endpoints over HTTP (in process): what a browser is sent, not how it draws it.

tests/test_page_browser.py drives the page itself in headless Chromium.
"""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from fuzzykv import Database, Embeddings
from fuzzykv.serve.app import create_app
from fuzzykv.serve.config import ServeConfig
from fuzzykv.serve.routers.keymap import principal_axes, sample_rows

PAIRS = {"one": "number", "two": "number", "cat": "animal", "dog": "animal", "ball": "toy", "sphere": "shape",
         "cube": "shape", "male": "gender"}
TOKEN = "page-token"


@pytest.fixture()
def store(tmp_path: Path, glove: Embeddings) -> Database:
    db = Database.open(tmp_path / "s.fkv")
    db.update(PAIRS)
    return db


def client_for(db: Any, **config: Any) -> TestClient:
    return TestClient(create_app(ServeConfig(store=Path("unused.fkv"), **config), database=db),
                      raise_server_exceptions=False)


@pytest.fixture()
def http(store: Database) -> TestClient:
    return client_for(store)


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside each <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def parsed(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def linked(html: str) -> list[str]:
    """The URLs an HTML page loads (scripts, style sheets, icons)."""
    return [attrs.get("src") or attrs.get("href") or "" for tag, attrs in parsed(html).tags
            if tag == "script" or (tag == "link" and attrs.get("rel") in ("stylesheet", "icon"))]


@pytest.mark.parametrize("path", ["/", "/docs", "/redoc"])
def test_pages_load_only_this_origin_and_no_inline_script(http: TestClient, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'" and policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and "http" not in response.headers["content-security-policy"]
    tags = parsed(response.text)
    assert all(not script.strip() for script in tags.scripts), "inline script"
    assert not any(name.startswith("on") for _, attrs in tags.tags for name in attrs), "inline event handler"
    assert "{{" not in response.text and not re.search(r"(src|href)=\"(https?:)?//", response.text)
    urls = linked(response.text)
    assert urls and all(url.startswith("/assets/") for url in urls)
    for url in urls:
        asset = http.get(url)
        assert asset.status_code == 200 and asset.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_page_policy_forbids_inline_styles_too(http: TestClient) -> None:
    assert "'unsafe-inline'" not in http.get("/").headers["content-security-policy"]
    assert "style=" not in http.get("/").text


def test_assets_are_named_by_their_digest_and_revalidate(http: TestClient) -> None:
    page = http.get("/")
    assert page.headers["cache-control"] == "no-cache"
    assert http.get("/", headers={"If-None-Match": page.headers["etag"]}).status_code == 304
    script = next(url for url in linked(page.text) if url.endswith(".js"))
    name = script.rsplit("/", 1)[1]
    assert re.fullmatch(r"page\.[0-9a-f]{12}\.js", name)
    plain = http.get(script, headers={"Accept-Encoding": "identity"})
    source = (resources.files("fuzzykv.serve") / "page" / "page.js").read_bytes()
    assert plain.content == source and "content-encoding" not in plain.headers
    assert plain.headers["content-type"].startswith("text/javascript")
    zipped = http.get(script, headers={"Accept-Encoding": "gzip"})
    assert zipped.content == source  # httpx undoes the gzip
    assert http.get(script, headers={"If-None-Match": plain.headers["etag"]}).status_code == 304
    missing = http.get("/assets/page.000000000000.js")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "NotFound"


def test_vendored_docs_ship_with_their_licences() -> None:
    vendor = resources.files("fuzzykv.serve") / "page" / "vendor"
    assert "Apache License" in (vendor / "swagger-ui" / "LICENSE").read_text()
    assert "MIT" in (vendor / "redoc" / "LICENSE").read_text()
    assert (vendor / "swagger-ui" / "swagger-ui-bundle.js").read_bytes().startswith(b"/*! For license information")


def test_gzip_is_a_real_gzip(http: TestClient) -> None:
    url = next(u for u in linked(http.get("/docs").text) if "swagger-ui-bundle" in u)
    with http.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as response:
        body = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip" and len(body) < 700_000
    assert gzip.decompress(body).startswith(b"/*! For license information")


def test_the_page_needs_no_token_but_says_whether_the_data_does(store: Database) -> None:
    guarded = client_for(store, token=TOKEN)
    page = guarded.get("/")
    assert page.status_code == 200 and '<meta name="fuzzykv-token" content="required">' in page.text
    assert TOKEN not in page.text
    assert guarded.get("/v1/map").status_code == 401
    assert guarded.get("/v1/map", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert '<meta name="fuzzykv-token" content="none">' in client_for(store).get("/").text


def test_docs_routes_are_not_in_the_schema(http: TestClient) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    assert "/v1/map" in paths and "/v1/map:place" in paths
    assert not {"/", "/docs", "/redoc", "/assets/{name}"} & set(paths)


# -- the map ---------------------------------------------------------------------------------------------


def test_map_draws_every_key_with_its_value(http: TestClient) -> None:
    drawn = http.get("/v1/map").json()
    assert drawn["total"] == drawn["sampled"] == len(PAIRS)
    assert {(p["key"], p["value"]) for p in drawn["points"]} == set(PAIRS.items())
    assert len(drawn["projection"]["mean"]) == 50 and [len(a) for a in drawn["projection"]["axes"]] == [50, 50]
    assert drawn["explained"][0] >= drawn["explained"][1] > 0 and sum(drawn["explained"]) <= 1
    assert drawn["query"] is None
    assert http.get("/v1/map").json() == drawn  # the same store draws the same map


def test_map_is_the_pca_of_the_keys_unit_vectors(http: TestClient, glove: Embeddings) -> None:
    drawn = http.get("/v1/map").json()
    keys = [p["key"] for p in drawn["points"]]
    vectors = np.stack([glove.vectors[glove.index_of(key)] for key in keys]).astype(np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    centred = vectors - vectors.mean(axis=0)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ axes[:2].T
    got = np.array([[p["x"], p["y"]] for p in drawn["points"]])
    np.testing.assert_allclose(np.abs(got), np.abs(expected), atol=1e-5)  # an axis's sign is a convention
    np.testing.assert_allclose(drawn["explained"], (singular[:2] ** 2) / (singular ** 2).sum(), atol=1e-6)


def test_a_query_lands_where_map_place_puts_it_and_a_key_on_its_point(http: TestClient) -> None:
    drawn = http.get("/v1/map", params={"text": "kitten"}).json()
    placed = http.post("/v1/map:place", json={"texts": ["kitten", "cat"], "projection": drawn["projection"]}).json()
    kitten = placed["points"][0]
    assert kitten["text"] == drawn["query"]["text"] == "kitten"
    assert (kitten["x"], kitten["y"]) == pytest.approx((drawn["query"]["x"], drawn["query"]["y"]), abs=1e-9)
    cat = next(p for p in drawn["points"] if p["key"] == "cat")
    assert (placed["points"][1]["x"], placed["points"][1]["y"]) == pytest.approx((cat["x"], cat["y"]), abs=1e-5)


def test_map_samples_at_most_five_thousand_keys(glove: Embeddings) -> None:
    words = [w for w in glove.words[2_000:8_000] if w.isalpha()][:5_200]
    db = Database({word: words[i % 7] for i, word in enumerate(words)})
    drawn = client_for(db).get("/v1/map").json()
    assert drawn["total"] == 5_200 and drawn["sampled"] == len(drawn["points"]) == 5_000
    assert len({p["key"] for p in drawn["points"]}) == 5_000
    small = client_for(db).get("/v1/map", params={"limit": 10}).json()
    assert [p["key"] for p in small["points"]][0] == words[0] and small["sampled"] == 10


def test_sample_rows_spread_evenly() -> None:
    assert sample_rows(3, 10).tolist() == [0, 1, 2]
    rows = sample_rows(100_001, 5_000)
    assert len(rows) == 5_000 and rows[0] == 0 and rows[-1] == 100_000 and (np.diff(rows) > 0).all()
    assert np.diff(rows).max() - np.diff(rows).min() <= 1


def test_principal_axes_of_degenerate_samples() -> None:
    mean, axes, shares = principal_axes(np.zeros((0, 4)))
    assert axes.shape == (2, 4) and shares.tolist() == [0, 0]
    _, axes, shares = principal_axes(np.ones((3, 4)) / 2)  # all keys alike: no variance
    assert axes.shape == (2, 4) and shares.tolist() == [0, 0]


def test_map_of_an_empty_store_and_bad_requests(tmp_path: Path, glove: Embeddings) -> None:
    with Database.open(tmp_path / "empty.fkv") as db:
        http = client_for(db)
        drawn = http.get("/v1/map", params={"text": "cat"}).json()
        assert drawn["total"] == drawn["sampled"] == 0 and drawn["points"] == [] and drawn["query"] is not None
        projection = drawn["projection"]
        for body, kind in [
            ({"texts": ["cat"], "projection": {"mean": [0.0] * 3, "axes": [[0.0] * 3] * 2}}, "InvalidOptionError"),
            ({"texts": ["cat"], "projection": {"mean": [1e308] * 50, "axes": [[1e308] * 50] * 2}}, "InvalidOptionError"),
            ({"texts": [], "projection": projection}, "ValidationError"),
            ({"texts": ["cat"], "projection": projection, "extra": 1}, "ValidationError"),
            ({"texts": ["   "], "projection": projection}, "ValidationError"),
        ]:
            answer = http.post("/v1/map:place", json=body)
            assert answer.json()["error"]["type"] == kind, answer.text
            assert answer.status_code == (422 if kind == "ValidationError" else 400)
        assert http.get("/v1/map", params={"limit": 5_001}).status_code == 422
        assert http.get("/v1/map", params={"limit": 0}).status_code == 422


def test_query_lists_each_heavy_key_with_its_value(http: TestClient) -> None:
    answer = http.post("/v1/query", json={"text": "kitten", "attention_k": 3}).json()
    assert [(w["key"], w["value"]) for w in answer["attention"]] == [(w["key"], PAIRS[w["key"]]) for w in answer["attention"]]
    batch = http.post("/v1/query:batch", json={"texts": ["kitten"], "attention_k": 2}).json()["results"][0]
    assert all(w["value"] == PAIRS[w["key"]] for w in batch["attention"])


def test_map_on_a_read_only_service(tmp_path: Path, glove: Embeddings) -> None:
    with Database.open(tmp_path / "r.fkv") as db:
        db.update(PAIRS)
    with Database.open(tmp_path / "r.fkv", read_only=True) as db:
        assert client_for(db, read_only=True).get("/v1/map").json()["sampled"] == len(PAIRS)
