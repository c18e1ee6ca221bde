"""A store file's layout, in one place: the SQLite schema and its version number.

A store of a higher version is refused, never misread; vectors are little-endian float32 blobs.
``fuzzykv_meta`` holds ``format``, ``version``, ``epoch``, ``seq``, ``settings`` (JSON) and, for a large
store, ``pairs_file`` (JSON: the token and position of the pairs file beside it, whose layout is in
:mod:`fuzzykv.store.snapshot`; an older fuzzykv ignores the row and the file).
"""

from __future__ import annotations

import numpy as np

FORMAT = "fuzzykv"
#: The schema below. A store of a higher version is refused, never misread.
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE fuzzykv_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE fuzzykv_pairs (
    key TEXT PRIMARY KEY,          -- rowid order is insertion order
    value TEXT NOT NULL,
    key_vector BLOB NOT NULL,      -- float32 x dim, little-endian
    value_vector BLOB NOT NULL,
    seq INTEGER NOT NULL           -- the write that last set this pair
);
CREATE INDEX fuzzykv_pairs_seq ON fuzzykv_pairs(seq);
CREATE TABLE fuzzykv_deleted (key TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX fuzzykv_deleted_seq ON fuzzykv_deleted(seq);
"""

VECTOR = np.dtype("<f4")
#: The first 16 bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"
