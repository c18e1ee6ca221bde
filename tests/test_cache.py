from pathlib import Path

import pytest

from fuzzykv.cache import CACHE_VERSION, CacheLayout, publish_dir, publish_file


def test_default_layout_follows_fuzzykv_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUZZYKV_CACHE", str(tmp_path))
    layout = CacheLayout.default()
    assert layout.root == tmp_path
    assert layout.default_vectors_file == tmp_path / f"v{CACHE_VERSION}" / "glove-6b-50d" / "vectors.kv"
    assert layout.annoy_file("abc").parent == tmp_path / f"v{CACHE_VERSION}" / "annoy"


def test_default_layout_without_the_variable_is_the_user_cache_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FUZZYKV_CACHE", raising=False)
    assert CacheLayout.default().root.name == "fuzzykv"


def test_publish_file_leaves_the_whole_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "index.ann"
    publish_file(target, lambda staging: staging.write_text("built"))
    assert target.read_text() == "built"
    assert [p.name for p in target.parent.iterdir()] == ["index.ann"]


def test_publish_file_that_fails_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "index.ann"

    def fail(staging: Path) -> None:
        staging.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        publish_file(target, fail)
    assert list(tmp_path.iterdir()) == []


def test_publish_dir_keeps_the_first_copy_when_two_race(tmp_path: Path) -> None:
    target = tmp_path / "vectors"
    publish_dir(target, lambda staging: (staging / "a").write_text("first"))
    publish_dir(target, lambda staging: (staging / "a").write_text("second"))
    assert (target / "a").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["vectors"]


# -- checked files (issue 11, items 3 and 12) ---------------------------------------------------

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Iterator  # noqa: E402

from fuzzykv.cache import (  # noqa: E402
    ensure_checked,
    manifest_path,
    publish_checked,
    publish_checked_dir,
    verified,
)
from fuzzykv.errors import CacheError  # noqa: E402

SIZE = 3 * (1 << 20) + 123  # more than the first and last MiB the old annoy manifest hashed
META = {"n_items": 400, "dim": 50, "n_trees": 20, "seed": 7}


def _fill(staging: Path) -> None:
    staging.write_bytes(bytes(range(256)) * (SIZE // 256) + b"x" * (SIZE % 256))


def _garble(path: Path, offset: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))


def test_a_published_file_is_verified_with_its_meta(tmp_path: Path) -> None:
    target = tmp_path / "annoy" / "index.ann"
    publish_checked(target, _fill, **META)
    assert verified(target, **META)
    assert verified(target, dim=50)  # a subset of the meta is enough
    assert not verified(target, **{**META, "n_trees": 21})
    assert not verified(target, other="meta")
    assert sorted(p.name for p in target.parent.iterdir()) == ["index.ann", "index.ann.manifest.json"]
    assert all(p.stat().st_mode & 0o044 == 0o044 for p in target.parent.iterdir())  # readable by other users


@pytest.mark.parametrize("offset", [0, 1 << 19, SIZE // 2, SIZE - (1 << 20) - 1, SIZE - 1])
def test_a_garbled_byte_anywhere_is_detected(tmp_path: Path, offset: int) -> None:
    target = tmp_path / "index.ann"
    publish_checked(target, _fill, **META)
    _garble(target, offset)
    assert not verified(target, **META)


@pytest.mark.parametrize(
    "manifest",
    [b"", b"\xff\xfe", b"[]", b'{"version": 1}', b"{" * 100_000, b'{"version": 2, "algorithm": "xxh3_128"}',
     b'{"version": 1, "algorithm": "xxh3_128", "files": {"../x": [1, "a"]}, "meta": {}}', b"0" * (2 << 20)],
)
def test_a_garbled_manifest_is_never_an_exception(tmp_path: Path, manifest: bytes) -> None:
    target = tmp_path / "index.ann"
    publish_checked(target, _fill, **META)
    manifest_path(target).write_bytes(manifest)
    assert not verified(target, **META)


def test_missing_files_are_not_verified(tmp_path: Path) -> None:
    target = tmp_path / "index.ann"
    assert not verified(target)
    publish_checked(target, _fill, **META)
    target.unlink()
    assert not verified(target, **META)
    assert not verified(tmp_path / "no" / "such" / "folder")


def test_a_truncated_or_swapped_file_is_detected(tmp_path: Path) -> None:
    target = tmp_path / "index.ann"
    publish_checked(target, _fill, **META)
    verified(target, **META)
    os.truncate(target, SIZE - 1)
    assert not verified(target, **META)
    publish_checked(target, _fill, **META)
    other = tmp_path / "other.ann"
    publish_checked(other, lambda p: p.write_bytes(b"other"), **META)
    os.replace(other, target)  # a file of the same name and meta, but not the one recorded
    assert not verified(target, **META)


def test_ensure_checked_rebuilds_a_damaged_file(tmp_path: Path) -> None:
    target = tmp_path / "index.ann"
    calls: list[Path] = []

    def fill(staging: Path) -> None:
        calls.append(staging)
        _fill(staging)

    ensure_checked(target, fill, **META)
    ensure_checked(target, fill, **META)
    assert len(calls) == 1
    _garble(target, SIZE // 2)
    ensure_checked(target, fill, **META)
    assert len(calls) == 2 and verified(target, **META)


def test_a_checked_folder_is_verified_and_a_damaged_one_replaced(tmp_path: Path) -> None:
    target = tmp_path / "vectors"

    def fill(staging: Path) -> None:
        (staging / "vectors.npy").write_bytes(b"\x93NUMPY" + bytes(1000))
        (staging / "words.txt").write_text("the\nof")

    publish_checked_dir(target, fill, rows=2)
    assert verified(target, rows=2) and not verified(target, rows=3)
    (target / "words.txt").write_text("the\nOF")
    assert not verified(target, rows=2)
    ensure_checked(target, fill, folder=True, rows=2)
    assert (target / "words.txt").read_text() == "the\nof" and verified(target, rows=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors"]


def test_a_cache_that_cannot_be_written_is_a_cache_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CacheError, match="set FUZZYKV_CACHE to a writable folder"):
        ensure_checked(blocker / "index.ann", _fill, **META)


@pytest.fixture()
def shared_folder() -> Iterator[Path]:
    """A folder other users can reach (pytest's tmp_path is private to its user)."""
    folder = Path(tempfile.mkdtemp(prefix="fuzzykv-shared-"))
    folder.chmod(0o755)
    yield folder
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_dir():
            path.chmod(0o755)
    subprocess.run(["rm", "-rf", str(folder)], check=True)


def run_as_nobody(code: str, imports: str = "fuzzykv.cache") -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a Python that has dropped to user 'nobody' when run as root (so file modes bind).

    ``imports`` are imported first, as root: the interpreter's own files may be private to root.
    """
    prelude = (f"import os, traceback, {imports}\n"
               "if os.getuid() == 0:\n    os.setgroups([]); os.setgid(65534); os.setuid(65534)\n")
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=120,
                          cwd="/", env={**os.environ, "HOME": "/nonexistent"})


def test_a_read_only_cache_is_used_as_it_is(shared_folder: Path) -> None:
    cache = shared_folder / "cache"
    target = cache / "index.ann"
    publish_checked(target, _fill, **META)
    cache.chmod(0o555)
    before = sorted(p.name for p in cache.iterdir())
    code = (
        "from pathlib import Path\nfrom fuzzykv.cache import ensure_checked, verified\n"
        f"target = Path({str(target)!r})\n"
        f"assert verified(target, **{META!r})\n"
        f"ensure_checked(target, lambda p: 1 / 0, **{META!r})\n"
        "print('ok')\n"
    )
    done = run_as_nobody(code)
    assert done.stdout.strip() == "ok", done.stderr
    assert sorted(p.name for p in cache.iterdir()) == before
    _garble(target, SIZE // 3)
    done = run_as_nobody(code.replace("assert verified", "assert not verified"))
    assert "CacheError" in done.stderr and "writable" in done.stderr
