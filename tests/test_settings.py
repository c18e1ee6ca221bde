"""Settings: every option declared once, checked once, saved by a store and restored on open."""

import dataclasses
import typing

import pytest

from fuzzykv import Database, InvalidOptionError, Settings, StoreSettingsError
from fuzzykv.embed.vectors import Embeddings
from fuzzykv.settings import DEPRECATED, Options, option_help


def test_the_keyword_options_are_the_settings_fields_and_the_old_names() -> None:
    fields = {f.name for f in dataclasses.fields(Settings)}
    assert set(typing.get_type_hints(Options)) == fields | set(DEPRECATED)
    assert set(option_help()) == fields and all(option_help().values())


@pytest.mark.parametrize(
    ("option", "value", "match"),
    [
        ("similarity", "euclid", "similarity must be one of 'cosine', 'dot'"),
        ("temperature", 0, "temperature must be a positive finite number"),
        ("temperature", float("nan"), "temperature must be a positive finite number"),
        ("temperature", 1e-9, "temperature must be at least 1e-06"),
        ("temperature", "hot", "temperature must be a positive number"),
        ("vocabulary_size", 0, "vocabulary_size"),
        ("n_trees", 2.5, "n_trees must be a positive whole number"),
        ("search_k", True, "search_k must be a positive whole number"),
        ("attend_to", "some", "attend_to must be one of 'all', 'index'"),
        ("answers", "words", "answers must be one of 'vocabulary', 'values'"),
        ("unknown", "guess", "unknown must be one of 'error', 'correct', 'chars'"),
        ("unknown_stored", "guess", "unknown_stored must be one of"),
        ("device", "mps", "device must be 'cpu' or a CUDA device"),
    ],
)
def test_every_bad_option_is_an_invalid_option_error_naming_it(option: str, value: object, match: str) -> None:
    with pytest.raises(InvalidOptionError, match=match):
        Settings(**{option: value})


def test_settings_are_frozen_and_resolve_the_temperature() -> None:
    settings = Settings()
    assert settings.temperature == 0.03 and settings.value_weight == 1.0
    assert settings.unknown == "correct" and settings.unknown_stored == "error"
    assert settings.replace(similarity="dot").temperature == 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.similarity = "dot"  # type: ignore[misc]
    with pytest.raises(InvalidOptionError, match="unknown option 'temprature'"):
        Settings.from_options(temprature=0.1)


def test_a_settings_object_and_keywords_combine(glove: Embeddings) -> None:
    base = Settings(similarity="dot")
    db = Database({"cat": "animal"}, settings=base, temperature=2.0)
    assert (db.settings.similarity, db.settings.temperature) == ("dot", 2.0)


def test_a_reopened_store_answers_exactly_as_the_one_that_wrote_it(glove: Embeddings, tmp_path) -> None:
    path = tmp_path / "s.fkv"
    options = {"similarity": "dot", "temperature": 0.5, "vocabulary_size": 50_000, "answers": "values",
               "unknown": "error", "unknown_stored": "correct", "n_trees": 7, "search_k": 3_000, "attend_to": "index",
               "attend_top": 64}
    with Database.open(path, **options) as db:  # type: ignore[arg-type]
        db.update({"one": "number", "cat": "animal", "sphere": "shape", "male": "gender"})
        before = [db.search(q, k=3) for q in ("rhombus", "seven", "female")]
        saved = db.settings
    with Database.open(path) as again:
        assert again.settings == saved
        after = [again.search(q, k=3) for q in ("rhombus", "seven", "female")]
    assert [r.candidates for r in before] == [r.candidates for r in after]
    assert [r.attention for r in before] == [r.attention for r in after]


@pytest.mark.parametrize(("option", "value"), [("answers", "vocabulary"), ("unknown", "chars"), ("attend_to", "all")])
def test_a_disagreeing_option_names_both_values(glove: Embeddings, tmp_path, option: str, value: str) -> None:
    path = tmp_path / "s.fkv"
    Database.open(path, answers="values", unknown="error", attend_to="index").close()
    with pytest.raises(StoreSettingsError, match=f"made with {option}=.*not {option}={value!r}"):
        Database.open(path, **{option: value})  # type: ignore[arg-type]
