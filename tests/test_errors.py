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


# -- every error class, raised through the public API ------------------------------------------

import subprocess  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from fuzzykv import Database  # noqa: E402
from fuzzykv.embed.vectors import Embeddings  # noqa: E402


def _nan_encoder(texts: list[str]) -> np.ndarray:
    out = np.ones((len(texts), 4), dtype=np.float32)
    out[:, 0] = [float("nan") if "bad" in t else 1.0 for t in texts]
    return out


def _version_bump(path: Path) -> None:
    import sqlite3

    Database.open(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE fuzzykv_meta SET value = '999' WHERE name = 'version'")


@pytest.fixture()
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 320 KiB file system (tmpfs), where a store soon fills the disk. Needs root to mount."""
    mount = tmp_path / f"tiny-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=320k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


CASES: dict[type, Callable[[Path], object]] = {
    errors.UnknownWordError: lambda tmp: Database({"cat": "animal"}, unknown="error").query("rhombuss"),
    errors.EmptyTextError: lambda tmp: Database({"cat": "animal"}).query("   "),
    errors.NotTextError: lambda tmp: Database({"cat": 3}),  # type: ignore[dict-item]
    errors.NotAPairError: lambda tmp: Database([("cat", "animal", "extra")]),  # type: ignore[list-item]
    errors.InvalidOptionError: lambda tmp: Database({"cat": "animal"}, similarity="euclid"),  # type: ignore[arg-type]
    errors.EmptyDatabaseError: lambda tmp: Database().query("cat"),
    errors.EmbeddingsError: lambda tmp: Database(embeddings=tmp / "missing.txt"),
    errors.EncoderOutputError: lambda tmp: Database({"good": "bad"}, encoder=_nan_encoder),
    errors.StoreError: lambda tmp: Database.open(tmp / "no-such-folder" / "s.fkv"),
    errors.NotAStoreError: lambda tmp: Database.open(tmp),
    errors.StoreVersionError: lambda tmp: (_version_bump(tmp / "v.fkv"), Database.open(tmp / "v.fkv")),
    errors.ReadOnlyStoreError: lambda tmp: (Database.open(tmp / "r.fkv").close(),
                                            Database.open(tmp / "r.fkv", read_only=True).__setitem__("cat", "animal")),
    errors.StoreClosedError: lambda tmp: (db := Database({"cat": "animal"}), db.close(), db.query("cat")),
    errors.StoreSettingsError: lambda tmp: (Database.open(tmp / "s.fkv", similarity="dot").close(),
                                            Database.open(tmp / "s.fkv", similarity="cosine")),
}


@pytest.mark.parametrize("error", list(CASES), ids=lambda e: e.__name__)
def test_each_error_is_raised_through_the_public_api(error: type, tmp_path: Path, glove: Embeddings) -> None:
    with pytest.raises(error) as raised:
        CASES[error](tmp_path)
    assert type(raised.value) is error
    assert str(raised.value)


def test_a_full_disk_is_a_store_full_error_and_keeps_what_was_written(tiny_disk: Path, glove: Embeddings) -> None:
    path = tiny_disk / "full.fkv"
    written: dict[str, str] = {}
    with pytest.raises(errors.StoreFullError, match="full"), Database.open(path) as db:
        for i in range(100_000):
            key = f"the {i}"
            db[key] = "cat"
            written[key] = "cat"
    with Database.open(path, read_only=True) as again:
        assert dict(again.items()) == written


def test_a_pairs_file_error_names_the_file(tmp_path: Path) -> None:
    from fuzzykv.cli.transfer import read_pairs

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(errors.PairsFileError, match="bad.json"):
        read_pairs(bad)


def test_every_error_class_is_covered() -> None:
    classes = {c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.FuzzyKVError)}
    raised_elsewhere = {
        errors.StoreFullError, errors.PairsFileError,  # above
        errors.ShardUnavailableError,  # tests/test_distributed.py: a restarted in-memory shard
        errors.CacheError,  # tests/test_cache.py: a damaged cache that cannot be rebuilt
        # tests/test_contracts.py: the service's and the client's own errors
        errors.AuthenticationError, errors.MissingKeyError, errors.RequestSchemaError,
        errors.RequestTooLargeError, errors.ServiceUnavailableError,
        errors.StorePathError,  # tests/test_faults.py: a NUL byte in a path
    }
    covered = set(CASES) | raised_elsewhere | {errors.FuzzyKVError}
    assert classes <= covered, f"no test raises {sorted(c.__name__ for c in classes - covered)}"
