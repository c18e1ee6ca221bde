"""The documentation: every Python example of docs/ and README.md runs and shows what it claims, the
generated tables hold every option and command, the benchmark figures are what report.py writes,
and the site builds with ``mkdocs build --strict``."""

from __future__ import annotations

import ast
import dataclasses
import html
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import pytest

from fuzzykv import Settings
from fuzzykv.cli import main

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generated = load(ROOT / "docs" / "hooks" / "generated.py")


def python_blocks(page: Path) -> list[str]:
    text = page.read_text()
    return [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]


def claimed(line: str) -> Any:
    """What an example line says it shows, ``expr  # ['shape', ...]: prose``, as a Python value; or
    ``NOTHING`` where the comment is prose or an elided value (``0.986...``)."""
    if "#" not in line:
        return NOTHING
    comment = line.rsplit("#", 1)[1].strip()
    for text in (comment, comment.split(":", 1)[0]):
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            continue
    return NOTHING


NOTHING = object()


class Claims(ast.NodeTransformer):
    """Wraps each expression statement whose line claims a value in a check of that value."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.count = 0

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        if node.end_lineno != node.lineno or claimed(self.lines[node.lineno - 1]) is NOTHING:
            return node
        self.count += 1
        call = ast.Call(ast.Name("__shows__", ast.Load()), [node.value, ast.Constant(node.lineno)], [])
        return ast.copy_location(ast.Expr(call), node)


def run_block(block: str, namespace: dict[str, Any]) -> int:
    """Run one example, checking every value it claims; the number of claims checked."""
    lines = block.splitlines()

    def shows(value: object, line: int) -> None:
        expected = claimed(lines[line - 1])
        assert value == expected, f"line {line}, {lines[line - 1].strip()!r}, shows {value!r}"

    tree = Claims(lines)
    module = ast.fix_missing_locations(tree.visit(ast.parse(block)))
    namespace["__shows__"] = shows
    exec(compile(module, "<example>", "exec"), namespace)  # noqa: S102 - the docs' own examples
    return tree.count


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_run_and_show_what_they_claim(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               request: pytest.FixtureRequest) -> None:
    """A page's blocks run in order in one namespace, as a reader follows it, in a fresh folder."""
    monkeypatch.chdir(tmp_path)  # the persistent-store examples write store files
    blocks = python_blocks(page)
    if any("fuzzykv.distributed" in block for block in blocks):
        request.getfixturevalue("ray_session")
    namespace: dict[str, Any] = {}
    claims = sum(run_block(block, namespace) for block in blocks)
    if page.name in ("README.md", "index.md", "python.md", "beyond-words.md"):
        assert claims >= 3  # these pages show their answers; the check above must see them


def test_a_wrong_claim_fails() -> None:
    with pytest.raises(AssertionError, match="shows 'animal'"):
        run_block('from fuzzykv import Database\nDatabase({"cat": "animal"}).lookup("dog")   # \'vehicle\'\n', {})


def test_the_settings_table_has_every_option_with_its_default_and_help() -> None:
    table = generated.expand("before\n<!-- generated: settings -->\nafter").splitlines()
    rows = {row.split("|")[1].strip(" `"): row for row in table[3:-1]}
    assert list(rows) == [option.name for option in dataclasses.fields(Settings)]
    for option in dataclasses.fields(Settings):
        assert generated.default_text(option.default) in rows[option.name]
        assert str(option.metadata["help"]) in rows[option.name]
    assert '`"cosine" | "dot"`' in rows["similarity"] and "`--similarity`" in rows["similarity"]
    assert "`float | None`" in rows["temperature"]


def test_the_command_line_reference_has_every_command_with_its_options() -> None:
    reference = generated.expand("<!-- generated: cli -->")
    sections = {part.split("`", 1)[0]: part for part in reference.split("### `fuzzykv")[1:]}
    assert set(sections) == {""} | {f" {name}" for name in main.commands}  # type: ignore[attr-defined]
    for name, command in main.commands.items():  # type: ignore[attr-defined]
        section = sections[f" {name}"]
        assert f"Usage: fuzzykv {name} " in section
        for parameter in command.params:
            if isinstance(parameter, click.Option):
                assert f"| `{', '.join(parameter.opts)}" in section or f"| `{parameter.opts[0]}" in section


def test_an_unknown_generated_table_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown generated table 'setings'"):
        generated.expand("<!-- generated: setings -->")


def test_the_benchmark_figures_are_what_report_writes() -> None:
    """docs/benchmarks.md and README.md hold report.py's output for the committed results files."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        report = load(ROOT / "benchmarks" / "report.py")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    page, readme = (ROOT / "docs" / "benchmarks.md").read_text(), (ROOT / "README.md").read_text()
    assert f"{report.START}\n{report.markdown()}\n{report.END}" in page
    assert f"{report.HEADLINE_START}\n{report.headline()}\n{report.HEADLINE_END}" in readme


def test_readme_stays_a_front_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for link in ("docs/guide/python.md", "docs/cli.md", "docs/http.md", "docs/sharded.md", "docs/how-it-works.md",
                 "docs/benchmarks.md", "docs/development.md"):
        assert f"]({link})" in readme and (ROOT / link).is_file()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built strict: any warning (a broken link, a docstring mkdocstrings cannot read) fails."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                           capture_output=True, text=True, env=env, timeout=300)
    assert built.returncode == 0, built.stderr[-5000:]
    return out


def test_the_site_builds_strict_with_the_generated_tables(site: Path) -> None:
    options = (site / "guide" / "python" / "index.html").read_text()
    for option in dataclasses.fields(Settings):
        assert f"<code>{option.name}</code>" in options
    reference = (site / "cli" / "index.html").read_text()
    for name, command in main.commands.items():  # type: ignore[attr-defined]
        assert f"fuzzykv {name}" in reference
        assert html.escape((command.help or "").split("\n")[0].split("`")[0][:40], quote=False) in reference
    assert "recall_vs_speed.png" in (site / "benchmarks" / "index.html").read_text()
    assert (site / "benchmarks" / "results" / "recall_vs_speed.png").is_file()


def test_the_api_reference_is_generated_from_the_docstrings(site: Path) -> None:
    database = (site / "reference" / "database" / "index.html").read_text()
    for method in ("query", "search", "lookup", "classify", "nearest", "open"):
        assert f'id="fuzzykv.Database.{method}"' in database
    errors = (site / "reference" / "errors" / "index.html").read_text()
    for error in ("FuzzyKVError", "UnknownWordError", "StoreError", "InvalidOptionError"):
        assert f'id="fuzzykv.errors.{error}"' in errors


def test_the_demo_block_shows_what_the_demo_prints(glove: Any) -> None:
    from click.testing import CliRunner

    from fuzzykv.cli import main

    text = (ROOT / "docs" / "index.md").read_text()
    section = text[text.index("## The demo"):]
    start = section.index("```text\n") + len("```text\n")
    block = section[start : section.index("\n```", start)]
    printed = CliRunner().invoke(main, ["demo"]).stdout.splitlines()
    shown = [line for line in block.splitlines() if line.strip() != "..."]
    assert shown and all(line in printed for line in shown), (shown, printed)


def test_the_errors_table_lists_every_error_class_with_its_status() -> None:
    import fuzzykv.errors as errors

    table = generated.expand("<!-- generated: errors -->")
    for kind in vars(errors).values():
        if isinstance(kind, type) and issubclass(kind, errors.FuzzyKVError) and kind is not errors.FuzzyKVError:
            assert f"| {kind.http_status} | `{kind.error_type}` |" in table
