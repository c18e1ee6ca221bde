from pathlib import Path

import pytest

from fuzzykv import PairsFileError
from fuzzykv.pairs_file import read_pairs


def test_json_object(tmp_path: Path) -> None:
    path = tmp_path / "pairs.json"
    path.write_text('{"cat": "animal", "new york": "city"}')
    assert read_pairs(path) == {"cat": "animal", "new york": "city"}


def test_tsv_with_blank_lines_and_a_repeated_key(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text("cat\tanimal\n\nball\ttoy\ncat\tpet\n")
    assert read_pairs(path) == {"cat": "pet", "ball": "toy"}


def test_content_decides_without_a_known_suffix(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text('  {"one": "number"}')
    (tmp_path / "b.txt").write_text("one\tnumber\n")
    assert read_pairs(tmp_path / "a.txt") == read_pairs(tmp_path / "b.txt") == {"one": "number"}


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("p.tsv", "cat\tanimal\ndog animal\n", r"line 2: expected 2 tab-separated columns"),
        ("p.tsv", "a\tb\tc\n", r"line 1: .*got 3"),
        ("p.json", '{"cat": 3}', r"the value of 'cat' is 3"),
        ("p.json", '["cat", "animal"]', r"expected a JSON object.*got a JSON list"),
        ("p.json", '{"cat": ', r"not valid JSON"),
    ],
)
def test_malformed_files_name_the_fault(tmp_path: Path, name: str, content: str, match: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(PairsFileError, match=match):
        read_pairs(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PairsFileError, match="cannot read pairs file"):
        read_pairs(tmp_path / "absent.json")
