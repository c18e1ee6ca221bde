"""The module paths of 0.2 keep working for one release, with a DeprecationWarning naming the new one."""

import importlib
import importlib.util
import subprocess
import sys

import pytest


@pytest.mark.parametrize(("old", "new"), [
    ("fuzzykv.client", "fuzzykv.serve.client"),
    ("fuzzykv.encoders", "fuzzykv.embed.encoders"),
    ("fuzzykv.pipeline", "fuzzykv.search.pipeline"),
])
def test_an_old_module_path_warns_and_is_the_new_module(old: str, new: str) -> None:
    code = (
        "import importlib, warnings\n"
        "warnings.simplefilter('always')\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        f"    old = importlib.import_module({old!r})\n"
        f"new = importlib.import_module({new!r})\n"
        "assert old is new, (old, new)\n"
        f"assert any(issubclass(w.category, DeprecationWarning) and {new!r} in str(w.message) for w in caught), caught\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_the_distributed_package_and_the_top_level_names_are_unchanged() -> None:
    fuzzykv = importlib.import_module("fuzzykv")
    for name in ("Database", "Settings", "QueryResult", "Neighbour", "Classification", "Embeddings", "Correction",
                 "load_embeddings", "FuzzyKVError", "UnknownWordError"):
        assert hasattr(fuzzykv, name)
    assert importlib.util.find_spec("fuzzykv.distributed") is not None
