import pickle

import pytest

from fuzzykv import errors


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (errors.UnknownWordError, LookupError),
        (errors.EmptyDatabaseError, LookupError),
        (errors.EmptyTextError, ValueError),
        (errors.InvalidOptionError, ValueError),
        (errors.PairsFileError, ValueError),
        (errors.NotTextError, TypeError),
        (errors.EmbeddingsError, OSError),
    ],
)
def test_each_error_is_a_fuzzykv_error_and_the_builtin_a_caller_catches(error: type, builtin: type) -> None:
    assert issubclass(error, errors.FuzzyKVError)
    assert issubclass(error, builtin)
    assert error.__doc__


def test_unknown_word_error_names_the_words_and_the_way_out() -> None:
    error = errors.UnknownWordError("rhombuss", ["rhombuss"], 400_000)
    assert "'rhombuss'" in str(error) and "400,000 words" in str(error) and "check the spelling" in str(error)
    assert error.words == ("rhombuss",)


def test_unknown_word_error_for_a_stored_pair_says_every_word_needs_a_vector() -> None:
    error = errors.UnknownWordError("ice creamm", ["creamm"], 10, every_word=False)
    assert "'creamm'" in str(error) and "every word" in str(error)


def test_unknown_word_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(errors.UnknownWordError("x y", ["x", "y"], 5, every_word=True)))
    assert isinstance(error, errors.UnknownWordError)
    assert error.words == ("x", "y") and str(error).startswith("'x y' has no word")
