"""What a command prints: results as text or JSON, and notes on stderr of how a text was read."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..database import Database
    from ..results import QueryResult


def note_reading(db: Database, text: str) -> None:
    """Note on stderr how ``text`` was read (corrected or guessed words), as ``query`` does."""
    if text in db or not len(db):
        return
    notes(db.search(text, k=1, attention_k=1))


def result_json(result: QueryResult) -> dict[str, Any]:
    """A result as the commands print it with --json (no NaN: an unknown similarity is null)."""
    return {
        "text": result.text,
        "words": result.words,
        "candidates": [{"word": w, "similarity": s} for w, s in result.candidates],
        "attention": [{"key": key, "weight": w} for key, w in result.attention],
        "best_similarity": result.best_similarity if math.isfinite(result.best_similarity) else None,
        "ignored": list(result.ignored),
        "corrections": [{"typed": c.typed, "used": c.used, "distance": c.distance} for c in result.corrections],
        "spelled": list(result.spelled),
        "approximate": result.approximate,
    }


def print_result(result: QueryResult, top_keys: int | None = None) -> None:
    """A result as text: the words, then the heaviest keys' attention, then notes on stderr."""
    click.echo(f"{result.text:<10} {' '.join(result.words)}")
    shown = result.attention if top_keys is None else result.attention[:top_keys]
    click.echo(f"{'':<10} attention: {', '.join(f'{key} {w:.3f}' for key, w in shown)}")
    if result.ignored:
        click.echo(f"{'':<10} ignored (no vector): {', '.join(result.ignored)}")
    notes(result)


def notes(result: QueryResult) -> None:
    """On stderr: the words read as other spellings, and those guessed from their spelling."""
    for c in result.corrections:
        click.echo(f"note: {result.text!r}: read {c.typed!r} as {c.used!r} ({c.distance} edit{'s' * (c.distance > 1)})",
                   err=True)
    if result.spelled:
        click.echo(f"note: {result.text!r}: guessed {', '.join(map(repr, result.spelled))} from spelling", err=True)
