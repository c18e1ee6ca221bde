"""Confidence of words guessed from their spelling (issue 23, item 9)."""

from __future__ import annotations

import math
import random

import pytest

from fuzzykv import Database
from fuzzykv.results import GUESS_RELIABILITY, guessed_confidence


def test_a_nonsense_word_answers_with_low_confidence(writeup_db: Database) -> None:
    found = writeup_db.search("qwxzzyvplk")
    assert found.spelled == ("qwxzzyvplk",) and found.best_similarity < 0.5  # was 0.80
    assert writeup_db.search("qwxzzyvplk", min_similarity=0.5).candidates == []
    assert writeup_db.query_batch(["qwxzzyvplk", "kitten"], min_similarity=0.3) == [[], writeup_db.query("kitten")]


def test_random_consonant_strings_fall_below_one_half(writeup_db: Database) -> None:
    rng = random.Random(5)
    words = ["".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(rng.randint(6, 11))) for _ in range(40)]
    guessed = [r for r in writeup_db.search_batch(words, k=1) if r.spelled]
    assert len(guessed) >= 30 and max(r.best_similarity for r in guessed) < 0.5


def test_corrected_and_real_words_keep_their_answer_and_confidence(writeup_db: Database) -> None:
    real, typo = writeup_db.search("kitten", exact=True), writeup_db.search("kitteen", exact=True)
    assert typo.corrections and not typo.spelled
    assert typo.words == real.words and typo.best_similarity == real.best_similarity


def test_the_discount_grows_with_the_share_of_guessed_words() -> None:
    assert guessed_confidence(0.8, 0, 1) == 0.8 and math.isnan(guessed_confidence(float("nan"), 1, 1))
    alone, half = guessed_confidence(0.8, 1, 1), guessed_confidence(0.8, 1, 2)
    assert alone == pytest.approx(math.cos(math.acos(0.8) + math.acos(GUESS_RELIABILITY)))
    assert alone < half < 0.8 and guessed_confidence(1.0, 1, 1) == pytest.approx(GUESS_RELIABILITY)
    assert guessed_confidence(-1.0, 1, 1) == pytest.approx(-1.0)
