from pathlib import Path

import pytest

from fuzzykv import PairsFileError
from fuzzykv.cli.transfer import read_pairs


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


# -- writing, and exact round trips (issue 11, item 9) ------------------------------------------

import io  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fuzzykv.cli.transfer import FORMS, PairsForm, write_pairs  # noqa: E402

AWKWARD = {
    "tab\there": "new\nline",
    "back\\slash \\t": "carriage\rreturn\r\n",
    "  padded  ": "\ttrailing tab\t",
    "\\": "\\\\n",
    "line\u2028separator\x0b\x1c": "{\"looks\": \"json\"}",
    "nul\x00inside": "\ufeffbom",
}
# Every text fuzzykv accepts: no lone surrogates, not blank.
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1).filter(lambda t: t.strip() != "")


def _round_trip(pairs: dict[str, str], form: PairsForm, path: Path, named: bool) -> dict[str, str]:
    stream = io.StringIO()
    assert write_pairs(pairs.items(), stream, form) == len(pairs)
    path.write_text(stream.getvalue(), encoding="utf-8")
    return read_pairs(path) if named else read_pairs(path, form)


@pytest.mark.parametrize("form", FORMS)
def test_awkward_texts_round_trip_exactly(tmp_path: Path, form: PairsForm) -> None:
    assert _round_trip(AWKWARD, form, tmp_path / f"pairs.{form}", named=True) == AWKWARD
    assert list(_round_trip(AWKWARD, form, tmp_path / f"pairs.{form}", named=True)) == list(AWKWARD)


@pytest.mark.parametrize("form", FORMS)
@hypothesis_settings(max_examples=60, deadline=None)
@given(pairs=st.dictionaries(TEXT, TEXT, max_size=6))
def test_every_accepted_text_round_trips(tmp_path_factory: pytest.TempPathFactory, form: PairsForm,
                                         pairs: dict[str, str]) -> None:
    folder = tmp_path_factory.mktemp("pairs")
    assert _round_trip(pairs, form, folder / "pairs.txt", named=False) == pairs
    assert _round_trip(pairs, form, folder / f"pairs.{form}", named=True) == pairs


def test_tsv_escapes_what_breaks_lines_and_columns() -> None:
    stream = io.StringIO()
    write_pairs([("a\tb", "c\nd\\e\r")], stream, "tsv")
    assert stream.getvalue() == "a\\tb\tc\\nd\\\\e\\r\n"


def test_content_decides_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "pairs.txt"
    path.write_text('{"key": "cat", "value": "animal"}\n{"key": "dog", "value": "animal"}\n')
    assert read_pairs(path) == {"cat": "animal", "dog": "animal"}


def test_tsv_written_with_crlf_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_bytes(b"cat\tanimal\r\nball\ttoy\r\n")
    assert read_pairs(path) == {"cat": "animal", "ball": "toy"}


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("p.tsv", "a\\x\tb\n", r"line 1: unknown escape '\\\\x'"),
        ("p.tsv", "a\tb\\\n", r"line 1: unknown escape '\\\\'"),
        ("p.jsonl", '{"key": "a", "value": 1}\n', r"line 1: expected an object with a string \"key\""),
        ("p.jsonl", '{"key": "a", "value": "b"}\n{"key": \n', r"line 2: not valid JSON"),
        ("p.json", '{"a": "\\ud800"}', r"lone surrogate"),
        ("p.json", "[" * 100_000, r"not valid JSON"),
    ],
)
def test_malformed_new_forms_name_the_fault(tmp_path: Path, name: str, content: str, match: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(PairsFileError, match=match):
        read_pairs(path)


def test_a_folder_or_an_unknown_form_is_a_pairs_file_error(tmp_path: Path) -> None:
    with pytest.raises(PairsFileError, match="cannot read pairs file"):
        read_pairs(tmp_path)
    with pytest.raises(PairsFileError, match="unknown pairs file form 'csv'"):
        write_pairs([], io.StringIO(), "csv")  # type: ignore[arg-type]
