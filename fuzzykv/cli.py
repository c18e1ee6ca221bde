"""The ``fuzzykv`` command line: a thin layer over the library, which never imports it.

Heavy modules (torch, gensim, annoy, faiss) load inside the commands, so ``fuzzykv --help`` is quick.
Options that shape answers come from :class:`fuzzykv.settings.Settings`, declared there once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import fields
from functools import wraps
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args, get_origin

import click

from .errors import FuzzyKVError
from .settings import IndexKind, Settings

if TYPE_CHECKING:
    from .database import Database
    from .results import QueryResult

F = TypeVar("F", bound=Callable[..., Any])

#: The write-up's store and its six queries.
DEMO_PAIRS: Mapping[str, str] = {
    "one": "number", "cat": "animal", "dog": "animal", "ball": "toy", "sphere": "shape", "male": "gender",
}
DEMO_QUERIES = ("rhombus", "parabola", "female", "seven", "seventy", "cylinder")
IMPORT_CHUNK = 10_000
#: Settings a command line user sets per call (the others are a store's own business).
QUERY_SETTINGS = ("similarity", "temperature", "value_weight", "vocabulary_size", "answers", "unknown", "attend_to", "device")
STORE_SETTINGS = (*QUERY_SETTINGS, "unknown_stored")
#: Settings that name a cache file: ``fuzzykv warm`` builds the one they pick.
WARM_SETTINGS = ("vocabulary_size", "index", "n_trees", "hnsw_m", "hnsw_ef_construction")


def _clean_errors(command: F) -> F:
    """Turn library errors into one line on stderr and exit status 1, never a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except FuzzyKVError as error:
            raise click.ClickException(_for_the_command_line(str(error))) from error

    return wrapper  # type: ignore[return-value]


def _for_the_command_line(message: str) -> str:
    """Library messages name Python keywords; on the command line, name the command's ways out."""
    return (message.replace("open it read_only=True", "use a command that only reads (get, query, export)")
            .replace("open it without read_only", "use a command that writes (set, import)"))


def _settings_options(names: tuple[str, ...]) -> Callable[[F], F]:
    """Click options for some fields of Settings, from their declarations (type, help)."""
    by_name = {f.name: f for f in fields(Settings)}

    def decorate(command: F) -> F:
        for name in reversed(names):
            declared = by_name[name]
            kind = click.FloatRange(min=0) if name == "value_weight" else _click_type(declared.type)
            flag = "--" + name.replace("_", "-")
            command = click.option(flag, name, type=kind, default=None, help=str(declared.metadata["help"]))(command)
        return command

    return decorate


def _click_type(annotation: object) -> Any:
    text = str(annotation)
    for alias, choices in (("Similarity", "Similarity"), ("AttendTo", "AttendTo"), ("Answers", "Answers"),
                           ("Unknown", "Unknown"), ("IndexKind", "IndexKind")):
        if alias in text:
            from . import settings as module

            literal = getattr(module, choices)
            return click.Choice(list(get_args(literal)) if get_origin(literal) is Literal else list(literal))
    if "float" in text:
        return click.FloatRange(min=0, min_open=True)
    if "int" in text:
        return click.IntRange(min=1)
    return click.STRING


def _answer_options(command: F) -> F:
    """The options every querying command shares."""
    options = [
        click.option("--k", "k", type=click.IntRange(min=1), default=5, show_default=True, help="How many words to answer."),
        click.option("--exact", is_flag=True, help="Decode by exact search over the vocabulary, not the approximate index."),
        click.option("--embeddings", type=click.Path(dir_okay=False), default=None,
                     help="A GloVe or word2vec vectors file (default: GloVe 6B 50d)."),
    ]
    for option in reversed(options):
        command = option(command)
    return _settings_options(QUERY_SETTINGS)(command)


def _given(options: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: options.pop(name) for name in names if options.get(name) is not None}


def _as_json(result: QueryResult) -> dict[str, Any]:
    return {
        "text": result.text,
        "words": result.words,
        "candidates": [{"word": w, "similarity": s} for w, s in result.candidates],
        "attention": [{"key": key, "weight": w} for key, w in result.attention],
        "best_similarity": result.best_similarity,
        "ignored": list(result.ignored),
        "corrections": [{"typed": c.typed, "used": c.used, "distance": c.distance} for c in result.corrections],
        "spelled": list(result.spelled),
        "approximate": result.approximate,
    }


def _print_result(result: QueryResult, top_keys: int | None = None) -> None:
    click.echo(f"{result.text:<10} {' '.join(result.words)}")
    shown = result.attention if top_keys is None else result.attention[:top_keys]
    click.echo(f"{'':<10} attention: {', '.join(f'{key} {w:.3f}' for key, w in shown)}")
    if result.ignored:
        click.echo(f"{'':<10} ignored (no vector): {', '.join(result.ignored)}")
    for c in result.corrections:
        click.echo(f"note: {result.text!r}: read {c.typed!r} as {c.used!r} ({c.distance} edit{'s' * (c.distance > 1)})",
                   err=True)
    if result.spelled:
        click.echo(f"note: {result.text!r}: guessed {', '.join(map(repr, result.spelled))} from spelling", err=True)


def _open(store: str, *, read_only: bool, options: dict[str, Any] | None = None) -> Database:
    from .database import Database

    options = dict(options or {})
    embeddings = options.pop("embeddings", None)
    return Database.open(store, read_only=read_only, embeddings=embeddings, **options)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fuzzykv")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.pass_context
def main(context: click.Context, quiet: bool) -> None:
    """fuzzykv: a fuzzy semantic key-value store over GloVe word vectors."""
    import warnings

    if quiet:
        import os

        os.environ["TQDM_DISABLE"] = "1"
    shown = warnings.showwarning

    def note(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        from .errors import IndexFallbackWarning

        if issubclass(category, IndexFallbackWarning):  # one line, as the library's errors are
            click.echo(f"note: {message}", err=True)
        else:
            shown(message, category, *args, **kwargs)

    warnings.showwarning = note
    context.call_on_close(lambda: setattr(warnings, "showwarning", shown))


@main.command()
@_answer_options
@_clean_errors
def demo(k: int, exact: bool, embeddings: str | None, **options: Any) -> None:
    """Query the write-up's store with its six queries, showing each answer's top attention keys."""
    from .database import Database

    db = Database(DEMO_PAIRS, embeddings=embeddings, **_given(options, QUERY_SETTINGS))
    click.echo(f"store: {dict(DEMO_PAIRS)}")
    click.echo(f"attention: {db.similarity}, temperature {db.temperature:g}; decode: {'exact' if exact else db.settings.index}\n")
    for text in DEMO_QUERIES:
        _print_result(db.search(text, k=k, exact=exact), top_keys=3)


@main.command()
@click.option("--pairs", "pairs_path", type=click.Path(dir_okay=False),
              help="Query a store made from this file (JSON, JSON Lines or TSV) instead of a store file.")
@click.argument("words", nargs=-1, required=True, metavar="[STORE] TEXT...")
@_answer_options
@click.option("--min-similarity", type=click.FloatRange(-1, 1), default=None,
              help="Answer nothing unless some key has at least this cosine similarity.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document with every answer.")
@_clean_errors
def query(pairs_path: str | None, words: tuple[str, ...], k: int, exact: bool, embeddings: str | None,
          min_similarity: float | None, as_json: bool, **options: Any) -> None:
    """Answer each TEXT: fuzzykv query STORE TEXT..., or fuzzykv query --pairs FILE TEXT..."""
    from .database import Database
    from .pairs_file import read_pairs

    given = _given(options, QUERY_SETTINGS)
    if pairs_path is not None:
        db = Database(read_pairs(pairs_path), embeddings=embeddings, **given)
        texts = words
    else:
        if len(words) < 2:
            raise click.UsageError("give a STORE and at least one TEXT, or --pairs FILE and at least one TEXT")
        db = _open(words[0], read_only=True, options={"embeddings": embeddings, **given})
        texts = words[1:]
    with db:
        results = [db.search(text, k=k, exact=exact, min_similarity=min_similarity) for text in texts]
    if as_json:
        click.echo(json.dumps([_as_json(r) for r in results], indent=2, ensure_ascii=False))
        return
    for result in results:
        _print_result(result, top_keys=3)


def _store_options(command: F) -> F:
    command = _settings_options(STORE_SETTINGS)(command)
    return click.option("--embeddings", type=click.Path(dir_okay=False), default=None,
                        help="A GloVe or word2vec vectors file (default: GloVe 6B 50d).")(command)


@main.command(name="set")
@click.argument("store", type=click.Path(dir_okay=False))
@click.argument("key")
@click.argument("value")
@_store_options
@_clean_errors
def set_pair(store: str, key: str, value: str, **options: Any) -> None:
    """Store KEY -> VALUE in STORE (created if missing); durable when the command returns."""
    with _open(store, read_only=False, options=options) as db:
        db[key] = value


@main.command()
@click.argument("store", type=click.Path(dir_okay=False))
@click.argument("key")
@_clean_errors
def delete(store: str, key: str) -> None:
    """Delete KEY (exactly as written) from STORE."""
    with _open(store, read_only=False) as db:
        if key not in db:
            raise click.ClickException(f"{store} has no key {key!r}; `fuzzykv get {store} TEXT` finds the nearest")
        del db[key]


@main.command()
@click.argument("store", type=click.Path(dir_okay=False))
@click.argument("text")
@click.option("--min-similarity", type=click.FloatRange(-1, 1), default=None,
              help="Fail unless the nearest key has at least this cosine similarity.")
@_store_options
@_clean_errors
def get(store: str, text: str, min_similarity: float | None, **options: Any) -> None:
    """Print the value of the key equal to TEXT, else of the nearest key."""
    with _open(store, read_only=True, options=options) as db:
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


@main.command()
@click.argument("store", type=click.Path(dir_okay=False))
@click.argument("text")
@click.option("--k", "k", type=click.IntRange(min=1), default=3, show_default=True, help="How many keys.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_store_options
@_clean_errors
def nearest(store: str, text: str, k: int, as_json: bool, **options: Any) -> None:
    """Print the K keys nearest to TEXT, with their values and cosine similarities."""
    with _open(store, read_only=True, options=options) as db:
        found = db.nearest(text, k=k)
    if as_json:
        click.echo(json.dumps([n._asdict() for n in found], ensure_ascii=False))
        return
    for n in found:
        click.echo(f"{n.similarity:.3f}\t{n.key}\t{n.value}")


@main.command()
@click.argument("store", type=click.Path(dir_okay=False))
@click.argument("text")
@click.option("--k", "k", type=click.IntRange(min=1), default=5, show_default=True, help="How many neighbours vote.")
@_store_options
@_clean_errors
def classify(store: str, text: str, k: int, **options: Any) -> None:
    """Print the value the K nearest keys vote for, then each value's share of the votes."""
    with _open(store, read_only=True, options=options) as db:
        verdict = db.classify(text, k=k)
    click.echo(verdict.label)
    for value, share in verdict.scores:
        click.echo(f"  {share:.3f}\t{value}", err=True)


@main.command()
@click.argument("store", type=click.Path(dir_okay=False))
@click.option("--embeddings", type=click.Path(dir_okay=False), default=None,
              help="The store's vectors file, if it was not made with the default GloVe.")
@_clean_errors
def info(store: str, embeddings: str | None) -> None:
    """Print what STORE holds: pairs, settings, embeddings and file size, as JSON."""
    from pathlib import Path

    with _open(store, read_only=True, options={"embeddings": embeddings}) as db:
        report = {"path": str(Path(store).resolve()), "pairs": len(db), "bytes": Path(store).stat().st_size,
                  "embeddings": db.embeddings.name, "dimension": db.embeddings.dim, "settings": db.settings.as_dict()}
    click.echo(json.dumps(report, indent=2, ensure_ascii=False))


@main.command(name="import")
@click.argument("store", type=click.Path(dir_okay=False))
@click.argument("pairs_path", metavar="PAIRS", type=click.Path(dir_okay=False))
@_store_options
@_clean_errors
def import_pairs(store: str, pairs_path: str, **options: Any) -> None:
    """Add the pairs of PAIRS (JSON, JSON Lines or TSV, as `export` writes them) to STORE, in one transaction."""
    from tqdm.auto import tqdm

    from .pairs_file import read_pairs

    pairs = list(read_pairs(pairs_path).items())
    with _open(store, read_only=False, options=options) as db, db.batch():
        with tqdm(total=len(pairs), desc="fuzzykv: importing", unit="pair", disable=None) as bar:
            for start in range(0, len(pairs), IMPORT_CHUNK):
                chunk = pairs[start : start + IMPORT_CHUNK]
                db.update(chunk)
                bar.update(len(chunk))
        count = len(db)
    click.echo(f"imported {len(pairs):,} pairs; {store} holds {count:,}", err=True)


@main.command()
@click.argument("store", type=click.Path(dir_okay=False))
@click.option("--format", "form", type=click.Choice(["json", "jsonl", "tsv"]), default="json", show_default=True,
              help="A JSON object, JSON Lines ({\"key\", \"value\"} per line), or key<TAB>value lines with \\t \\n \\\\ escapes.")
@_clean_errors
def export(store: str, form: str) -> None:
    """Print every pair of STORE, in insertion order, in a form `fuzzykv import` reads back exactly."""
    from .pairs_file import write_pairs

    with _open(store, read_only=True) as db:
        pairs = list(db.items())
    write_pairs(pairs, sys.stdout, form)  # type: ignore[arg-type]


@main.command()
@click.option("--all-indexes", is_flag=True, help="Build both vocabulary indexes (hnsw and annoy), not only --index's.")
@_settings_options(WARM_SETTINGS)
@_clean_errors
def warm(all_indexes: bool, **options: Any) -> None:
    """Build every cache ahead of time (the default vectors, the spelling index, the vocabulary
    index), so that the first query of every later process answers at once: for images and CI."""
    from .warm import warm as build

    settings = Settings.from_options(**_given(options, WARM_SETTINGS))
    kinds: tuple[IndexKind, ...] = ("hnsw", "annoy") if all_indexes else (settings.index,)
    build(settings, kinds, report=lambda done: click.echo(f"ready: {done.name} ({done.seconds:.1f} s): {done.path}", err=True))


def _register_serve() -> None:
    try:
        from .serve.command import serve
    except ImportError:  # the service's module is missing from this install
        return
    main.add_command(serve)


_register_serve()
