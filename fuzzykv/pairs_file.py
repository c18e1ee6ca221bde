"""Pairs files -> dict: a JSON object of str -> str, or a two-column tab-separated file."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import PairsFileError


def read_pairs(path: str | Path) -> dict[str, str]:
    """Read key -> value pairs; ``.json`` is JSON, ``.tsv``/``.tab`` is TSV, otherwise the content decides.

    A later line (TSV) or member (JSON) with the same key replaces an earlier one, as in a dict.

    :raises PairsFileError: naming the file, the line or key at fault, and the expected shape.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PairsFileError(f"cannot read pairs file {str(path)!r}: {error}") from error
    suffix = path.suffix.lower()
    if suffix == ".json" or (suffix not in {".tsv", ".tab"} and text.lstrip().startswith("{")):
        return _from_json(text, path)
    return _from_tsv(text, path)


def _from_json(text: str, path: Path) -> dict[str, str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise PairsFileError(f"{path}: not valid JSON ({error}); expected an object such as {{\"cat\": \"animal\"}}") from error
    if not isinstance(data, dict):
        raise PairsFileError(f"{path}: expected a JSON object of key -> value strings, got a JSON {type(data).__name__}")
    for key, value in data.items():
        if not isinstance(value, str):
            raise PairsFileError(f"{path}: the value of {key!r} is {value!r}; every value must be a string")
    return data


def _from_tsv(text: str, path: Path) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise PairsFileError(
                f"{path}, line {number}: expected 2 tab-separated columns (key, value), got {len(fields)}: {line!r}"
            )
        pairs[fields[0].strip()] = fields[1].strip()
    return pairs
