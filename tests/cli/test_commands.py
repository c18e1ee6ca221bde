import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fuzzykv.cli.commands import DEMO_QUERIES, main
from fuzzykv.embed.vectors import Embeddings


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture()
def pairs_json(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps({"one": "number", "sphere": "shape", "male": "gender"}))
    return path


def test_demo_answers_the_writeup_queries_with_their_attention(runner: CliRunner, glove: Embeddings) -> None:
    result = runner.invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    answers = {line.split()[0]: line.split()[1] for line in lines if line.split() and line.split()[0] in DEMO_QUERIES}
    assert answers["rhombus"] == "shape" and answers["seven"] == "number" and answers["female"] == "gender"
    assert sum(line.startswith(" ") and "attention: " in line for line in lines) == len(DEMO_QUERIES)
    assert "attention: sphere 1.000" in result.output


def test_demo_in_the_writeups_dot_mode(runner: CliRunner, glove: Embeddings) -> None:
    result = runner.invoke(main, ["demo", "--similarity", "dot", "--exact"])
    assert result.exit_code == 0, result.output
    assert "cylinder   toy" in result.output and "seventy    gender" in result.output


def test_query_json(runner: CliRunner, pairs_json: Path, glove: Embeddings) -> None:
    result = runner.invoke(main, ["query", "--pairs", str(pairs_json), "rhombus", "seven", "--k", "3", "--json"])
    assert result.exit_code == 0, result.output
    answers = json.loads(result.output)
    assert [a["text"] for a in answers] == ["rhombus", "seven"]
    assert [c["word"] for c in answers[0]["candidates"]][0] == "shape" and len(answers[0]["candidates"]) == 3
    assert sum(a["weight"] for a in answers[1]["attention"]) == pytest.approx(1.0, abs=1e-5)


def test_query_tsv_plain_output(runner: CliRunner, tmp_path: Path, glove: Embeddings) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text("cat\tanimal\nball\ttoy\n")
    result = runner.invoke(main, ["query", "--pairs", str(path), "kitten", "--exact"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("kitten     animal")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["query", "--pairs", "{pairs}", "rhombuss", "--unknown", "error"], "'rhombuss' has no word in the embedding vocabulary"),
        (["query", "--pairs", "{missing}", "cat"], "cannot read pairs file"),
        (["query", "--pairs", "{pairs}", "  "], "empty or blank"),
    ],
)
def test_errors_are_one_clean_line(runner: CliRunner, pairs_json: Path, tmp_path: Path, glove: Embeddings,
                                   args: list[str], message: str) -> None:
    args = [a.format(pairs=pairs_json, missing=tmp_path / "missing.json") for a in args]
    result = runner.invoke(main, args)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.startswith("Error: ") and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_bad_option_values_are_usage_errors(runner: CliRunner, pairs_json: Path) -> None:
    assert runner.invoke(main, ["query", "--pairs", str(pairs_json), "cat", "--k", "0"]).exit_code == 2
    assert runner.invoke(main, ["demo", "--similarity", "euclid"]).exit_code == 2
    assert runner.invoke(main, ["demo", "--temperature", "0"]).exit_code == 2


def test_store_commands_end_to_end(runner: CliRunner, tmp_path: Path, glove: Embeddings) -> None:
    store = str(tmp_path / "colors.fkv")
    assert runner.invoke(main, ["set", store, "crimson", "red"]).exit_code == 0
    assert runner.invoke(main, ["set", store, "navy", "blue"]).exit_code == 0
    got = runner.invoke(main, ["get", store, "scarlet"])
    assert (got.exit_code, got.output) == (0, "red\n")
    far = runner.invoke(main, ["get", store, "banana", "--min-similarity", "0.6"])
    assert far.exit_code == 1 and far.output.startswith("Error: no key of")
    assert "'navy'" in far.output or "'crimson'" in far.output
    pairs = tmp_path / "more.tsv"
    pairs.write_text("olive\tgreen\nlemon\tyellow\n")
    imported = runner.invoke(main, ["import", store, str(pairs)])
    assert imported.exit_code == 0 and "imported 2 pairs" in imported.output
    exported = runner.invoke(main, ["export", store])
    assert json.loads(exported.output) == {"crimson": "red", "navy": "blue", "olive": "green", "lemon": "yellow"}
    tsv = runner.invoke(main, ["export", store, "--format", "tsv"])
    assert tsv.output.splitlines()[2] == "olive\tgreen"
    answered = runner.invoke(main, ["query", store, "scarlet", "grass", "--k", "1", "--exact", "--json"])
    assert [a["candidates"][0]["word"] for a in json.loads(answered.output)] == ["red", "green"]


def test_export_then_import_round_trips(runner: CliRunner, tmp_path: Path, glove: Embeddings) -> None:
    source, copy = str(tmp_path / "a.fkv"), str(tmp_path / "b.fkv")
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps({w: "word" for w in glove.words[1_000:1_300]}))
    assert runner.invoke(main, ["import", source, str(pairs)]).exit_code == 0
    dumped = tmp_path / "dump.json"
    dumped.write_text(runner.invoke(main, ["export", source]).output)
    assert runner.invoke(main, ["import", copy, str(dumped)]).exit_code == 0
    assert runner.invoke(main, ["export", copy]).output == dumped.read_text()


def test_store_command_errors_are_one_line(runner: CliRunner, tmp_path: Path, glove: Embeddings) -> None:
    missing = runner.invoke(main, ["get", str(tmp_path / "none.fkv"), "cat"])
    assert missing.exit_code == 1 and missing.output.startswith("Error: no store at")
    junk = tmp_path / "junk.fkv"
    junk.write_bytes(b"\x00" * 2048 + b"junk" * 100)
    assert "not a fuzzykv store" in runner.invoke(main, ["set", str(junk), "a", "b"]).output
    unknown = runner.invoke(main, ["set", str(tmp_path / "s.fkv"), "rhombuss", "shape"])
    assert unknown.exit_code == 1 and "'rhombuss'" in unknown.output and "Traceback" not in unknown.output
    assert runner.invoke(main, ["query", str(tmp_path / "s.fkv")]).exit_code == 2


@pytest.mark.parametrize("command", [[], ["demo"], ["query"], ["set"], ["get"], ["delete"], ["nearest"], ["classify"],
                                     ["info"], ["import"], ["export"], ["serve"]])
def test_every_command_has_help(runner: CliRunner, command: list[str]) -> None:
    result = runner.invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    doc = result.output.split("Options:")[0].split("\n", 2)[-1].strip()
    assert doc, f"{command} has no help text"


def test_python_dash_m_is_the_same_command() -> None:
    result = subprocess.run([sys.executable, "-m", "fuzzykv", "--help"], capture_output=True, text=True, check=True)
    assert "Usage: fuzzykv" in result.stdout and "demo" in result.stdout


def test_help_does_not_load_the_heavy_modules() -> None:
    probe = "import sys; from fuzzykv.cli import main; print(sorted(m for m in ('torch', 'gensim', 'annoy') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_delete_nearest_classify_and_info(runner: CliRunner, tmp_path: Path, glove: Embeddings) -> None:
    store = str(tmp_path / "pets.fkv")
    pairs = tmp_path / "pets.json"
    pairs.write_text(json.dumps({"cat": "animal", "dog": "animal", "car": "vehicle", "bus": "vehicle"}))
    assert runner.invoke(main, ["import", store, str(pairs)]).exit_code == 0
    near = runner.invoke(main, ["nearest", store, "kitten", "--k", "2", "--json"])
    assert near.exit_code == 0 and json.loads(near.output)[0]["key"] == "cat"
    verdict = runner.invoke(main, ["classify", store, "truck", "--k", "3"])
    assert verdict.exit_code == 0 and verdict.output.splitlines()[0] == "vehicle"
    assert runner.invoke(main, ["delete", store, "bus"]).exit_code == 0
    missing = runner.invoke(main, ["delete", store, "bus"])
    assert missing.exit_code == 1 and "has no key 'bus'" in missing.output
    info = json.loads(runner.invoke(main, ["info", store]).output)
    assert info["pairs"] == 3 and info["settings"]["similarity"] == "cosine" and info["bytes"] > 0


def test_corrections_are_shown_on_stderr_and_in_json(runner: CliRunner, pairs_json: Path, glove: Embeddings) -> None:
    plain = runner.invoke(main, ["query", "--pairs", str(pairs_json), "rhombsu", "--k", "1"])
    assert plain.exit_code == 0 and "read 'rhombsu' as 'rhombus'" in plain.stderr
    answers = json.loads(runner.invoke(main, ["query", "--pairs", str(pairs_json), "rhombsu", "--json"]).stdout)
    assert answers[0]["corrections"] == [{"typed": "rhombsu", "used": "rhombus", "distance": 1}]
    assert answers[0]["approximate"] is True



@pytest.mark.parametrize(("missing", "args", "extra"), [("fastapi", ["serve", "s.fkv"], "serve"),
                                                        ("ray", ["serve", "--shards", "2", "folder"], "ray")])
def test_an_optional_feature_without_its_extra_says_how_to_install_it(tmp_path: Path, missing: str, args: list[str],
                                                                     extra: str) -> None:
    probe = f"import sys; sys.modules[{missing!r}] = None; from fuzzykv.cli import main; main({args!r})"
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"pip install 'fuzzykv[{extra}]'" in done.stderr


def test_the_sharded_store_without_ray_says_how_to_install_it() -> None:
    probe = "import sys; sys.modules['ray'] = None; import fuzzykv.distributed"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 1 and "pip install 'fuzzykv[ray]'" in done.stderr


# -- issue 23: one way to refuse a missing store, notes on stderr, --json, documented exit codes ------------


@pytest.mark.parametrize("command", [["get", "x"], ["nearest", "x"], ["classify", "x"], ["info"], ["export"],
                                     ["delete", "x"], ["query", "x"]])
def test_every_reading_command_refuses_a_missing_store_the_same_way(runner: CliRunner, tmp_path: Path,
                                                                   command: list[str]) -> None:
    missing = tmp_path / "nosuch.fkv"
    result = runner.invoke(main, [command[0], str(missing), *command[1:]])
    assert result.exit_code == 1 and f"no store at {str(missing)!r}" in result.output and "Traceback" not in result.output
    assert not missing.exists()  # delete used to create the store it could not find


def test_nearest_on_an_empty_store_fails(runner: CliRunner, tmp_path: Path, glove: Embeddings) -> None:
    store = str(tmp_path / "s.fkv")
    assert runner.invoke(main, ["set", store, "cat", "animal"]).exit_code == 0
    assert runner.invoke(main, ["delete", store, "cat"]).exit_code == 0
    result = runner.invoke(main, ["nearest", store, "kitten"])
    assert result.exit_code == 1 and "holds no pairs" in result.output


def test_query_with_both_a_store_and_pairs_is_a_usage_error(runner: CliRunner, tmp_path: Path, pairs_json: Path,
                                                             glove: Embeddings) -> None:
    store = str(tmp_path / "colors.fkv")
    assert runner.invoke(main, ["set", store, "red", "colour"]).exit_code == 0
    result = runner.invoke(main, ["query", store, "--pairs", str(pairs_json), "kitten"])
    assert result.exit_code == 2 and "not both" in result.output


@pytest.mark.parametrize("command", ["get", "nearest", "classify"])
def test_get_nearest_and_classify_note_corrections_on_stderr(command: str, tmp_path: Path, glove: Embeddings) -> None:
    runner = CliRunner()
    store = str(tmp_path / "s.fkv")
    assert runner.invoke(main, ["set", store, "cat", "animal"]).exit_code == 0
    assert runner.invoke(main, ["set", store, "sphere", "shape"]).exit_code == 0
    result = runner.invoke(main, [command, store, "kitteen"])
    assert result.exit_code == 0, result.output
    assert "read 'kitteen' as 'kitten'" in result.stderr and "kitteen" not in result.stdout
    guessed = runner.invoke(main, [command, store, "qzxwvq"])
    assert "from spelling" in guessed.stderr or "ignored" in guessed.stderr or guessed.exit_code == 1


def test_classify_k_lists_the_nearest_keys_and_has_json(runner: CliRunner, tmp_path: Path, glove: Embeddings) -> None:
    store = str(tmp_path / "s.fkv")
    for key, value in (("cat", "animal"), ("dog", "animal"), ("ball", "toy"), ("sphere", "shape")):
        assert runner.invoke(main, ["set", store, key, value]).exit_code == 0
    assert "vote" not in runner.invoke(main, ["classify", "--help"]).output
    one = CliRunner().invoke(main, ["classify", store, "kitten", "--k", "1"])
    assert one.stdout.strip() == "animal" and one.stderr.count("nearest:") == 1
    verdict = json.loads(runner.invoke(main, ["classify", store, "kitten", "--k", "2", "--json"]).output)
    assert verdict["label"] == "animal" and len(verdict["neighbours"]) == 2
    assert sum(s["share"] for s in verdict["scores"]) == pytest.approx(1.0)


def test_query_min_similarity_fails_like_get(runner: CliRunner, tmp_path: Path, glove: Embeddings) -> None:
    store = str(tmp_path / "s.fkv")
    assert runner.invoke(main, ["set", store, "cat", "animal"]).exit_code == 0
    for command in (["query", store, "parabola"], ["get", store, "parabola"]):
        result = CliRunner().invoke(main, [*command, "--min-similarity", "0.95"])
        assert result.exit_code == 1 and "close enough" in result.stderr and "attention" not in result.stdout
    as_json = CliRunner().invoke(main, ["get", store, "kitten", "--json"])
    assert json.loads(as_json.stdout)["key"] == "cat"


def test_exit_codes_are_documented(runner: CliRunner) -> None:
    text = runner.invoke(main, ["--help"]).output
    assert "Exit status" in text and all(f"  {code}  " in text for code in (0, 1, 2))


def test_demo_has_json(runner: CliRunner, glove: Embeddings) -> None:
    answers = json.loads(runner.invoke(main, ["demo", "--json", "--k", "2"]).stdout)
    assert [a["text"] for a in answers] == list(DEMO_QUERIES) and all(len(a["words"]) == 2 for a in answers)
