"""The spelling corrector: nearest known word by OSA distance, tie-breaks, normalisation, its checked cache."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import numpy as np
import pytest
from gensim.test.utils import datapath
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import OSA

from fuzzykv.cache import CacheLayout, manifest_path, verified
from fuzzykv.embed.spelling import (
    _NEAR,
    Channel,
    Correction,
    Corrector,
    build_table,
    channel_log_probability,
    index_file,
    normalise,
)

# Most frequent first, as GloVe's rows are.
WORDS = ["the", "of", "and", "one", "card", "cart", "care", "seven", "some", "same", "word", "world", "cat",
         "dog", "ball", "sphere", "shape", "male", "mile", "number", "animal", "gender", "toy", "international"]


@pytest.fixture(scope="module")
def corrector() -> Corrector:
    return Corrector.build(WORDS)


def test_one_edit_is_corrected(corrector: Corrector) -> None:
    assert corrector.correct("sevven") == Correction("sevven", "seven", 1)  # doubled letter
    assert corrector.correct("wrod") == Correction("wrod", "word", 1)  # swapped letters
    assert corrector.correct("numbr") == Correction("numbr", "number", 1)  # dropped letter
    assert corrector.correct("internationl") == Correction("internationl", "international", 1)  # past the prefix


def test_two_edits_are_corrected(corrector: Corrector) -> None:
    assert OSA.distance("sphxrx", "sphere") == 2
    assert corrector.correct("sphxrx") == Correction("sphxrx", "sphere", 2)
    assert corrector.correct("anmial") == Correction("anmial", "animal", 1)
    assert corrector.correct("anmal") == Correction("anmal", "animal", 1)
    assert corrector.correct("anmml") == Correction("anmml", "animal", 2)


def test_the_closest_word_wins_over_a_more_frequent_one(corrector: Corrector) -> None:
    # "worlx" is one edit from "world" and two from the more frequent "word"
    assert corrector.correct("worlx") == Correction("worlx", "world", 1)


def test_a_likely_word_one_edit_farther_beats_an_unlikely_closer_one() -> None:
    # "intrenationall" is a swap and a doubled letter from the common "international", and one
    # dropped letter of a double from a rare word: the extra edit costs a few nats, not the race
    words = ["international", *(f"filler{'a' * i}" for i in range(1_000)), "intrenational"]
    corrector = Corrector.build(words)
    assert OSA.distance("intrenationall", "international") == 2
    assert corrector.correct("intrenationall") == Correction("intrenationall", "international", 2)
    strict = corrector.replace(farther=math.inf)  # distance first: the closer word wins
    assert strict.correct("intrenationall") == Correction("intrenationall", "intrenational", 1)


def test_a_dropped_letter_outweighs_a_slip_to_one_of_several_neighbouring_keys() -> None:
    # "car" is "cat" with r, a neighbour of t, typed for it, or "cart" with its t dropped; the slip
    # is shared among t's six neighbours, so the dropped letter wins though "cat" is more frequent
    corrector = Corrector.build(["cat", "cart"])
    assert corrector.correct("car") == Correction("car", "cart", 1)
    assert channel_log_probability("cart", "car") > channel_log_probability("cat", "car")
    assert channel_log_probability("cat", "cay") == pytest.approx(math.log(Channel().near_key / len(_NEAR["t"])))


def test_a_word_of_the_stored_keys_wins_a_tie(corrector: Corrector) -> None:
    # "carx" is one edit from card, cart and care; card is the most frequent (and x is beside d)
    assert corrector.correct("carx") == Correction("carx", "card", 1)
    assert corrector.correct("carx", preferred={"cart"}) == Correction("carx", "cart", 1)
    assert corrector.correct("carx", preferred=["care", "dog"]) == Correction("carx", "care", 1)


def test_a_stored_key_word_outside_the_vocabulary_is_a_candidate(corrector: Corrector) -> None:
    assert corrector.correct("rhombsu") is None
    assert corrector.correct("rhombsu", preferred={"rhombus"}) == Correction("rhombsu", "rhombus", 1)
    assert corrector.correct("rhombus", preferred={"rhombus"}) == Correction("rhombus", "rhombus", 0)


def test_the_likelier_typing_error_wins_a_tie(corrector: Corrector) -> None:
    # "w" is the key beside "e", far from "d" and "t": care, though card and cart are more frequent
    assert corrector.correct("carw") == Correction("carw", "care", 1)
    assert channel_log_probability("care", "carw") > channel_log_probability("card", "carw")
    assert channel_log_probability("seven", "sevven") > channel_log_probability("seven", "sevqen")


def test_case_and_punctuation(corrector: Corrector) -> None:
    assert normalise("Rhombus,") == "rhombus"
    assert normalise("“Cat”") == "cat"
    assert corrector.correct("Cat") == Correction("Cat", "cat", 0)
    assert corrector.correct("Sphere.") == Correction("Sphere.", "sphere", 0)
    assert corrector.correct("Sevven,") == Correction("Sevven,", "seven", 1)
    assert corrector.correct("...") is None


def test_nothing_within_the_limit_is_none(corrector: Corrector) -> None:
    assert corrector.correct("xqzvkj") is None
    # a short word is corrected by one edit only: "cxx" is two from "cat"
    assert OSA.distance("cxx", "cat") == 2
    assert corrector.correct("cxx") is None
    assert corrector.replace(min_length_for_2=3).correct("cxx") is not None


def test_known_words_are_never_changed(corrector: Corrector) -> None:
    for word in WORDS:
        assert corrector.correct(word, preferred={"rhombus", "cart"}) == Correction(word, word, 0)


def test_words_of_gensims_glove_slice() -> None:
    lines = Path(datapath("test_glove.txt")).read_text(encoding="utf-8").splitlines()
    words = [line.split(" ", 1)[0] for line in lines]
    corrector = Corrector.build(words)
    assert all(corrector.correct(w) == Correction(w, w, 0) for w in words)
    assert corrector.correct("teh") == Correction("teh", "the", 1)
    assert corrector.correct("Teh,") == Correction("Teh,", "the", 1)


def test_replace_rejects_an_unknown_option(corrector: Corrector) -> None:
    with pytest.raises(TypeError, match="unknown option 'zipff'"):
        corrector.replace(zipff=1.0)


def test_the_cache_file_round_trips(tmp_path: Path) -> None:
    layout = CacheLayout(tmp_path)
    first = Corrector.build(WORDS, name="abc123", layout=layout)
    path = index_file(layout, "abc123")
    assert path.is_file() and manifest_path(path).is_file()
    assert path.read_bytes()[:6] == b"\x93NUMPY"  # a plain .npy array, no pickle
    stamp = path.stat().st_mtime_ns
    second = Corrector.build(WORDS, name="abc123", layout=layout)
    assert path.stat().st_mtime_ns == stamp  # read, not rebuilt
    assert isinstance(second.table, np.memmap)
    assert np.array_equal(np.asarray(first.table), np.asarray(second.table))
    assert second.correct("sevven") == Correction("sevven", "seven", 1)


def test_a_cache_of_other_words_is_not_used(tmp_path: Path) -> None:
    layout = CacheLayout(tmp_path)
    Corrector.build(WORDS[:5], name="same-name", layout=layout)
    again = Corrector.build(WORDS, name="same-name", layout=layout)
    assert again.correct("sevven") == Correction("sevven", "seven", 1)


@pytest.mark.parametrize("damage", ["flip", "zeros", "truncate", "manifest"])
def test_a_garbled_cache_file_is_rebuilt_never_trusted(tmp_path: Path, damage: str) -> None:
    layout = CacheLayout(tmp_path)
    Corrector.build(WORDS, name="fp", layout=layout)
    path = index_file(layout, "fp")
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0xFF
        path.write_bytes(bytes(raw))
    elif damage == "zeros":  # a valid .npy of the right dtype and size, but not the index
        with open(path, "wb") as handle:
            np.save(handle, np.zeros(len(build_table(WORDS)), dtype=np.uint64), allow_pickle=False)
    elif damage == "truncate":
        path.write_bytes(bytes(raw[: len(raw) // 3]))
    else:
        manifest_path(path).write_text(json.dumps({"version": 1, "files": "nonsense"}))
    rebuilt = Corrector.build(WORDS, name="fp", layout=layout)
    assert np.array_equal(np.asarray(rebuilt.table), build_table(WORDS))
    assert rebuilt.correct("sevven") == Correction("sevven", "seven", 1)
    assert verified(path, kind="spelling")  # republished whole


def test_an_unsafe_name_becomes_a_digest(tmp_path: Path) -> None:
    path = index_file(CacheLayout(tmp_path), "../../etc/passwd")
    assert path.parent == tmp_path / "v1" / "spelling"
    assert ".." not in path.name


def test_builds_and_answers_are_deterministic() -> None:
    assert np.array_equal(build_table(WORDS), build_table(list(WORDS)))
    typos = ["carx", "sevven", "wrod", "sphxrx", "anmml", "mle", "tyo"]
    assert [Corrector.build(WORDS).correct(t) for t in typos] == [Corrector.build(WORDS).correct(t) for t in typos]


def test_threads_share_one_corrector(corrector: Corrector) -> None:
    typos = ["carx", "sevven", "wrod", "sphxrx", "anmml", "numbr"] * 20
    expected = [corrector.correct(t) for t in typos]
    results: list[list[Correction | None]] = []

    def run() -> None:
        results.append([corrector.correct(t) for t in typos])

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 4


LETTERS = "abcdefghijklmnopqrstuvwxyz"


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(WORDS))
def test_every_vocabulary_word_corrects_to_itself(word: str) -> None:
    assert Corrector.build(WORDS).correct(word) == Correction(word, word, 0)


@st.composite
def one_edit(draw: st.DrawFn) -> tuple[str, str]:
    word = draw(st.sampled_from(WORDS))
    i = draw(st.integers(0, len(word) - 1))
    letter = draw(st.sampled_from(LETTERS))
    kind = draw(st.sampled_from(["drop", "insert", "replace", "swap"]))
    if kind == "drop":
        typed = word[:i] + word[i + 1 :]
    elif kind == "insert":
        typed = word[:i] + letter + word[i:]
    elif kind == "replace":
        typed = word[:i] + letter + word[i + 1 :]
    else:
        i = min(i, len(word) - 2)
        typed = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word, typed


_SHARED = Corrector.build(WORDS)


@settings(max_examples=300, deadline=None)
@given(one_edit())
def test_a_one_edit_variant_corrects_within_one_edit(case: tuple[str, str]) -> None:
    word, typed = case
    found = _SHARED.correct(typed)
    assert found is not None
    assert found.used in WORDS
    assert found.distance == OSA.distance(typed, found.used) <= 2
    if typed not in WORDS:
        assert found.distance >= 1
    if found.distance == 2:  # one edit farther than the closest word, and it outweighs every closer one
        assert len(typed) >= _SHARED.min_length_for_2
        closer = [w for w in WORDS if OSA.distance(typed, w) == 1]
        assert closer and all(_SHARED.weight(found.used, typed, 1) >= _SHARED.weight(w, typed) for w in closer)
    strict = _SHARED.replace(farther=math.inf).correct(typed)  # distance first
    assert strict is not None and strict.distance == (0 if typed in WORDS else 1)
