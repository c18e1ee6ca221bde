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
