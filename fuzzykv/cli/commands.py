"""The ``fuzzykv`` command line: a thin layer over the library, which never imports it.

Heavy modules (torch, gensim, annoy, faiss) load inside the commands, so ``fuzzykv --help`` is quick.
Options that shape answers come from :class:`fuzzykv.settings.Settings`, declared there once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from functools import wraps
from typing import TYPE_CHECKING, Any

import click

from ..errors import FuzzyKVError
from ..settings import IndexKind, Settings
from .options import QUERY_SETTINGS, WARM_SETTINGS, F, answer_options, given_settings, settings_options, store_options
from .output import note_reading, notes, print_result, result_json

if TYPE_CHECKING:
    from ..database import Database


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
            raise click.ClickException(_for_the_command_line(str(error))) from error

    return wrapper  # type: ignore[return-value]


def _for_the_command_line(message: str) -> str:
    """Library messages name Python keywords; on the command line, name the command's ways out."""
    return (message.replace("open it read_only=True", "use a command that only reads (get, query, export)")
            .replace("open it without read_only", "use a command that writes (set, import)"))


















def _open(store: str, *, read_only: bool, options: dict[str, Any] | None = None, create: bool = False) -> Database:
    """The store file ``store``; unless ``create`` (set, import), a missing one is refused, the same way by every command."""
    from pathlib import Path

    from ..database import Database

    if not create and not Path(store).exists():
        raise click.ClickException(f"no store at {store!r}: check the path (`fuzzykv set` or `fuzzykv import` create one)")
    options = dict(options or {})
    embeddings = options.pop("embeddings", None)
    return Database.open(store, read_only=read_only, embeddings=embeddings, **options)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fuzzykv")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.pass_context
def main(context: click.Context, quiet: bool) -> None:
    """fuzzykv: a fuzzy semantic key-value store over GloVe word vectors.

    Commands that read a store refuse a missing path; only set and import create one. Words read
    as another spelling, or guessed from their spelling, are noted on stderr.

    \b
    Exit status:
      0  answered
      1  an error (one line on stderr), or no answer: no such key, no key close
         enough (--min-similarity), an empty store
      2  a usage error: a wrong option or argument
    """  # noqa: D301 - click reads the backspace character before a block it must not rewrap
    import warnings

    if quiet:
        import os

        os.environ["TQDM_DISABLE"] = "1"
    shown = warnings.showwarning

    def note(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        from ..errors import IndexFallbackWarning

        if issubclass(category, IndexFallbackWarning):  # one line, as the library's errors are
            click.echo(f"note: {message}", err=True)
        else:
            shown(message, category, *args, **kwargs)

    warnings.showwarning = note
    context.call_on_close(lambda: setattr(warnings, "showwarning", shown))


@main.command()
@answer_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document with every answer.")
@_clean_errors
def demo(k: int, exact: bool, embeddings: str | None, as_json: bool, **options: Any) -> None:
    """Query the write-up's store with its six queries, showing each answer's top attention keys."""
    from ..database import Database

    db = Database(DEMO_PAIRS, embeddings=embeddings, **given_settings(options, QUERY_SETTINGS))
    if as_json:
        results = [db.search(text, k=k, exact=exact) for text in DEMO_QUERIES]
        click.echo(json.dumps([result_json(r) for r in results], indent=2, ensure_ascii=False))
        return
    click.echo(f"store: {dict(DEMO_PAIRS)}")
    click.echo(f"attention: {db.similarity}, temperature {db.temperature:g}; decode: {'exact' if exact else db.settings.index}\n")
    for text in DEMO_QUERIES:
        print_result(db.search(text, k=k, exact=exact), top_keys=3)


@main.command()
@click.option("--pairs", "pairs_path", type=click.Path(dir_okay=False),
              help="Query a store made from this file (JSON, JSON Lines or TSV) instead of a store file.")
@click.argument("words", nargs=-1, required=True, metavar="[STORE] TEXT...")
@answer_options
@click.option("--min-similarity", type=click.FloatRange(-1, 1), default=None,
              help="Answer nothing unless some key has at least this cosine similarity.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document with every answer.")
@_clean_errors
def query(pairs_path: str | None, words: tuple[str, ...], k: int, exact: bool, embeddings: str | None,
          min_similarity: float | None, as_json: bool, **options: Any) -> None:
    """Answer each TEXT: fuzzykv query STORE TEXT..., or fuzzykv query --pairs FILE TEXT..."""
    from ..database import Database
    from .transfer import read_pairs

    given = given_settings(options, QUERY_SETTINGS)
    if pairs_path is not None:
        from pathlib import Path

        if len(words) > 1 and Path(words[0]).is_file():
            raise click.UsageError(f"give a STORE or --pairs FILE, not both: {words[0]!r} is a file, not a query text")
        db = Database(read_pairs(pairs_path), embeddings=embeddings, **given)
        texts = words
    else:
        if len(words) < 2:
            raise click.UsageError("give a STORE and at least one TEXT, or --pairs FILE and at least one TEXT")
        db = _open(words[0], read_only=True, options={"embeddings": embeddings, **given})
        texts = words[1:]
    with db:
        results = [db.search(text, k=k, exact=exact, min_similarity=min_similarity) for text in texts]
    unanswered = [r for r in results if not r.words]
    if as_json:
        click.echo(json.dumps([result_json(r) for r in results], indent=2, ensure_ascii=False))
    else:
        for result in results:
            if result.words:
                print_result(result, top_keys=3)
            else:
                notes(result)
    if unanswered:
        raise click.ClickException("; ".join(
            f"no key is close enough to {r.text!r}: the best has similarity {r.best_similarity:.3f} < {min_similarity}"
            for r in unanswered))




@main.command(name="set")
@click.argument("store", type=click.Path(dir_okay=False))
@click.argument("key")
@click.argument("value")
@store_options
@_clean_errors
def set_pair(store: str, key: str, value: str, **options: Any) -> None:
    """Store KEY -> VALUE in STORE (created if missing); durable when the command returns."""
    with _open(store, read_only=False, options=options, create=True) as db:
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
@click.option("--json", "as_json", is_flag=True, help="Print the value with the key that answered and its similarity, as JSON.")
@store_options
@_clean_errors
def get(store: str, text: str, min_similarity: float | None, as_json: bool, **options: Any) -> None:
    """Print the value of the key equal to TEXT, else of the nearest key."""
    with _open(store, read_only=True, options=options) as db:
        note_reading(db, text)
        if text in db:
            key, value, similarity = text, db[text], 1.0
        else:
            nearest = db.nearest(text, k=1)
            if not nearest:
                raise click.ClickException(f"{store} holds no pairs")
            key, value, similarity = nearest[0]
            if min_similarity is not None and similarity < min_similarity:
                raise click.ClickException(
                    f"no key of {store} is close enough to {text!r}: the nearest, {key!r}, "
                    f"has similarity {similarity:.3f} < {min_similarity}"
                )
    if as_json:
        click.echo(json.dumps({"text": text, "key": key, "value": value, "similarity": float(similarity)}, ensure_ascii=False))
        return
    click.echo(value)


@main.command()
@click.argument("store", type=click.Path(dir_okay=False))
@click.argument("text")
@click.option("--k", "k", type=click.IntRange(min=1), default=3, show_default=True, help="How many keys.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
@_clean_errors
def nearest(store: str, text: str, k: int, as_json: bool, **options: Any) -> None:
    """Print the K keys nearest to TEXT, with their values and cosine similarities."""
    with _open(store, read_only=True, options=options) as db:
        if not len(db):
            raise click.ClickException(f"{store} holds no pairs")
        note_reading(db, text)
        found = db.nearest(text, k=k)
    if as_json:
        click.echo(json.dumps([n._asdict() for n in found], ensure_ascii=False))
        return
    for n in found:
        click.echo(f"{n.similarity:.3f}\t{n.key}\t{n.value}")


@main.command()
@click.argument("store", type=click.Path(dir_okay=False))
@click.argument("text")
@click.option("--k", "k", type=click.IntRange(min=1), default=5, show_default=True,
              help="How many of the nearest keys to list after the shares.")
@click.option("--json", "as_json", is_flag=True, help="Print the label, the shares and the nearest keys as JSON.")
@store_options
@_clean_errors
def classify(store: str, text: str, k: int, as_json: bool, **options: Any) -> None:
    """Print the value TEXT's attention favours: each distinct value scores the attention its keys
    carry, as `query` blends them. Then, on stderr, each value's share and the K nearest keys.
    """
    with _open(store, read_only=True, options=options) as db:
        note_reading(db, text)
        verdict = db.classify(text, k=k)
    if as_json:
        click.echo(json.dumps({
            "text": text, "label": verdict.label,
            "scores": [{"value": value, "share": float(share)} for value, share in verdict.scores],
            "neighbours": [{"key": n.key, "value": n.value, "similarity": float(n.similarity)} for n in verdict.neighbours],
        }, ensure_ascii=False))
        return
    click.echo(verdict.label)
    for value, share in verdict.scores:
        click.echo(f"  {share:.3f}\t{value}", err=True)
    for n in verdict.neighbours:
        click.echo(f"  nearest: {n.similarity:.3f}\t{n.key}\t{n.value}", err=True)


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
@store_options
@_clean_errors
def import_pairs(store: str, pairs_path: str, **options: Any) -> None:
    """Add the pairs of PAIRS (JSON, JSON Lines or TSV, as `export` writes them) to STORE, in one transaction."""
    from tqdm.auto import tqdm

    from .transfer import read_pairs

    pairs = list(read_pairs(pairs_path).items())
    with _open(store, read_only=False, options=options, create=True) as db, db.batch():
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
    from .transfer import write_pairs

    with _open(store, read_only=True) as db:
        pairs = list(db.items())
    write_pairs(pairs, sys.stdout, form)  # type: ignore[arg-type]


@main.command()
@click.option("--all-indexes", is_flag=True, help="Build both vocabulary indexes (hnsw and annoy), not only --index's.")
@settings_options(WARM_SETTINGS)
@_clean_errors
def warm(all_indexes: bool, **options: Any) -> None:
    """Build every cache ahead of time (the default vectors, the spelling index, the vocabulary
    index), so that the first query of every later process answers at once: for images and CI.
    """
    from .warm import warm as build

    settings = Settings.from_options(**given_settings(options, WARM_SETTINGS))
    kinds: tuple[IndexKind, ...] = ("hnsw", "annoy") if all_indexes else (settings.index,)
    build(settings, kinds, report=lambda done: click.echo(f"ready: {done.name} ({done.seconds:.1f} s): {done.path}", err=True))


def _register_serve() -> None:
    try:
        from ..serve.command import serve
    except ImportError:  # the service's module is missing from this install
        return
    main.add_command(serve)


_register_serve()
