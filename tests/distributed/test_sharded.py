"""ShardedDatabase against one Database holding the same pairs: same answers, routed writes, faults."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from fuzzykv import (  # noqa: E402
    Database,
    Embeddings,
    EmptyDatabaseError,
    EmptyTextError,
    InvalidOptionError,
    NotTextError,
    StoreSettingsError,
    UnknownWordError,
)
from fuzzykv.distributed import ShardedDatabase, ShardUnavailableError, shard_of  # noqa: E402

TIE = 1e-5


def draw_pairs(glove: Embeddings, n: int, seed: int = 7) -> dict[str, str]:
    """``n`` pairs of real GloVe words: keys among the 50,000 most frequent, values among 5,000."""
    rng = random.Random(seed)
    words = [w for w in glove.words[100:50_000] if w.isalpha()]
    return dict(zip(rng.sample(words, n), rng.choices(words[:5_000], k=n)))


def draw_queries(glove: Embeddings, n: int = 24, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    return rng.sample([w for w in glove.words[200:20_000] if w.isalpha()], n)


@pytest.fixture(scope="module", params=[(1_000, 2), (1_000, 4), (20_000, 2), (20_000, 4)], ids=lambda p: f"{p[0]}x{p[1]}")
def pair(request: pytest.FixtureRequest, ray_session: None, glove: Embeddings) -> Iterator[tuple[Database, ShardedDatabase]]:
    size, shards = request.param
    pairs = draw_pairs(glove, size)
    sharded = ShardedDatabase(pairs, shards=shards)
    yield Database(pairs), sharded
    sharded.close()


def same_candidates(one: list[tuple[str, float]], other: list[tuple[str, float]]) -> bool:
    """The same words, best first, but for words whose cosines tie within TIE."""
    if len(one) != len(other):
        return False
    return all(a == b or abs(x - y) < TIE for (a, x), (b, y) in zip(one, other))


# -- the same answers as one Database ----------------------------------------------------------------


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "annoy"])
def test_search_matches_database(pair: tuple[Database, ShardedDatabase], glove: Embeddings, exact: bool) -> None:
    db, sharded = pair
    spread = 0
    for text in draw_queries(glove):
        want, got = db.search(text, exact=exact, attention_k=10), sharded.search(text, exact=exact, attention_k=10)
        assert same_candidates(want.candidates, got.candidates), (text, want.candidates, got.candidates)
        # float32 scores of the same key differ in the last bits between matrix shapes: at T=0.03 that is
        # a few 1e-6 of a weight, relative
        assert dict(got.attention) == pytest.approx(dict(want.attention), rel=1e-5, abs=1e-7)
        assert np.linalg.norm(got.vector - want.vector) <= TIE * np.linalg.norm(want.vector)
        assert got.best_similarity == pytest.approx(want.best_similarity, abs=1e-6)
        owners = {sharded.shard_of(key) for key, _ in got.attention[:2]}
        spread += len(owners) > 1
    assert spread, "no query had its two heaviest keys on different shards"


def test_whole_attention_and_batch_match_database(pair: tuple[Database, ShardedDatabase], glove: Embeddings) -> None:
    db, sharded = pair
    texts = draw_queries(glove, seed=12)
    want, got = db.search(texts[0]), sharded.search(texts[0])
    assert len(got.attention) == len(db) and sum(w for _, w in got.attention) == pytest.approx(1.0)
    assert dict(got.attention) == pytest.approx(dict(want.attention), rel=1e-5, abs=1e-7)
    for text, words in zip(texts, sharded.query_batch(texts, exact=True)):
        assert same_candidates(db.search(text, exact=True, attention_k=1).candidates,
                               sharded.search(text, exact=True, attention_k=1).candidates)
        assert len(words) == 5
    assert sharded.query_batch(texts, exact=True, min_similarity=1.0) == db.query_batch(texts, exact=True, min_similarity=1.0)
    wanted = db.search_batch(texts, exact=True, attention_k=3)
    for got, want in zip(sharded.search_batch(texts, exact=True, attention_k=3), wanted):
        assert same_candidates(got.candidates, want.candidates) and got.text == want.text
        assert dict(got.attention) == pytest.approx(dict(want.attention), rel=1e-5, abs=1e-7)
    assert sharded.query(positive=["king", "woman"], negative="man", exact=True) == \
        db.query(positive=["king", "woman"], negative="man", exact=True)


def test_nearest_lookup_classify_match_database(pair: tuple[Database, ShardedDatabase], glove: Embeddings) -> None:
    db, sharded = pair
    for text in draw_queries(glove, 10, seed=13):
        want, got = db.nearest(text, k=5), sharded.nearest(text, k=5)
        assert [n.key for n in got] == [n.key for n in want]
        assert [n.similarity for n in got] == pytest.approx([n.similarity for n in want], abs=1e-6)
        assert sharded.lookup(text) == db.lookup(text)
        assert sharded.lookup(text, default="-", min_similarity=0.9) == db.lookup(text, default="-", min_similarity=0.9)
        assert sharded.classify(text, k=7).label == db.classify(text, k=7).label
    key = next(iter(db))
    assert sharded.lookup(key) == db[key] == sharded[key]


def test_mapping_matches_database(pair: tuple[Database, ShardedDatabase]) -> None:
    db, sharded = pair
    assert len(sharded) == len(db)
    assert sorted(sharded) == sorted(db)
    assert dict(sharded.items()) == dict(db.items())
    assert sorted(sharded.values()) == sorted(db.values())
    key = next(iter(db))
    assert key in sharded and "no such key here" not in sharded and 3 not in sharded
    first, more = sharded.page(limit=300)
    rest, _ = sharded.page(first[-1][0], limit=len(sharded))
    assert more and first + rest == list(sharded.items())
    with pytest.raises(KeyError):
        sharded.page("no such key here")


def test_shards_agree_on_settings(pair: tuple[Database, ShardedDatabase]) -> None:
    db, sharded = pair
    described = ray.get([actor.describe.remote() for actor in sharded.actors])
    assert len(sharded.actors) == sharded.shards
    assert {d["settings"] for d in described} == {sharded.settings} == {db.settings}


# -- writes go to the shard the key's hash names ---------------------------------------------------------


def test_writes_and_deletes_are_routed(ray_session: None, glove: Embeddings) -> None:
    pairs = draw_pairs(glove, 300, seed=3)
    with ShardedDatabase(pairs, shards=3) as sharded:
        sharded["kitten"] = "cat"
        sharded.update({"puppy": "dog", "foal": "horse"}, calf="cow")
        del sharded[next(iter(pairs))]
        with pytest.raises(KeyError):
            del sharded["not a stored key"]
        assert sharded.pop("foal") == "horse" and sharded.setdefault("lamb", "sheep") == "sheep"
        held = ray.get([actor.keys.remote() for actor in sharded.actors])
        for number, keys in enumerate(held):
            assert all(shard_of(key, 3) == number for key in keys)
        every = [key for keys in held for key in keys]
        assert len(every) == len(set(every)) == len(sharded) == len(pairs) + 3
        assert sharded["kitten"] == "cat" and sharded.lookup("calf") == "cow"
        sharded.clear()
        assert len(sharded) == 0 and list(sharded) == []


# -- the same typed errors as Database -------------------------------------------------------------------


def raises_same(db: Any, sharded: Any, call: Callable[[Any], object], error: type[BaseException]) -> None:
    with pytest.raises(error) as want:
        call(db)
    with pytest.raises(error) as got:
        call(sharded)
    assert type(got.value) is type(want.value)


def test_bad_input_gets_the_same_errors(pair: tuple[Database, ShardedDatabase]) -> None:
    db, sharded = pair
    raises_same(db, sharded, lambda s: s.query(5), NotTextError)
    raises_same(db, sharded, lambda s: s.query_batch("cat"), NotTextError)
    raises_same(db, sharded, lambda s: s.query("   "), EmptyTextError)
    raises_same(db, sharded, lambda s: s.search(), EmptyTextError)
    raises_same(db, sharded, lambda s: s.query("cat", k=0), InvalidOptionError)
    raises_same(db, sharded, lambda s: s.search("cat", attention_k=-1), InvalidOptionError)
    raises_same(db, sharded, lambda s: s.lookup("cat", min_similarity=2), InvalidOptionError)
    raises_same(db, sharded, lambda s: s["no such key"], KeyError)
    raises_same(db, sharded, lambda s: s.update({"cat": "qqzzxxv", "dog": "animal"}), UnknownWordError)
    raises_same(db, sharded, lambda s: s.update({"cat": 5}), NotTextError)
    raises_same(db, sharded, lambda s: s.update({3: "animal"}), NotTextError)
    assert len(sharded) == len(db)  # a bad pair stored nothing, on any shard


def test_closed_world_answers_match_database(ray_session: None, glove: Embeddings) -> None:
    pairs = draw_pairs(glove, 2_000, seed=5)
    db = Database(pairs, answers="values")
    texts = draw_queries(glove, seed=13)
    with ShardedDatabase(pairs, shards=3, answers="values") as sharded:
        for exact in (True, False):
            wanted = db.search_batch(texts, exact=exact)
            for text, got, want in zip(texts, sharded.search_batch(texts, exact=exact), wanted):
                assert set(got.words) <= set(pairs.values()), text
                assert same_candidates(got.candidates, want.candidates), text
        sharded["zebra"] = "stripes"  # a new value, on one shard: the driver's decoder follows
        db["zebra"] = "stripes"
        assert sharded.query("zebra", k=1) == db.query("zebra", k=1) == ["stripes"]
        del sharded["zebra"]
        assert "stripes" not in sharded.query("zebra", k=50)


def test_empty_store_errors(ray_session: None) -> None:
    db = Database({})
    with ShardedDatabase({}, shards=2) as sharded:
        raises_same(db, sharded, lambda s: s.query("cat"), EmptyDatabaseError)
        raises_same(db, sharded, lambda s: s.query_batch(["cat"]), EmptyDatabaseError)
        raises_same(db, sharded, lambda s: s.classify("cat"), EmptyDatabaseError)
        assert sharded.nearest("cat") == db.nearest("cat") == []
        assert sharded.lookup("cat", default="none") == "none"
    with pytest.raises(InvalidOptionError, match="shards"):
        ShardedDatabase({}, shards=0)


# -- a folder of shard files: reopening, and faults --------------------------------------------------------


def test_open_reopen_and_shard_count(ray_session: None, tmp_path: Path) -> None:
    folder = tmp_path / "store"
    with pytest.raises(InvalidOptionError, match="shards=N"):
        ShardedDatabase.open(folder)
    with ShardedDatabase.open(folder, shards=2, temperature=0.1) as sharded:
        sharded.update({"cat": "animal", "sphere": "shape", "one": "number"})
        answer = sharded.search("rhombus", exact=True)
    assert (folder / "manifest.json").exists() and len(list(folder.glob("shard-*.fkv"))) == 2
    with pytest.raises(StoreSettingsError, match="shards=2"):
        ShardedDatabase.open(folder, shards=3)
    with pytest.raises(StoreSettingsError, match="temperature"):
        ShardedDatabase.open(folder, temperature=0.2)
    with ShardedDatabase.open(folder) as again:
        assert dict(again.items()) == {"cat": "animal", "sphere": "shape", "one": "number"}
        assert again.temperature == 0.1
        assert again.search("rhombus", exact=True).candidates == answer.candidates


def test_killed_shard_loses_no_acknowledged_write(ray_session: None, tmp_path: Path, glove: Embeddings) -> None:
    pairs = list(draw_pairs(glove, 120, seed=5).items())
    acknowledged: dict[str, str] = {}
    refused = 0
    with ShardedDatabase.open(tmp_path / "store", shards=2, timeout=90) as sharded:
        victim = sharded.actors[0]
        pid = ray.get(victim.describe.remote())["pid"]
        for number, (key, value) in enumerate(pairs):
            if number == 40:
                ray.kill(victim, no_restart=False)
            try:
                sharded[key] = value
            except ShardUnavailableError:
                refused += 1
                continue
            acknowledged[key] = value
            if number % 10 == 0:  # a read during the restart waits and answers, or raises: never a partial answer
                try:
                    assert sharded.lookup(key) == value
                except ShardUnavailableError:
                    pass
        assert ray.get(victim.describe.remote())["pid"] != pid  # restarted, with its file reopened
        held = dict(sharded.items())
        assert {k: held.get(k) for k in acknowledged} == acknowledged
        assert len(acknowledged) + refused == len(pairs)


def test_restarted_memory_shard_refuses_to_answer(ray_session: None) -> None:
    with ShardedDatabase({"cat": "animal", "dog": "animal", "one": "number", "sphere": "shape"}, shards=2) as sharded:
        ray.kill(sharded.actors[1], no_restart=False)
        deadline = time.monotonic() + 60
        while True:  # until the restarted actor answers (with the typed error saying its pairs are lost)
            try:
                sharded.query("rhombus")
            except ShardUnavailableError as error:
                if "lost" in str(error):
                    break
            assert time.monotonic() < deadline, "the killed shard was not restarted"
            time.sleep(0.5)
        with pytest.raises(ShardUnavailableError, match="lost"):
            len(sharded)


def test_the_http_service_serves_a_sharded_store(ray_session: None, tmp_path: Path) -> None:
    """`fuzzykv serve --shards N FOLDER`: the same app, over a ShardedDatabase (in process here)."""
    from fastapi.testclient import TestClient

    from fuzzykv.serve.app import create_app
    from fuzzykv.serve.config import ServeConfig

    config = ServeConfig(store=tmp_path / "sharded", shards=2)
    with TestClient(create_app(config)) as http:
        assert http.put("/v1/pairs/sphere", json={"value": "shape"}).status_code == 200
        assert http.post("/v1/pairs:batch", json={"pairs": [{"key": "one", "value": "number"},
                                                          {"key": "cat", "value": "animal"}]}).json() == {"written": 2}
        assert http.post("/v1/query", json={"text": "rhombus", "k": 1, "exact": True}).json()["words"] == ["shape"]
        assert http.get("/v1/pairs/cat").json() == {"key": "cat", "value": "animal"}
        assert http.get("/v1/info").json()["pairs"] == 3
    with ShardedDatabase.open(tmp_path / "sharded") as again:
        assert dict(again.items()) == {"sphere": "shape", "one": "number", "cat": "animal"}


def test_classify_shares_are_over_the_global_heaviest_keys(ray_session: None, glove: Embeddings) -> None:
    """Spread attention (a high temperature): each shard's own 256 heaviest keys are not the store's."""
    pairs = draw_pairs(glove, 2_000, seed=29)
    db = Database(pairs, temperature=0.5)
    with ShardedDatabase(pairs, shards=3, temperature=0.5, timeout=600) as sharded:
        for text in draw_queries(glove, 6, seed=31):
            want, got = db.classify(text), sharded.classify(text)
            assert [value for value, _ in got.scores] == [value for value, _ in want.scores]
            assert [share for _, share in got.scores] == pytest.approx([share for _, share in want.scores], abs=1e-7)
