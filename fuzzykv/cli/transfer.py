r"""Pairs files <-> pairs: a JSON object, JSON Lines, or a two-column tab-separated file.

Every text fuzzykv stores survives a round trip through each form exactly: TSV escapes what
would break a line or a column (``\t``, ``\n``, ``\r`` and the backslash itself, ``\\``) and
keeps surrounding white space; JSON and JSON Lines are JSON strings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, TextIO

from ..errors import NotTextError, PairsFileError

PairsForm = Literal["json", "tsv", "jsonl"]
#: The forms a pairs file may take, and the suffixes that name them.
FORMS: tuple[PairsForm, ...] = ("json", "tsv", "jsonl")
SUFFIXES: dict[str, PairsForm] = {".json": "json", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}

_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def write_pairs(pairs: Iterable[tuple[str, str]], stream: TextIO, form: PairsForm) -> int:
    """Write ``pairs`` to ``stream`` in ``form``; returns how many were written.

    :raises NotTextError: a key or value that is not a string.
    :raises PairsFileError: an unknown ``form``.
    """
    if form not in FORMS:
        raise PairsFileError(f"unknown pairs file form {form!r}; expected one of {', '.join(FORMS)}")
    count = 0
    if form == "json":
        stream.write("{")
    for key, value in pairs:
        for text in (key, value):
            if not isinstance(text, str):
                raise NotTextError(f"pairs must be text, got {type(text).__name__} {text!r} (pair {count + 1})")
        if form == "tsv":
            stream.write(f"{_escape(key)}\t{_escape(value)}\n")
        elif form == "jsonl":
            stream.write(json.dumps({"key": key, "value": value}, ensure_ascii=False) + "\n")
        else:
            separator = "\n  " if count == 0 else ",\n  "
            stream.write(f"{separator}{json.dumps(key, ensure_ascii=False)}: {json.dumps(value, ensure_ascii=False)}")
        count += 1
    if form == "json":
        stream.write("\n}\n" if count else "}\n")
    return count


def read_pairs(path: str | Path, form: PairsForm | None = None) -> dict[str, str]:
    """Read key -> value pairs in ``form``; without one the suffix (``.json``, ``.tsv``/``.tab``,
    ``.jsonl``/``.ndjson``) decides, else the content (one JSON object, JSON objects on lines, TSV).

    A later line (TSV, JSON Lines) or member (JSON) with the same key replaces an earlier one, as in a dict.
    TSV fields are taken as written (no white space is trimmed) and unescaped.

    :raises PairsFileError: naming the file, the line or key at fault, and the expected shape.
    """
    path = Path(path)
    if form is not None and form not in FORMS:
        raise PairsFileError(f"unknown pairs file form {form!r}; expected one of {', '.join(FORMS)}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise PairsFileError(
            f"cannot read pairs file {str(path)!r}: {error}; check the path and that it is UTF-8"
        ) from error
    form = form or SUFFIXES.get(path.suffix.lower()) or _sniff(text)
    if form == "json":
        pairs = _from_json(text, path)
    elif form == "jsonl":
        pairs = _from_jsonl(text, path)
    else:
        pairs = _from_tsv(text, path)
    for key, value in pairs.items():
        for text_ in (key, value):
            try:
                text_.encode("utf-8")
            except UnicodeEncodeError as error:
                raise PairsFileError(f"{path}: the pair {key!r} holds a lone surrogate, not text ({error})") from error
    return pairs


def _sniff(text: str) -> PairsForm:
    """JSON for one object; JSON Lines for objects on several lines; otherwise TSV."""
    if not text.lstrip().startswith("{"):
        return "tsv"
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) > 1 and all(line.lstrip().startswith("{") and line.rstrip().endswith("}") for line in lines):
        return "jsonl"
    return "json"


def _escape(text: str) -> str:
    return "".join(_ESCAPES.get(char, char) for char in text)


def _unescape(field: str, path: Path, number: int) -> str:
    if "\\" not in field:
        return field
    out: list[str] = []
    chars = iter(field)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        follower = next(chars, "")
        if follower not in _UNESCAPES:
            escape = "\\" + follower
            raise PairsFileError(
                f"{path}, line {number}: unknown escape {escape!r} in {field!r}; "
                "a TSV pairs file escapes only \\t, \\n, \\r and \\\\ (write a backslash as \\\\)"
            )
        out.append(_UNESCAPES[follower])
    return "".join(out)


def _from_json(text: str, path: Path) -> dict[str, str]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise PairsFileError(
            f"{path}: not valid JSON ({error}); expected an object such as {{\"cat\": \"animal\"}}"
        ) from error
    if not isinstance(data, dict):
        raise PairsFileError(
            f"{path}: expected a JSON object of key -> value strings, got a JSON {type(data).__name__}"
        )
    for key, value in data.items():
        if not isinstance(value, str):
            raise PairsFileError(f"{path}: the value of {key!r} is {value!r}; every value must be a string")
    return data


def _from_jsonl(text: str, path: Path) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as error:
            raise PairsFileError(f"{path}, line {number}: not valid JSON ({error}); expected "
                                 '{"key": "cat", "value": "animal"}') from error
        if not (isinstance(item, dict) and set(item) == {"key", "value"}
                and isinstance(item["key"], str) and isinstance(item["value"], str)):
            raise PairsFileError(f"{path}, line {number}: expected an object with a string \"key\" and a string "
                                 f"\"value\" and nothing else, got {line[:80]!r}")
        pairs[item["key"]] = item["value"]
    return pairs


def _from_tsv(text: str, path: Path) -> dict[str, str]:
    pairs: dict[str, str] = {}
    # NOTE: split on "\n" only: str.splitlines also splits on \x0b, \x1c, \u2028 and more, which are text.
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")  # a file written with CRLF line ends; a CR in a field is escaped
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise PairsFileError(
                f"{path}, line {number}: expected 2 tab-separated columns (key, value), got {len(fields)}: {line!r}; "
                "write a tab inside a key or value as \\t"
            )
        pairs[_unescape(fields[0], path, number)] = _unescape(fields[1], path, number)
    return pairs
