"""The ``fuzzykv`` command line: a thin layer over the library, which never imports it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

import click
from tqdm.auto import tqdm

from .attention import SIMILARITIES
from .database import Database
from .errors import FuzzyKVError
from .pairs_file import read_pairs
from .results import QueryResult

F = TypeVar("F", bound=Callable[..., Any])

#: The write-up's store and its six queries.
DEMO_PAIRS: Mapping[str, str] = {
    "one": "number", "cat": "animal", "dog": "animal", "ball": "toy", "sphere": "shape", "male": "gender",
}
DEMO_QUERIES = ("rhombus", "parabola", "female", "seven", "seventy", "cylinder")
IMPORT_CHUNK = 10_000


def _clean_errors(command: F) -> F:
    """Turn library errors into one line on stderr and exit status 1, never a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except FuzzyKVError as error:
            raise click.ClickException(str(error)) from error

    return wrapper  # type: ignore[return-value]


def _answer_options(command: F) -> F:
    """The options every querying command shares."""
    options = [
        click.option("--k", "k", type=click.IntRange(min=1), default=5, show_default=True, help="How many words to answer."),
        click.option("--exact", is_flag=True, help="Decode by exact search over the vocabulary instead of annoy."),
        click.option("--similarity", type=click.Choice(SIMILARITIES), default=None,
                     help="Attention scores: cosine (default), or the write-up's raw dot product."),
        click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="Divides the attention scores (default: 0.05 for cosine, 1 for dot)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _as_json(result: QueryResult) -> dict[str, Any]:
    return {
        "text": result.text,
        "candidates": [{"word": w, "similarity": s} for w, s in result.candidates],
        "attention": [{"key": key, "weight": w} for key, w in result.attention],
        "ignored": list(result.ignored),
    }


def _print_result(result: QueryResult, top_keys: int | None = None) -> None:
    click.echo(f"{result.text:<10} {' '.join(result.words)}")
    shown = result.attention if top_keys is None else result.attention[:top_keys]
    click.echo(f"{'':<10} attention: {', '.join(f'{key} {w:.3f}' for key, w in shown)}")
    if result.ignored:
        click.echo(f"{'':<10} ignored (no vector): {', '.join(result.ignored)}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fuzzykv")
def main() -> None:
    """fuzzykv: a fuzzy semantic key-value store over GloVe word vectors."""


@main.command()
@_answer_options
@_clean_errors
def demo(k: int, exact: bool, similarity: str | None, temperature: float | None) -> None:
    """Query the write-up's store with its six queries, showing each answer's top attention keys."""
    db = Database(DEMO_PAIRS, similarity=similarity or "cosine", temperature=temperature)  # type: ignore[arg-type]
    click.echo(f"store: {dict(DEMO_PAIRS)}")
    click.echo(f"attention: {db.similarity}, temperature {db.temperature:g}; decode: {'exact' if exact else 'annoy'}\n")
    for text in DEMO_QUERIES:
        _print_result(db.search(text, k=k, exact=exact), top_keys=3)


@main.command()
@click.option("--pairs", "pairs_path", type=click.Path(dir_okay=False),
              help="Query a store made from this file (a JSON object or a two-column TSV) instead of a store file.")
@click.argument("words", nargs=-1, required=True, metavar="[STORE] TEXT...")
@_answer_options
@click.option("--min-similarity", type=click.FloatRange(-1, 1), default=None,
              help="Answer nothing unless some key has at least this cosine similarity.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document with every answer.")
@_clean_errors
def query(pairs_path: str | None, words: tuple[str, ...], k: int, exact: bool, similarity: str | None,
          temperature: float | None, min_similarity: float | None, as_json: bool) -> None:
    """Answer each TEXT: fuzzykv query STORE TEXT..., or fuzzykv query --pairs FILE TEXT..."""
    if pairs_path is not None:
        db = Database(read_pairs(pairs_path), similarity=similarity or "cosine", temperature=temperature)  # type: ignore[arg-type]
        texts = words
    else:
        if len(words) < 2:
            raise click.UsageError("give a STORE and at least one TEXT, or --pairs FILE and at least one TEXT")
        db = Database.open(words[0], read_only=True, similarity=similarity, temperature=temperature)  # type: ignore[arg-type]
        texts = words[1:]
    with db:
        results = [db.search(text, k=k, exact=exact, min_similarity=min_similarity) for text in texts]
    if as_json:
        click.echo(json.dumps([_as_json(r) for r in results], indent=2))
        return
    for result in results:
        _print_result(result, top_keys=3)


@main.command(name="set")
@click.argument("store", type=click.Path(dir_okay=False))
@click.argument("key")
@click.argument("value")
@_clean_errors
def set_pair(store: str, key: str, value: str) -> None:
    """Store KEY -> VALUE in STORE (created if missing); durable when the command returns."""
    with Database.open(store) as db:
        db[key] = value


@main.command()
@click.argument("store", type=click.Path(dir_okay=False))
@click.argument("text")
@click.option("--min-similarity", type=click.FloatRange(-1, 1), default=None,
              help="Fail unless the nearest key has at least this cosine similarity.")
@_clean_errors
def get(store: str, text: str, min_similarity: float | None) -> None:
    """Print the value of the key equal to TEXT, else of the nearest key."""
    with Database.open(store, read_only=True) as db:
        value = db.lookup(text, min_similarity=min_similarity)
        if value is None:
            nearest = db.nearest(text, k=1)
            if not nearest:
                raise click.ClickException(f"{store} holds no pairs")
            raise click.ClickException(
                f"no key of {store} is close enough to {text!r}: the nearest, {nearest[0].key!r}, "
                f"has similarity {nearest[0].similarity:.3f} < {min_similarity}"
            )
    click.echo(value)


@main.command(name="import")
@click.argument("store", type=click.Path(dir_okay=False))
@click.argument("pairs_path", metavar="PAIRS", type=click.Path(dir_okay=False))
@_clean_errors
def import_pairs(store: str, pairs_path: str) -> None:
    """Add the pairs of PAIRS (a JSON object or a two-column TSV) to STORE, in one transaction."""
    pairs = list(read_pairs(pairs_path).items())
    with Database.open(store) as db, db.batch():
        with tqdm(total=len(pairs), desc="fuzzykv: importing", unit="pair", disable=None) as bar:
            for start in range(0, len(pairs), IMPORT_CHUNK):
                chunk = pairs[start : start + IMPORT_CHUNK]
                db.update(chunk)
                bar.update(len(chunk))
        count = len(db)
    click.echo(f"imported {len(pairs):,} pairs; {store} holds {count:,}", err=True)


@main.command()
@click.argument("store", type=click.Path(dir_okay=False))
@click.option("--format", "form", type=click.Choice(["json", "tsv"]), default="json", show_default=True,
              help="A JSON object, or key<TAB>value lines.")
@_clean_errors
def export(store: str, form: str) -> None:
    """Print every pair of STORE, in insertion order, in a form `fuzzykv import` reads back."""
    with Database.open(store, read_only=True) as db:
        pairs = list(db.items())
    if form == "json":
        click.echo(json.dumps(dict(pairs), indent=2, ensure_ascii=False))
    else:
        for key, value in pairs:
            click.echo(f"{key}\t{value}")
