import numpy as np
import pytest
from conftest import WRITEUP_PAIRS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzzykv import (
    Database,
    EmptyDatabaseError,
    EmptyTextError,
    InvalidOptionError,
    Neighbour,
    NotTextError,
    QueryResult,
    UnknownWordError,
)
from fuzzykv.cli.warm import warm
from fuzzykv.embed.vectors import Embeddings
from fuzzykv.settings import Settings

WRITEUP_TOP1 = {"rhombus": "shape", "parabola": "shape", "female": "gender", "seven": "number", "seventy": "gender",
                "cylinder": "toy"}


@pytest.mark.parametrize("exact", [True, False])
def test_dot_attention_reproduces_the_writeup(glove: Embeddings, exact: bool) -> None:
    db = Database(WRITEUP_PAIRS, similarity="dot")
    assert {q: db.query(q, exact=exact)[0] for q in WRITEUP_TOP1} == WRITEUP_TOP1


@pytest.mark.parametrize(("text", "answer"), [("rhombus", "shape"), ("seven", "number"), ("female", "gender")])
def test_default_attention_answers_the_plain_queries(writeup_db: Database, text: str, answer: str) -> None:
    assert writeup_db.similarity == "cosine"
    assert writeup_db.query(text)[0] == answer
    assert writeup_db.query(text, exact=True)[0] == answer


def test_query_returns_k_words(writeup_db: Database) -> None:
    assert len(writeup_db.query("rhombus")) == 5
    words = writeup_db.query("rhombus", k=10, exact=True)
    assert len(words) == 10 and all(isinstance(w, str) for w in words)


def test_search_shows_its_working(writeup_db: Database) -> None:
    result = writeup_db.search("rhombus", k=3)
    assert isinstance(result, QueryResult)
    assert result.words == writeup_db.query("rhombus", k=3)
    assert result.attention[0][0] == "sphere"
    assert sorted(key for key, _ in result.attention) == sorted(WRITEUP_PAIRS)
    assert result.vector.shape == (50,)
    top_word, top_sim = result.candidates[0]
    vocab_vector = writeup_db.embeddings.keyed_vectors[top_word]
    expected = vocab_vector @ result.vector / (np.linalg.norm(vocab_vector) * np.linalg.norm(result.vector))
    assert top_sim == pytest.approx(expected, abs=1e-5)


def test_search_can_list_only_the_heaviest_keys(writeup_db: Database) -> None:
    result = writeup_db.search("seven", attention_k=2)
    assert [key for key, _ in result.attention] == ["one", writeup_db.search("seven").attention[1][0]]


def test_query_batch_answers_like_single_queries(writeup_db: Database) -> None:
    texts = ["rhombus", "seven", "female", "ice cream", "seven rhombuss"]
    for exact in (True, False):
        assert writeup_db.query_batch(texts, k=4, exact=exact) == [writeup_db.query(t, k=4, exact=exact) for t in texts]


def test_search_batch_gives_each_texts_search(writeup_db: Database) -> None:
    texts = ["rhombus", "seven", "female", "ice cream", "seven rhombuss", "banana"]
    for exact, attention_k in ((True, None), (False, 2)):
        batch = writeup_db.search_batch(texts, k=3, exact=exact, attention_k=attention_k, min_similarity=0.6)
        for text, got in zip(texts, batch):
            want = writeup_db.search(text, k=3, exact=exact, attention_k=attention_k, min_similarity=0.6)
            assert (got.text, got.words, got.ignored, got.spelled, got.corrections) == \
                (want.text, want.words, want.ignored, want.spelled, want.corrections)
            assert [key for key, _ in got.attention] == [key for key, _ in want.attention]
            assert [w for _, w in got.attention] == pytest.approx([w for _, w in want.attention], rel=1e-5, abs=1e-7)
            np.testing.assert_allclose(got.vector, want.vector, rtol=1e-5, atol=1e-6)
    assert writeup_db.search_batch(["banana"], min_similarity=0.6)[0].candidates == []
    with pytest.raises(NotTextError, match="list"):
        writeup_db.search_batch("seven")
    with pytest.raises(EmptyTextError):
        writeup_db.search(" ")
    with pytest.raises(EmptyTextError):
        writeup_db.search_batch(["seven", " "])


def test_nearest_is_exact_knn_over_the_keys(writeup_db: Database) -> None:
    found = writeup_db.nearest("kitten", k=3)
    assert all(isinstance(n, Neighbour) for n in found)
    assert found[0].key == "cat" and found[0].value == "animal"
    assert [n.similarity for n in found] == sorted((n.similarity for n in found), reverse=True)
    key, value, similarity = found[0]
    assert (key, value) == ("cat", "animal") and -1 <= similarity <= 1
    assert len(writeup_db.nearest("kitten", k=100)) == len(WRITEUP_PAIRS)


def test_lookup_prefers_an_equal_key_then_the_nearest(writeup_db: Database) -> None:
    assert writeup_db.lookup("dog") == "animal"
    assert writeup_db.lookup("puppy") == "animal"
    assert writeup_db.lookup("nine") == "number"


def test_it_reads_like_a_dict(writeup_db: Database) -> None:
    assert len(writeup_db) == 6
    assert list(writeup_db) == list(WRITEUP_PAIRS)
    assert dict(writeup_db) == WRITEUP_PAIRS
    assert "cat" in writeup_db and "kitten" not in writeup_db and 3 not in writeup_db
    assert writeup_db["sphere"] == "shape"
    with pytest.raises(KeyError, match="kitten"):
        writeup_db["kitten"]
    assert list(writeup_db.items()) == list(WRITEUP_PAIRS.items())
    assert list(writeup_db.values()) == list(WRITEUP_PAIRS.values())


def test_it_writes_like_a_dict(glove: Embeddings) -> None:
    db = Database({"cat": "animal", "ball": "toy"})
    db["dog"] = "animal"
    db["cat"] = "pet"
    assert list(db.items()) == [("cat", "pet"), ("ball", "toy"), ("dog", "animal")]
    del db["ball"]
    assert db.pop("dog") == "animal" and db.pop("dog", "gone") == "gone"
    assert db.setdefault("cat", "x") == "pet" and db.setdefault("one", "number") == "number"
    db.update({"seven": "number"}, sphere="shape")
    assert dict(db) == {"cat": "pet", "one": "number", "seven": "number", "sphere": "shape"}
    assert db.lookup("kitten") == "pet" and db.query("rhombus", exact=True)[0] == "shape"
    with pytest.raises(KeyError, match="ball"):
        del db["ball"]
    db.clear()
    assert len(db) == 0 and db.nearest("cat") == []


def test_a_write_that_fails_changes_nothing(glove: Embeddings) -> None:
    db = Database({"cat": "animal"})
    with pytest.raises(UnknownWordError):
        db.update({"dog": "animal", "rhombuss": "shape"})
    with pytest.raises(NotTextError):
        db["dog"] = 3  # type: ignore[assignment]
    assert dict(db) == {"cat": "animal"}


def test_a_failed_batch_in_memory_is_rolled_back(glove: Embeddings) -> None:
    db = Database({"cat": "animal"})
    with pytest.raises(RuntimeError), db.batch():
        db["dog"] = "animal"
        del db["cat"]
        assert dict(db) == {"dog": "animal"}
        raise RuntimeError("stop")
    assert dict(db) == {"cat": "animal"} and db.lookup("puppy") == "animal"


def test_delete_moves_rows_without_mixing_pairs(glove: Embeddings) -> None:
    db = Database({"cat": "animal", "ball": "toy", "sphere": "shape", "one": "number"})
    del db["cat"]
    assert [n.key for n in db.nearest("kitten", k=3)] == [n.key for n in Database(dict(db)).nearest("kitten", k=3)]
    for key, value in db.items():
        assert db.nearest(key, k=1)[0] == (key, value, pytest.approx(1.0, abs=1e-5))


def test_min_similarity_says_when_nothing_is_close(writeup_db: Database) -> None:
    result = writeup_db.search("banana")
    assert 0 < result.best_similarity < 0.6
    assert writeup_db.lookup("banana", min_similarity=0.6) is None
    assert writeup_db.lookup("banana", default="?", min_similarity=0.6) == "?"
    assert writeup_db.lookup("puppy", min_similarity=0.6) == "animal"
    assert writeup_db.lookup("cat", min_similarity=0.99) == "animal"
    assert writeup_db.query("banana", min_similarity=0.6) == []
    assert writeup_db.query("kitten", min_similarity=0.6)[0] == "animal"
    assert writeup_db.query_batch(["banana", "kitten"], k=1, min_similarity=0.6) == [[], ["animal"]]
    assert writeup_db.search("banana", min_similarity=0.6).candidates == []


@pytest.mark.parametrize("bound", [1.5, -2, "high", True])
def test_bad_min_similarity_is_rejected(writeup_db: Database, bound: object) -> None:
    with pytest.raises(InvalidOptionError, match="min_similarity"):
        writeup_db.lookup("cat", min_similarity=bound)  # type: ignore[arg-type]


def test_multi_word_keys_values_and_queries(glove: Embeddings) -> None:
    db = Database({"new york": "big city", "ice cream": "dessert", "tennis": "sport"})
    assert db.lookup("manhattan") == "big city"
    assert db.query("chocolate cake", exact=True)[0] == "dessert"
    corrected = db.search("chocolate rhombuss", exact=True)  # each word of a query is corrected on its own
    assert corrected.ignored == () and [(c.typed, c.used) for c in corrected.corrections] == [("rhombuss", "rhombus")]
    strict = Database({"new york": "big city", "ice cream": "dessert"}, unknown="error")
    assert strict.search("chocolate rhombuss", exact=True).ignored == ("rhombuss",)


def test_pairs_may_be_given_as_an_iterable_of_tuples(glove: Embeddings) -> None:
    assert dict(Database([("cat", "animal"), ("ball", "toy")])) == {"cat": "animal", "ball": "toy"}


@pytest.mark.parametrize(
    ("pairs", "error", "match"),
    [
        ({"cat": 3}, NotTextError, "expected a string, got int"),
        ({5: "number"}, NotTextError, "expected a string, got int"),
        ({"cat": ""}, EmptyTextError, "empty or blank"),
        ({"  ": "animal"}, EmptyTextError, "empty or blank"),
        ({"rhombuss": "shape"}, UnknownWordError, "'rhombuss'"),
        ({"cat": "animal", "ice creamm": "dessert"}, UnknownWordError, "'creamm'"),
        ("cat", NotTextError, "got a string"),
        ([("cat", "animal", "extra")], ValueError, "not a \\(key, value\\) pair"),
        (42, NotTextError, "pairs must be"),
    ],
)
def test_bad_pairs_are_rejected_up_front(glove: Embeddings, pairs: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        Database(pairs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "error"),
    [("", EmptyTextError), ("   ", EmptyTextError), (None, NotTextError), (7, NotTextError), ("rhombuss", UnknownWordError)],
)
def test_bad_queries_get_their_documented_error(glove: Embeddings, text: object, error: type) -> None:
    writeup_db = Database(WRITEUP_PAIRS, unknown="error")
    for call in (writeup_db.query, writeup_db.search, writeup_db.nearest, writeup_db.lookup, writeup_db.classify):
        # query(None) and search(None) are calls with nothing to query, not calls with a non-string
        expected = EmptyTextError if text is None and call in (writeup_db.query, writeup_db.search) else error
        with pytest.raises(expected):
            call(text)  # type: ignore[operator]
    with pytest.raises(error):
        writeup_db.query_batch(["seven", text])  # type: ignore[list-item]


def test_query_batch_wants_a_list(writeup_db: Database) -> None:
    with pytest.raises(NotTextError, match="use query"):
        writeup_db.query_batch("seven")


@pytest.mark.parametrize("k", [0, -1, 2.5, True, "5"])
def test_bad_k_is_rejected(writeup_db: Database, k: object) -> None:
    with pytest.raises(InvalidOptionError, match="k must be a positive whole number"):
        writeup_db.query("seven", k=k)  # type: ignore[arg-type]


def test_bad_options_are_rejected_before_anything_loads() -> None:
    with pytest.raises(InvalidOptionError, match="similarity"):
        Database(WRITEUP_PAIRS, similarity="euclid")  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionError, match="temperature"):
        Database(WRITEUP_PAIRS, temperature=0)


def test_an_empty_store(glove: Embeddings) -> None:
    db = Database({})
    assert len(db) == 0 and db.nearest("cat") == [] and db.lookup("cat", default="none") == "none"
    with pytest.raises(EmptyDatabaseError, match="holds no pairs"):
        db.query("cat")


def test_vocabulary_size_limits_answers_to_frequent_words(glove: Embeddings) -> None:
    warm(Settings(vocabulary_size=5_000))  # its own vocabulary index, built ahead as `fuzzykv warm` does
    db = Database(WRITEUP_PAIRS, vocabulary_size=5_000)
    rank = {w: i for i, w in enumerate(glove.words[:5_000])}
    for exact in (True, False):
        assert all(word in rank for word in db.query("rhombus", k=10, exact=exact))


vocab_words = st.sampled_from(["cat", "dog", "one", "seven", "shape", "king", "queen", "paris", "red", "music", "water", "car"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pairs=st.dictionaries(vocab_words, vocab_words, min_size=1, max_size=8),
    query=vocab_words,
    k=st.integers(1, 12),
    similarity=st.sampled_from(["cosine", "dot"]),
)
def test_answers_are_sorted_k_long_and_attention_sums_to_one(glove: Embeddings, pairs, query, k, similarity) -> None:
    db = Database(pairs, similarity=similarity)
    result = db.search(query, k=k, exact=True)
    assert len(result.candidates) == k == len(db.query(query, k=k))
    sims = [s for _, s in result.candidates]
    assert sims == sorted(sims, reverse=True)
    weights = [w for _, w in result.attention]
    assert weights == sorted(weights, reverse=True)
    assert sum(weights) == pytest.approx(1.0, abs=1e-5)
    if similarity == "cosine":  # without the value term, the heaviest key is the nearest key
        plain = Database(pairs, value_weight=0.0)
        assert plain.search(query, attention_k=1).attention[0][0] == plain.nearest(query, k=1)[0].key


def test_query_recall_at_5_against_exact_on_random_stores(glove: Embeddings) -> None:
    rng = np.random.default_rng(21)
    common = glove.words[100:50_000]
    overlaps = []
    for _ in range(40):
        n = int(rng.integers(3, 30))
        words = [common[i] for i in rng.choice(len(common), size=2 * n + 5, replace=False)]
        db = Database(dict(zip(words[:n], words[n : 2 * n])), similarity="cosine" if rng.random() < 0.5 else "dot")
        for text in words[2 * n :]:
            overlaps.append(len(set(db.query(text)) & set(db.query(text, exact=True))) / 5)
    assert np.mean(overlaps) >= 0.95, f"recall@5 of query against exact decode: {np.mean(overlaps):.3f}"


def test_keys_sharing_a_value_still_give_k_answers(glove: Embeddings) -> None:
    db = Database({"cat": "cat", "dog": "cat", "kitten": "cat"})
    for exact in (True, False):
        assert len(db.query("cat", k=4, exact=exact)) == 4
        assert db.query("cat", k=4, exact=exact) == db.query("cat", k=4, exact=True)


ANIMALS_AND_VEHICLES = {"cat": "animal", "dog": "animal", "horse": "animal",
                        "car": "vehicle", "truck": "vehicle", "bus": "vehicle"}


def test_classify_is_the_value_the_attention_favours(glove: Embeddings) -> None:
    db = Database(ANIMALS_AND_VEHICLES)
    verdict = db.classify("kitten", k=4)
    assert verdict.label == "animal"
    assert len(verdict.neighbours) == 4 and verdict.neighbours[0].key == "cat"
    assert [s for _, s in verdict.scores] == sorted((s for _, s in verdict.scores), reverse=True)
    assert sum(s for _, s in verdict.scores) == pytest.approx(1.0)
    assert db.classify("van", k=3).label == "vehicle"
    weights = db.search("kitten").attention  # every key's weight: a value's share is its keys' sum
    expected = sum(w for key, w in weights if ANIMALS_AND_VEHICLES[key] == "animal")
    assert dict(verdict.scores)["animal"] == pytest.approx(expected, abs=1e-6)
    with pytest.raises(EmptyDatabaseError):
        Database({}).classify("kitten")


def test_closed_world_answers_are_stored_values(glove: Embeddings) -> None:
    db = Database(ANIMALS_AND_VEHICLES, answers="values")
    assert db.query("kitten", k=1) == ["animal"]
    assert set(db.query("rhombus", k=5)) == {"animal", "vehicle"}
    db["sphere"] = "shape"
    assert db.query("rhombus", k=1) == ["shape"]
    sims = [s for _, s in db.search("rhombus", k=3).candidates]
    assert sims == sorted(sims, reverse=True)
    with pytest.raises(InvalidOptionError, match="answers must be one of"):
        Database(ANIMALS_AND_VEHICLES, answers="words")  # type: ignore[arg-type]


def test_vector_arithmetic_and_composite_queries(glove: Embeddings) -> None:
    db = Database({"queen": "royalty", "car": "vehicle", "apple": "fruit", "army": "military", "manhattan": "city"})
    assert db.search(positive=["king", "woman"], negative=["man"]).attention[0][0] == "queen"
    assert db.query("king", positive=["woman"], negative=["man"], k=1, exact=True) == ["royalty"]
    both = db.search(positive=["air force", "new york"], attention_k=2)
    assert {key for key, _ in both.attention} == {"army", "manhattan"}
    assert both.text == "air force + new york"
    with pytest.raises(EmptyTextError):
        db.query()
    # as gensim's most_similar: a single string is one text
    single = db.query(positive="king", negative="man", k=1, exact=True)
    assert single == db.query(positive=["king"], negative=["man"], k=1, exact=True)


def test_one_unknown_word_error_names_every_unknown_word(glove: Embeddings) -> None:
    with pytest.raises(UnknownWordError) as raised:
        Database({"rhombuss": "shape", "cat": "animall", "dog": "animal"})
    assert set(raised.value.words) == {"rhombuss", "animall"}
    assert "'rhombuss'" in str(raised.value) and "'animall'" in str(raised.value)


class _KeysAndGetitem:
    """Not a Mapping, but what dict.update reads as one: keys() and __getitem__."""

    def __init__(self, pairs: dict[str, str]) -> None:
        self._pairs = pairs

    def keys(self) -> list[str]:
        return list(self._pairs)

    def __getitem__(self, key: str) -> str:
        return self._pairs[key]


def test_update_reads_an_object_with_keys_as_dict_update_does(writeup_db: Database) -> None:
    db = Database(embeddings=writeup_db.embeddings)
    db.update(_KeysAndGetitem({"cat": "animal", "ball": "toy"}), sphere="shape")
    assert dict(db.items()) == {"cat": "animal", "ball": "toy", "sphere": "shape"}
    assert dict(Database(_KeysAndGetitem({"dog": "animal"}), embeddings=writeup_db.embeddings).items()) == {"dog": "animal"}


def test_an_empty_batch_answers_nothing_but_checks_its_options(writeup_db: Database) -> None:
    assert writeup_db.query_batch([]) == [] and writeup_db.search_batch([]) == []
    with pytest.raises(InvalidOptionError):
        writeup_db.search_batch([], k=0)
