"""The ``fuzzykv`` command line: a thin layer over the library, which never imports it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

import click

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
        click.option("--similarity", type=click.Choice(SIMILARITIES), default="cosine", show_default=True,
                     help="Attention scores: cosine, or the write-up's raw dot product."),
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
def demo(k: int, exact: bool, similarity: str, temperature: float | None) -> None:
    """Query the write-up's store with its six queries, showing each answer's top attention keys."""
    db = Database(DEMO_PAIRS, similarity=similarity, temperature=temperature)  # type: ignore[arg-type]
    click.echo(f"store: {dict(DEMO_PAIRS)}")
    click.echo(f"attention: {db.similarity}, temperature {db.temperature:g}; decode: {'exact' if exact else 'annoy'}\n")
    for text in DEMO_QUERIES:
        _print_result(db.search(text, k=k, exact=exact), top_keys=3)


@main.command()
@click.option("--pairs", "pairs_path", required=True, type=click.Path(dir_okay=False),
              help="The store: a JSON object of key -> value, or a two-column TSV file.")
@click.argument("texts", nargs=-1, required=True)
@_answer_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document with every answer.")
@_clean_errors
def query(pairs_path: str, texts: tuple[str, ...], k: int, exact: bool, similarity: str,
          temperature: float | None, as_json: bool) -> None:
    """Answer each TEXT from the store in --pairs."""
    db = Database(read_pairs(pairs_path), similarity=similarity, temperature=temperature)  # type: ignore[arg-type]
    results = [db.search(text, k=k, exact=exact) for text in texts]
    if as_json:
        click.echo(json.dumps([_as_json(r) for r in results], indent=2))
        return
    for result in results:
        _print_result(result, top_keys=3)
