"""README.md's set-up commands are the ones CI runs (tests/test_docs.py runs its examples)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command() -> None:
    ci_command = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci_command.endswith("python -m pytest")
    assert ci_command in (ROOT / "README.md").read_text()


def test_readme_demo_command_installs_the_cpu_torch_and_runs_the_demo() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "python3 -m venv .venv && .venv/bin/pip install torch==2.13.0 -e . && .venv/bin/fuzzykv demo" in readme
