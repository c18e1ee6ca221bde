"""mkdocs hook, for the move into sub-packages (issue 21) only: the pages name modules by their new
paths; while a checkout still has a module at its old path, read the page with the old one.

Once every new path below exists this hook changes nothing; delete it then (and its line in
mkdocs.yml). tests/test_docs.py runs the pages' code blocks through the same table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

#: new dotted path -> the path it had before the move
MOVED = {
    "fuzzykv.serve.client": "fuzzykv.client",
    "fuzzykv.embed.encoders": "fuzzykv.encoders",
}


def exists(module: str) -> bool:
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def rewrite(text: str) -> str:
    """``text`` with each moved module's new path read as its old one, where only the old one exists."""
    for new, old in MOVED.items():
        if not exists(new) and exists(old):
            text = text.replace(new, old)
    return text


def on_page_markdown(markdown: str, **_: Any) -> str:
    return rewrite(markdown)
