import numpy as np
import pytest
import torch

from fuzzykv import Database, InvalidOptionError
from fuzzykv.embed.vectors import Embeddings
from fuzzykv.pairs import HeldPairs
from fuzzykv.search.attention import Attention
from fuzzykv.search.key_index import KeyIndex


@pytest.fixture(scope="module")
def big_pairs(glove: Embeddings) -> dict[str, str]:
    rng = np.random.default_rng(3)
    values = glove.words[200:2_000]
    return {word: values[int(rng.integers(len(values)))] for word in glove.words[2_000:12_000]}


def test_topk_attention_finds_the_heaviest_keys_of_full_attention(glove: Embeddings, big_pairs: dict[str, str]) -> None:
    full = Database(big_pairs)
    topk = Database(big_pairs, attend_to="index", attend_top=32)
    recalls = []
    for text in glove.words[20_000:20_060]:
        heaviest = {key for key, _ in full.search(text, attention_k=32).attention}
        attended = {key for key, _ in topk.search(text).attention}
        recalls.append(len(heaviest & attended) / 32)
    assert np.mean(recalls) >= 0.9, f"recall of the 32 heaviest keys {np.mean(recalls):.2f}"
    result = topk.search("kitten")
    assert len(result.attention) == 32 and sum(w for _, w in result.attention) == pytest.approx(1.0, abs=1e-5)


def test_topk_attention_answers_close_queries_like_full_attention(glove: Embeddings, big_pairs: dict[str, str]) -> None:
    full = Database(big_pairs)
    topk = Database(big_pairs, attend_to="index")
    queries = list(big_pairs)[::50]  # a query equal to a stored key: the lookup a user makes
    assert topk.query_batch(queries, k=1, exact=True) == full.query_batch(queries, k=1, exact=True)


def test_topk_attention_sees_writes_before_the_index_is_rebuilt(glove: Embeddings, big_pairs: dict[str, str]) -> None:
    db = Database(big_pairs, attend_to="index", attend_top=16)
    db.query("rhombus")  # builds the key index
    db["rhombus"] = "shape"
    assert db.search("rhombus", exact=True).attention[0][0] == "rhombus"
    assert db.query("rhombus", exact=True)[0] == "shape"
    best = db.search("kitten").attention[0][0]
    del db[best]
    assert best not in {key for key, _ in db.search("kitten").attention}
    db.clear()
    db.update({"cat": "animal", "ball": "toy"})
    assert db.query("kitten", exact=True)[0] == "animal"


def test_topk_attention_follows_another_connection(glove: Embeddings, big_pairs: dict[str, str], tmp_path) -> None:
    path = tmp_path / "big.fkv"
    with Database.open(path, attend_to="index", attend_top=16) as writer, Database.open(path) as reader:
        writer.update(big_pairs)
        reader.query("seven")
        writer["rhombus"] = "shape"
        assert reader.search("rhombus").attention[0][0] == "rhombus"


def test_key_index_rebuilds_after_many_writes(glove: Embeddings) -> None:
    pairs = HeldPairs(glove.dim)
    words = glove.words[3_000:4_000]
    vectors = np.array(glove.vectors[3_000:4_000])
    pairs.set_many(words, words, vectors, vectors)
    index = KeyIndex(Attention(), n_trees=5, search_k=500)
    first = index.candidates(vectors[0], 10, pairs)
    assert 0 in first.tolist()
    changed = words[:200]
    pairs.delete_many(changed)
    index.touch(changed)  # 20% of the store: the next query rebuilds
    rows = index.candidates(vectors[500], 10, pairs)
    assert all(pairs.row_keys[r] not in changed for r in rows)
    assert pairs.row_of(words[500]) in rows.tolist()


def test_bad_attention_options_are_rejected(glove: Embeddings) -> None:
    with pytest.raises(InvalidOptionError, match="attend_to must be one of 'all', 'index'"):
        Database({"cat": "animal"}, attend_to="sparse")  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionError, match="attend_top"):
        Database({"cat": "animal"}, attend_to="index", attend_top=0)


def test_the_old_option_names_still_work_with_a_deprecation_warning(glove: Embeddings) -> None:
    with pytest.warns(DeprecationWarning, match="attention= is renamed attend_to="):
        db = Database({"cat": "animal"}, attention="topk", attention_candidates=4)  # type: ignore[call-arg]
    assert (db.settings.attend_to, db.settings.attend_top) == ("index", 4)
    with pytest.warns(DeprecationWarning, match="candidates= is renamed answers="):
        assert Database({"cat": "animal"}, candidates="values").settings.answers == "values"  # type: ignore[call-arg]
    with pytest.raises(InvalidOptionError, match="attention must be one of 'full', 'topk'"), pytest.warns(DeprecationWarning):
        Database({"cat": "animal"}, attention="sparse")  # type: ignore[call-arg]


def test_device_takes_a_name_or_a_torch_device_and_answers_on_it(glove: Embeddings) -> None:
    pairs = {"one": "number", "cat": "animal", "sphere": "shape"}
    db = Database(pairs, device=torch.device("cpu"))
    assert db.settings.device == "cpu"
    assert db.query("seven", exact=True)[0] == "number" and db.query("rhombus", exact=True)[0] == "shape"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without a GPU")
def test_cuda_without_a_gpu_is_a_clear_error(glove: Embeddings) -> None:
    with pytest.raises(InvalidOptionError, match="no CUDA GPU"):
        Database({"cat": "animal"}, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_gives_the_cpu_answers(glove: Embeddings) -> None:
    pairs = {"one": "number", "cat": "animal", "sphere": "shape", "male": "gender"}
    for text in ("rhombus", "seven", "female"):
        assert Database(pairs, device="cuda").query(text, exact=True) == Database(pairs).query(text, exact=True)


@pytest.mark.parametrize("device", ["gpu0", "mps", 3.5])
def test_unknown_devices_are_rejected(glove: Embeddings, device: object) -> None:
    with pytest.raises(InvalidOptionError, match="device"):
        Database({"cat": "animal"}, device=device)  # type: ignore[arg-type]
