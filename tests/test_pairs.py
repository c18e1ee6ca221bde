import numpy as np
import pytest
from conftest import store_like
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzzykv import Database
from fuzzykv.errors import StoreError
from fuzzykv.pairs import HeldPairs, unit_rows

DIM = 4
KEYS = st.sampled_from([f"k{i}" for i in range(12)])
VECTORS = st.lists(st.floats(-5, 5, allow_nan=False, width=32), min_size=DIM, max_size=DIM)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.dictionaries(KEYS, st.tuples(VECTORS, VECTORS), min_size=1, max_size=5)),
        st.tuples(st.just("delete"), st.lists(KEYS, max_size=4)),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(operations=OPERATIONS)
def test_rows_hold_every_pair_as_a_dict_would(operations) -> None:
    pairs, model = HeldPairs(DIM, capacity=2), {}
    versions = {pairs.version}
    for kind, argument in operations:
        if kind == "set":
            keys = list(argument)
            vectors = np.array([argument[k][0] for k in keys], np.float32), np.array([argument[k][1] for k in keys], np.float32)
            pairs.set_many(keys, [f"value of {k}" for k in keys], *vectors)
            model.update({k: argument[k] for k in keys})
        else:
            pairs.delete_many(argument)
            for key in argument:
                model.pop(key, None)
        if kind == "set" or argument:
            assert pairs.version not in versions  # every write is a new version (deleting no keys is no write)
        versions.add(pairs.version)
        for held in (pairs, pairs.copy()):
            assert sorted(held.row_keys) == sorted(model) and len(held) == len(model)
            rows = np.array([held.row_of(k) for k in model], dtype=np.int64)
            expected_keys = np.array([model[k][0] for k in model], np.float32).reshape(-1, DIM)
            expected_values = np.array([model[k][1] for k in model], np.float32).reshape(-1, DIM)
            np.testing.assert_allclose(held.key_vectors[rows], expected_keys, rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(held.value_vectors_of(rows), expected_values, rtol=1e-6, atol=1e-6)
            lengths = np.linalg.norm(held.key_units, axis=1)
            assert np.all((np.abs(lengths - 1) < 1e-5) | (held.key_norms == 0))


def test_a_copy_is_a_new_version_with_the_same_pairs_in_the_same_order() -> None:
    pairs = HeldPairs(2)
    pairs.set_many(["b", "a"], ["1", "2"], np.ones((2, 2), np.float32), np.eye(2, dtype=np.float32))
    other = pairs.copy()
    assert other.version != pairs.version and other.items() == pairs.items()
    other.delete_many(["b"])
    assert pairs.items() == [("b", "1"), ("a", "2")]  # the copy is independent


def test_unit_rows_keep_zero_vectors_zero() -> None:
    units, norms = unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]], np.float32))
    np.testing.assert_allclose(units, [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(norms, [5.0, 0.0])


def test_a_batch_undone_after_unqueried_writes_answers_from_what_is_held() -> None:
    """Regression: versions were counters per matrix, so the snapshot a failed batch restores
    could carry the version of older pairs and be answered from their cached values."""
    db = Database({"cat": "animal"}, answers="values")
    assert db.query("dog", k=1) == ["animal"]  # the stored values, as of this version, are cached
    db["car"] = "vehicle"
    with pytest.raises(RuntimeError), db.batch():
        db["bus"] = "transport"
        raise RuntimeError("undo the batch")
    assert db.query("truck", k=2) == ["vehicle", "animal"]


STORE_OPERATIONS = st.lists(st.tuples(st.booleans(), st.lists(KEYS, min_size=1, max_size=4, unique=True)), max_size=20)


@settings(max_examples=150, deadline=None)
@given(operations=STORE_OPERATIONS, limit=st.integers(1, 5), from_file=st.booleans())
def test_pages_follow_insertion_order(operations, limit: int, from_file: bool) -> None:
    """Pages put together are ``items()``, for pairs with rowids (a store's: new keys take the next
    one, changed keys keep theirs) and without (memory only)."""
    pairs, _ = store_like(operations, DIM, from_file)
    pages, after, more = [], None, True
    while more:
        page, more = pairs.page(after, limit)
        assert len(page) <= limit and (page or not more)
        pages += page
        after = page[-1][0] if page else None
    assert pages == pairs.items()
    with pytest.raises(KeyError):
        pairs.page("not held", limit)


def test_adopted_pairs_map_their_keys_on_first_use_and_refuse_a_repeated_key() -> None:
    units = np.eye(3, 4, dtype=np.float32)
    norms = np.ones(3, dtype=np.float32)
    rowids = np.arange(1, 4, dtype=np.int64)
    held = HeldPairs.adopt(["a", "b", "c"], ["x", "y", "z"], units.copy(), norms.copy(), units.copy(), norms.copy(),
                           rowids)
    assert held._row_map is None  # not made at the open: a query needs no key map
    assert "b" in held and held.value("c") == "z" and held.keys() == ["a", "b", "c"]
    repeated = HeldPairs.adopt(["a", "b", "a"], ["x", "y", "z"], units.copy(), norms.copy(), units.copy(),
                               norms.copy(), rowids)
    with pytest.raises(StoreError, match="repeats a key"):
        "a" in repeated  # noqa: B015
