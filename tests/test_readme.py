"""README.md's set-up commands are the ones CI runs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command() -> None:
    ci_command = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci_command.endswith("python -m pytest")
    assert ci_command in (ROOT / "README.md").read_text()


def test_readme_demo_command_installs_the_cpu_torch_and_runs_the_demo() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "python3 -m venv .venv && .venv/bin/pip install torch==2.13.0 -e . && .venv/bin/fuzzykv demo" in readme


def python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]


def test_readme_python_examples_run(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the persistent-store example writes colors.fkv
    blocks = python_blocks()
    assert len(blocks) >= 7
    for block in blocks:
        namespace: dict = {}
        exec("from fuzzykv import Database\n" + block, namespace)  # noqa: S102 - the README's own code


def test_the_readme_demo_block_is_what_the_demo_prints(glove) -> None:
    from click.testing import CliRunner

    from fuzzykv.cli import main

    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The demo"):]
    block = section[section.index("```\n") + 4 : section.index("\n```", section.index("```\n") + 4)]
    printed = CliRunner().invoke(main, ["demo"]).stdout
    assert block.strip() in printed, (block, printed)


def test_the_readme_installs_the_extras_from_the_checkout() -> None:
    text = (ROOT / "README.md").read_text()
    service = text[text.index("## HTTP service"):]
    assert '-e ".[serve]"' in service[:400] and 'pip install "fuzzykv[serve]"' not in text
