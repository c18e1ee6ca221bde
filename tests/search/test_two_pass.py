"""Two-pass exact attention and certified nearest keys (fuzzykv.search.two_pass) against full float32 passes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch  # noqa: F401  (imported: big stores take the two passes from their first query)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fuzzykv import Database, Embeddings
from fuzzykv.pairs import HeldPairs, quantise
from fuzzykv.search import two_pass
from fuzzykv.search.attention import Attention, attend_dense
from fuzzykv.store import snapshot
from fuzzykv.store.snapshot import HEADER_BYTES, MAGIC


def glove_pairs(glove: Embeddings, n: int, seed: int) -> tuple[HeldPairs, np.ndarray]:
    """``n`` pairs of GloVe words (real, clustered vectors: attention is peaked on some queries, spread
    on others), and 40 query vectors of words that are not keys."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(glove), size=2 * n + 40, replace=False)
    words, vectors = glove.words, np.asarray(glove.vectors)
    pairs = HeldPairs(glove.dim)
    pairs.set_many([words[r] for r in rows[:n]], [words[r] for r in rows[n : 2 * n]], vectors[rows[:n]],
                   vectors[rows[n : 2 * n]])
    return pairs, vectors[rows[2 * n :]].astype(np.float32)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 40), st.integers(1, 12)),
                  elements=st.floats(-1e3, 1e3, width=32)))
def test_quantised_rows_are_within_their_error_bounds(vectors: np.ndarray) -> None:
    norms = np.linalg.norm(vectors.astype(np.float64), axis=1, keepdims=True)
    units = (vectors / np.maximum(norms, 1e-30)).astype(np.float32)
    codes, scales, errors = quantise(units)
    assert codes.dtype == np.int8 and scales.dtype == errors.dtype == np.float32
    residual = units.astype(np.float64) - codes.astype(np.float64) * scales[:, None].astype(np.float64)
    assert (np.linalg.norm(residual, axis=1) <= errors).all()


@pytest.mark.parametrize("temperature", [0.03, 0.1])
def test_two_pass_attention_equals_the_float32_pass(glove: Embeddings, temperature: float) -> None:
    pairs, queries = glove_pairs(glove, 6_000, seed=1)
    pairs.ensure_codes()
    attention = Attention("cosine", temperature)
    skipped = []
    for query in queries:
        found = two_pass.attend(attention, pairs, query, top=5, best_key=True)
        assert found is not None
        partial, best, listed = attend_dense(attention, pairs.key_units, pairs.key_norms, pairs.value_units,
                                             pairs.value_norms, query[None, :], 5)
        blend, full = found.partial.weighted[0] / found.partial.total[0], partial.weighted[0] / partial.total[0]
        cosine = blend @ full / (np.linalg.norm(blend) * np.linalg.norm(full))
        assert 1 - cosine <= 1e-6
        assert found.rows.tolist() == listed[0][0].tolist()
        np.testing.assert_allclose(found.logits, listed[0][1], rtol=1e-5)
        assert found.best_key == pytest.approx(float(best[0]), abs=1e-6)
        assert found.partial.maximum[0] == pytest.approx(partial.maximum[0], abs=1e-4)
        skipped.append(1 - len(found.rows) / len(pairs))
    assert not np.isnan(skipped).any()


def test_two_pass_skips_rows_on_peaked_queries(glove: Embeddings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second pass scores only the rows that can matter: at T=0.03 most rows are skipped."""
    pairs, queries = glove_pairs(glove, 6_000, seed=2)
    pairs.ensure_codes()
    rescored: list[int] = []
    original = two_pass._rescore

    def counted(attention, pairs, unit, kept, *rest):  # type: ignore[no-untyped-def]
        rescored.append(len(kept))
        return original(attention, pairs, unit, kept, *rest)

    monkeypatch.setattr(two_pass, "_rescore", counted)
    for query in queries:
        assert two_pass.attend(Attention(), pairs, query, top=2, best_key=False) is not None
    assert np.median(rescored) < len(pairs) / 2


def test_databases_answer_the_same_through_two_passes(glove: Embeddings, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    words = [glove.words[i] for i in rng.choice(20_000, size=3_000, replace=False)]
    pairs = dict(zip(words[:1_500], words[1_500:]))
    texts = ["rhombus", "kitten", "twelve", "crimson", "paris", "violin", "hurricane", "banker"]
    db = Database(pairs)
    dense = [db.search(text, k=5, exact=True, attention_k=3) for text in texts]
    nearest = [db.nearest(text, k=7) for text in texts]
    monkeypatch.setattr(two_pass, "MIN_KEYS", 1_000)
    monkeypatch.setattr(two_pass, "int8_pays", lambda: True)  # whatever this machine's int8 product costs
    for text, want, near in zip(texts, dense, nearest):
        got = db.search(text, k=5, exact=True, attention_k=3)
        assert got.words == want.words
        assert [key for key, _ in got.attention] == [key for key, _ in want.attention]
        assert got.best_similarity == pytest.approx(want.best_similarity, abs=1e-6)
        assert 1 - got.vector @ want.vector / (np.linalg.norm(got.vector) * np.linalg.norm(want.vector)) <= 1e-6
        assert db.query(text, k=5, exact=True) == want.words
        assert [(n.key, round(n.similarity, 5)) for n in db.nearest(text, k=7)] == [
            (n.key, round(n.similarity, 5)) for n in near]
        assert db.lookup(text) == near[0].value
    db["rhombus"] = "shape"  # a write after the codes were made keeps them current
    assert db.lookup("rhombus") == "shape" and db.nearest("rhombus", k=1)[0].key == "rhombus"


UNITS = hnp.arrays(np.float32, st.tuples(st.integers(1, 120), st.just(6)),
                   elements=st.floats(-4, 4, width=32).filter(lambda x: x == 0 or abs(x) > 1e-3))


@settings(max_examples=80, deadline=None)
@given(vectors=UNITS, query=hnp.arrays(np.float32, 6, elements=st.floats(-4, 4, width=32)),
       k=st.integers(1, 12), repeat=st.booleans())
def test_certified_nearest_equals_brute_force(vectors: np.ndarray, query: np.ndarray, k: int, repeat: bool) -> None:
    if repeat:  # equal keys: ties at the k-th place
        vectors = np.concatenate([vectors, vectors[: len(vectors) // 2]])
    pairs = HeldPairs(6)
    pairs.set_many([f"k{i}" for i in range(len(vectors))], [f"v{i}" for i in range(len(vectors))], vectors, vectors)
    pairs.ensure_codes()
    rows, sims = two_pass.nearest(pairs, query, k)
    norm = float(np.linalg.norm(query))
    exact = pairs.key_units @ (query / np.float32(norm if norm > 0 else 1))
    want = np.sort(exact)[::-1][: min(k, len(vectors))]
    assert len(rows) == len(want) == len(set(rows.tolist()))
    np.testing.assert_allclose(sims, want, atol=1e-6)
    np.testing.assert_allclose(exact[rows], sims, atol=1e-6)


def test_pairs_file_keeps_the_int8_copies(glove: Embeddings, tmp_path: Path) -> None:
    pairs, _ = glove_pairs(glove, 500, seed=4)
    pairs._rowids = np.arange(1, len(pairs._key_norms) + 1, dtype=np.int64)
    staging = snapshot.write(tmp_path / "s.fkv-pairs", "token", (0, 5), pairs)
    assert staging is not None
    loaded = snapshot.load(staging, snapshot.Mark("token", 0, 5), glove.dim)
    assert loaded is not None and loaded.coded
    for name in ("key_codes", "value_codes", "key_scales", "key_errors", "value_scales", "value_errors"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(pairs, name))
    made = quantise(loaded.value_units)
    np.testing.assert_array_equal(made[0], loaded.value_codes)


def test_a_file_of_the_old_layout_is_refused_and_rewritten(glove: Embeddings, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "MAPPED_PAIRS", 10)
    path = tmp_path / "old.fkv"
    pairs = {w: glove.words[i + 500] for i, w in enumerate(glove.words[100:140])}
    with Database.open(path) as db:
        db.update(pairs)
    file = snapshot.path_for(path)
    raw = bytearray(file.read_bytes())
    length = int.from_bytes(raw[len(MAGIC) : len(MAGIC) + 4], "little")
    header = json.loads(raw[len(MAGIC) + 4 : len(MAGIC) + 4 + length])
    header["layout"] = 1  # what a fuzzykv before the int8 copies wrote
    text = json.dumps(header, sort_keys=True).encode()
    raw[len(MAGIC) : HEADER_BYTES] = len(text).to_bytes(4, "little") + text + bytes(HEADER_BYTES - len(MAGIC) - 4 - len(text))
    file.write_bytes(bytes(raw))
    store = snapshot.Header.parse(bytes(raw[:HEADER_BYTES]))
    assert store is None  # refused: never read as the new layout
    with Database.open(path) as db:
        assert dict(db.items()) == pairs
    rewritten = snapshot.Header.parse(file.read_bytes()[:HEADER_BYTES])
    assert rewritten is not None  # a read-write close wrote it again, in this layout


@pytest.mark.parametrize("negligible", [None, 1e-2])
def test_the_sparse_blend_of_a_big_store_equals_the_full_one(glove: Embeddings, monkeypatch: pytest.MonkeyPatch,
                                                             negligible: float | None) -> None:
    """From SPARSE_BLEND keys the float32 path blends only the values that carry weight, certified
    (a high cut leaves too much out, and the bound sends those queries to a full read).
    """
    from fuzzykv.search import attention as attention_module

    if negligible is not None:
        monkeypatch.setattr(attention_module, "NEGLIGIBLE", negligible)
    pairs, queries = glove_pairs(glove, 6_000, seed=5)
    args = (Attention(), pairs.key_units, pairs.key_norms, pairs.value_units, pairs.value_norms, queries, 3)
    sparse, best, listed = attend_dense(*args)
    monkeypatch.setattr(attention_module, "SPARSE_BLEND", 10**9)
    full, full_best, full_listed = attend_dense(*args)
    np.testing.assert_array_equal(sparse.maximum, full.maximum)
    np.testing.assert_array_equal(sparse.total, full.total)
    np.testing.assert_array_equal(best, full_best)
    for a, b, (rows, _), (full_rows, _) in zip(sparse.weighted, full.weighted, listed, full_listed):
        assert 1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) <= 1e-6
        assert rows.tolist() == full_rows.tolist()


def test_int8_dot_is_ruled_out_only_by_listed_flags_without_it(tmp_path: Path) -> None:
    def cpu(text: str) -> bool:
        path = tmp_path / "cpuinfo"
        path.write_text(text)
        return two_pass.has_int8_dot.__wrapped__(str(path))

    assert not cpu("processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu avx2\n")
    assert cpu("flags\t\t: fpu avx2 avx512f avx512_vnni\n")
    assert cpu("flags\t\t: fpu avx2 avx_vnni\n")
    assert cpu("Features\t: fp asimd asimddp\n")
    assert cpu("processor\t: 0\n")  # no flags listed: int8_pays times it
    assert two_pass.has_int8_dot.__wrapped__(str(tmp_path / "absent"))


def test_a_big_store_without_an_int8_dot_product_answers_without_importing_torch() -> None:
    """Where int8 cannot pay, a big store's queries take the float32 pass and torch is never loaded."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from fuzzykv.search import two_pass\n"
        "two_pass.MIN_KEYS = 500\n"
        "two_pass.has_int8_dot = lambda: False\n"
        "from fuzzykv import Database\n"
        "db = Database({})\n"
        "words = db.embeddings.words[1000:3000]\n"
        "db.update(dict(zip(words[:1000], words[1000:])))\n"
        "assert db.lookup('kitten') == db.nearest('kitten', 1)[0].value\n"
        "assert db.query('rhombus', exact=True)\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
