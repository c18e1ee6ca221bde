"""The options of the commands, generated from :class:`fuzzykv.settings.Settings` (declared there once)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, Literal, TypeVar, get_args, get_origin

import click

from ..settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

#: Settings a command line user sets per call (the others are a store's own business).
QUERY_SETTINGS = ("similarity", "temperature", "value_weight", "vocabulary_size", "answers", "unknown", "attend_to", "device")
STORE_SETTINGS = (*QUERY_SETTINGS, "unknown_stored")
#: Settings that name a cache file: ``fuzzykv warm`` builds the one they pick.
WARM_SETTINGS = ("vocabulary_size", "index", "n_trees", "hnsw_m", "hnsw_ef_construction")


def settings_options(names: tuple[str, ...]) -> Callable[[F], F]:
    """Click options for some fields of Settings, from their declarations (type, help)."""
    by_name = {f.name: f for f in fields(Settings)}

    def decorate(command: F) -> F:
        for name in reversed(names):
            declared = by_name[name]
            kind = click.FloatRange(min=0) if name == "value_weight" else click_type(declared.type)
            flag = "--" + name.replace("_", "-")
            command = click.option(flag, name, type=kind, default=None, help=str(declared.metadata["help"]))(command)
        return command

    return decorate


def click_type(annotation: object) -> Any:
    """The click type of a setting's annotation: a choice for a Literal, else the plain type."""
    text = str(annotation)
    for alias, choices in (("Similarity", "Similarity"), ("AttendTo", "AttendTo"), ("Answers", "Answers"),
                           ("Unknown", "Unknown"), ("IndexKind", "IndexKind")):
        if alias in text:
            from .. import settings as module

            literal = getattr(module, choices)
            return click.Choice(list(get_args(literal)) if get_origin(literal) is Literal else list(literal))
    if "float" in text:
        return click.FloatRange(min=0, min_open=True)
    if "int" in text:
        return click.IntRange(min=1)
    return click.STRING


def answer_options(command: F) -> F:
    """The options every querying command shares."""
    options = [
        click.option("--k", "k", type=click.IntRange(min=1), default=5, show_default=True, help="How many words to answer."),
        click.option("--exact", is_flag=True, help="Decode by exact search over the vocabulary instead of its index."),
        click.option("--embeddings", type=click.Path(dir_okay=False), default=None,
                     help="A GloVe or word2vec vectors file (default: GloVe 6B 50d)."),
    ]
    for option in reversed(options):
        command = option(command)
    return settings_options(QUERY_SETTINGS)(command)


def given_settings(options: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The settings among ``names`` the command line was given (taken out of ``options``)."""
    return {name: options.pop(name) for name in names if options.get(name) is not None}


def store_options(command: F) -> F:
    """The options of a command that opens a store: its settings and --embeddings."""
    command = settings_options(STORE_SETTINGS)(command)
    return click.option("--embeddings", type=click.Path(dir_okay=False), default=None,
                        help="A GloVe or word2vec vectors file (default: GloVe 6B 50d).")(command)
