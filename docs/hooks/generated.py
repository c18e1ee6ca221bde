"""mkdocs hook: tables generated from the code that defines them, so the site cannot drift from it.

A page asks for one with a line of its own:

- ``<!-- generated: settings -->``: every field of :class:`fuzzykv.Settings` (name, type, default,
  the ``help`` of its field metadata, and the command-line flag that sets it, if any);
- ``<!-- generated: cli -->``: every command of the ``fuzzykv`` click group, with its help, usage
  and options, in the words ``fuzzykv COMMAND --help`` prints;
- ``<!-- generated: errors -->``: every error class of :mod:`fuzzykv.errors` with the HTTP status and
  type name it states (the service answers them, the remote client raises them again).

(mkdocs-click would render the second, but its 0.9 prints click 8.3+'s ``Sentinel.UNSET`` as the
default of every option without one: mkdocs/mkdocs-click#95.) The benchmark figures are written by
``benchmarks/report.py``; this hook puts the plots it draws (``benchmarks/results/*.png``) into the
site, at ``benchmarks/results/``.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from pathlib import Path
from typing import Any, Literal

import click
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
PLOTS = ROOT / "benchmarks" / "results"

MARKER = re.compile(r"^<!-- generated: (?P<name>[a-z-]+) -->$", re.MULTILINE)


def type_text(annotation: object) -> str:
    """A field's type as a reader writes it: ``"cosine" | "dot"``, ``float | None``, ``int``."""
    if typing.get_origin(annotation) is Literal:
        return " | ".join(f'"{choice}"' for choice in typing.get_args(annotation))
    arguments = typing.get_args(annotation)
    if arguments:  # a union
        return " | ".join(type_text(argument) for argument in arguments)
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def default_text(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else f"{value:_}" if isinstance(value, int) else repr(value)


def command_line_flags() -> dict[str, str]:
    """Each click parameter name of the ``fuzzykv`` commands, as the flag that sets it."""
    from fuzzykv.cli import main

    flags: dict[str, str] = {}
    for command in typing.cast(click.Group, main).commands.values():
        for parameter in command.params:
            if isinstance(parameter, click.Option) and parameter.name:
                flags.setdefault(parameter.name, max(parameter.opts, key=len))
    return flags


def settings_table() -> str:
    """The options table: one row per field of ``Settings``, in declaration order."""
    from fuzzykv import settings

    hints = typing.get_type_hints(settings.Settings)
    flags = command_line_flags()
    rows = ["| option | type | default | command line | meaning |", "|---|---|---|---|---|"]
    for option in dataclasses.fields(settings.Settings):
        help_text = str(option.metadata["help"]).replace("|", "\\|")
        flag = f"`{flags[option.name]}`" if option.name in flags else ""
        rows.append(f"| `{option.name}` | `{type_text(hints[option.name])}` | `{default_text(option.default)}` "
                    f"| {flag} | {help_text} |")
    return "\n".join(rows)


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")


def command_reference(command: click.Command, context: click.Context) -> list[str]:
    """One command: its help, its usage and its options (click's own help records), as Markdown."""
    help_text = inspect.cleandoc(command.help or "").replace("\b\n", "")
    lines = [help_text, "", "```text", command.get_usage(context), "```", ""]
    records = [parameter.get_help_record(context) for parameter in command.get_params(context)
               if isinstance(parameter, click.Option) and parameter.name != "help"]
    if any(records):
        lines += ["| option | meaning |", "|---|---|"]
        # Python-Markdown's tables leave a pipe inside a code span alone, so only the plain cell escapes its own.
        lines += [f"| `{flags}` | {cell(meaning)} |" for flags, meaning in filter(None, records)]
        lines.append("")
    return lines


def cli_reference() -> str:
    """Every command of the ``fuzzykv`` group, in order of name, each under its own heading."""
    from fuzzykv.cli import main

    group = typing.cast(click.Group, main)
    root = click.Context(group, info_name="fuzzykv")
    lines = ["### `fuzzykv`", "", *command_reference(group, root)]
    for name in group.list_commands(root):
        command = group.get_command(root, name)
        assert command is not None
        lines += [f"### `fuzzykv {name}`", "", *command_reference(command, click.Context(command, info_name=name, parent=root))]
    return "\n".join(lines)


def errors_table() -> str:
    """Every error class the service can answer, by status: its type name and docstring's first line."""
    import fuzzykv.errors as errors

    classes = sorted(
        (kind for kind in vars(errors).values()
         if isinstance(kind, type) and issubclass(kind, errors.FuzzyKVError) and kind is not errors.FuzzyKVError),
        key=lambda kind: (kind.http_status, kind.error_type),
    )
    rows = ["| status | type | when |", "|---|---|---|"]
    for kind in classes:
        summary = (inspect.getdoc(kind) or "").split("\n\n", 1)[0].replace("\n", " ")
        rows.append(f"| {kind.http_status} | `{kind.error_type}` | {cell(summary)} |")
    return "\n".join(rows)


GENERATORS = {"settings": settings_table, "cli": cli_reference, "errors": errors_table}


def expand(markdown: str) -> str:
    """``markdown`` with every generated-table marker replaced by its table."""

    def table(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in GENERATORS:
            raise ValueError(f"unknown generated table {name!r}; the tables are {', '.join(GENERATORS)}")
        return GENERATORS[name]()

    return MARKER.sub(table, markdown)


def on_page_markdown(markdown: str, **_: Any) -> str:
    return expand(markdown)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for plot in sorted(PLOTS.glob("*.png")):
        files.append(File.generated(config, f"benchmarks/results/{plot.name}", abs_src_path=str(plot)))
    return files
