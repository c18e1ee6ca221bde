"""The rows of the k highest scores, highest first, without sorting or partitioning every score.

``np.argpartition`` over 100,000 scores costs about as much as the matrix-vector product that made
them. The k-th highest of the blocks' maxima is a floor for the k-th highest score (k blocks each
hold a score at least that high), so only the scores at or above it need sorting: a few more than
k for the scores a query gives.
"""

from __future__ import annotations

import numpy as np

#: Scores are cut into blocks of this many for their maxima.
BLOCK = 64
#: Up to this many scores are sorted whole (one call: a partition would not pay).
SORTED = 64
#: Fewer scores than this are partitioned whole (the blocks would not pay).
BLOCKED = 4096


def top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the ``k`` highest of (n,) ``scores``, highest first; equal scores in row order.

    Exactly the rows a full stable sort puts first: every row that could be among them is sorted.
    """
    n = len(scores)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    if k == 1 and n:
        return np.array([int(np.argmax(scores))], dtype=np.int64)  # NaN-free scores: the first highest
    if k >= n or n <= SORTED:
        return (-scores).argsort(kind="stable")[:k]
    if n >= BLOCKED and k * BLOCK * 4 <= n:
        whole = n - n % BLOCK
        maxima = scores[:whole].reshape(-1, BLOCK).max(axis=1)
        floor = np.partition(maxima, len(maxima) - k)[len(maxima) - k]
        chosen = np.flatnonzero(scores >= floor)
    else:
        # Every row scoring at least the k-th highest: argpartition's choice among equal scores is arbitrary.
        kth = np.partition(scores, n - k)[n - k]
        chosen = np.flatnonzero(scores >= kth)
    return chosen[np.argsort(-scores[chosen], kind="stable")[:k]]
