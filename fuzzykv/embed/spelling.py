"""Words without a vector -> the known word the user most likely meant: a symmetric-delete index
(SymSpell's scheme) over the vocabulary, checked by optimal-string-alignment distance (rapidfuzz),
with ties broken by the store's own key words and a noisy-channel weight.

The index is one sorted ``uint64`` array: for every word, each string left by deleting up to
``max_distance`` letters of its first ``PREFIX`` letters, hashed to 32 bits, in the high half; the
word's row in the low half. A query makes the same deletes of itself and reads the rows that
share one; rapidfuzz then keeps those truly within ``max_distance``. NOTE: symspellpy builds the
same index as Python dicts (about 600 MB and 12 s for GloVe's 400,000 words) and saves it only as
a pickle, which fuzzykv never loads; this array is 90 MB, builds in a few seconds and is cached as
a plain ``.npy`` file whose digest is checked before use.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import string
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA, Levenshtein

from ..cache import CacheLayout, ensure_checked, verified
from .vectors import Correction

#: Letters of each word the index keys on (SymSpell's prefix length); longer words are still
#: found, since a word within two edits shares a delete of its first PREFIX letters.
PREFIX = 7
#: Bump when the index's hashing or layout changes; older cache files are then rebuilt.
INDEX_VERSION = 1
_PUNCTUATION = string.punctuation + "“”‘’«»…"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

@dataclass(frozen=True)
class Channel:
    """Chances of each kind of typing error at one letter of the intended word (the noisy channel).

    Each figure is the chance of the KIND; :meth:`Corrector.correct` weighs each OUTCOME, so a kind
    with several outcomes shares its chance among them: a slip to a neighbouring key is spread over
    that key's neighbours (about six), one vowel for another over the other five vowels, any other
    letter over 25, while a dropped letter or a swap has one outcome. Chosen on the tuning list of
    ``benchmarks/misspellings.py``.
    """

    swap: float = 0.25  # two neighbouring letters swapped
    near_key: float = 0.25  # a key next to the intended one typed instead of it
    near_insert: float = 0.25  # a key next to a neighbouring letter typed as well
    doubled: float = 0.25  # a letter typed twice
    drop_double: float = 0.3  # one letter of a double dropped
    drop: float = 0.3  # a letter dropped (at most drop_double: that outcome has two ways)
    vowel: float = 0.08  # one vowel for another (a spelling, not a typing, error)
    other_sub: float = 0.02  # any other letter typed instead
    other_insert: float = 0.02  # any other letter typed as well

    @property
    def likeliest(self) -> float:
        """The chance of the likeliest single outcome: no edit is likelier (bounds the ranking)."""
        return max(self.swap, self.near_key / _FEWEST_NEIGHBOURS, self.near_insert / _FEWEST_NEIGHBOURS,
                   self.doubled, self.drop_double, self.drop,
                   self.vowel / 5, self.other_sub / 25, self.other_insert / 26)


_ROWS = ("1234567890-=", "qwertyuiop[]", "asdfghjkl;'", "zxcvbnm,./")
_VOWELS = frozenset("aeiouy")


def _neighbours() -> dict[str, frozenset[str]]:
    """Keys next to each key on a QWERTY keyboard: beside it, and the two touching it above and below.

    Each row sits about half a key right of the one above, so key ``i`` touches keys ``i`` and
    ``i + 1`` of the row above and ``i - 1`` and ``i`` of the row below ("s": w e a d z x).
    """
    where = {c: (r, i) for r, row in enumerate(_ROWS) for i, c in enumerate(row)}
    touching = {0: (-1, 1), -1: (0, 1), 1: (-1, 0)}  # row offset -> column offsets that touch
    return {c: frozenset(d for d, (s, j) in where.items()
                         if d != c and abs(s - r) <= 1 and touching[s - r][0] <= j - i <= touching[s - r][1])
            for c, (r, i) in where.items()}


_NEAR = _neighbours()
_FEWEST_NEIGHBOURS = min(len(near) for near in _NEAR.values())
DEFAULT_CHANNEL = Channel()


def normalise(word: str) -> str:
    """Lower-cased, without surrounding punctuation: ``"Rhombus,"`` -> ``"rhombus"``."""
    return word.strip(_PUNCTUATION).lower()


def channel_log_probability(intended: str, typed: str, channel: Channel = DEFAULT_CHANNEL) -> float:
    """log P(typed | intended): the chance of each edit of rapidfuzz's alignment, per outcome."""
    ops = list(Levenshtein.editops(intended, typed))
    total = 0.0
    i = 0
    while i < len(ops):
        op = ops[i]
        if i + 1 < len(ops):
            nxt = ops[i + 1]
            a, b = min(op.src_pos, nxt.src_pos), min(op.dest_pos, nxt.dest_pos)
            window, seen = intended[a : a + 2], typed[b : b + 2]
            if len(window) == 2 and window != seen and window[::-1] == seen and abs(nxt.src_pos - op.src_pos) <= 2:
                total += math.log(channel.swap)
                i += 2
                continue
        total += math.log(_one_edit(channel, op.tag, intended, typed, op.src_pos, op.dest_pos))
        i += 1
    return total


def _one_edit(channel: Channel, tag: str, intended: str, typed: str, src: int, dest: int) -> float:
    """The chance of one outcome: the kind's chance over the number of outcomes of that kind."""
    if tag == "replace":
        want, got = intended[src], typed[dest]
        near = _NEAR.get(want, frozenset())
        if got in near:
            return channel.near_key / len(near)
        if want in _VOWELS and got in _VOWELS:
            return channel.vowel / (len(_VOWELS) - 1)
        return channel.other_sub / 25
    if tag == "insert":  # typed has an extra letter at dest
        extra = typed[dest]
        beside = {typed[j] for j in (dest - 1, dest + 1) if 0 <= j < len(typed)}
        if extra in beside:
            return channel.doubled
        sizes = [len(_NEAR[c]) for c in beside if extra in _NEAR.get(c, ())]
        return channel.near_insert / min(sizes) if sizes else channel.other_insert / 26
    # delete: typed lacks intended[src]
    lost = intended[src]
    doubled = any(intended[j] == lost for j in (src - 1, src + 1) if 0 <= j < len(intended))
    return channel.drop_double if doubled else channel.drop


# -- the index ---------------------------------------------------------------------------------

_PATTERNS = [combo for k in range(3) for combo in itertools.combinations(range(PREFIX), k)]


def _codes(words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each word's first PREFIX characters as code points (zero-padded), and how many there are."""
    prefixes = np.array([w[:PREFIX] for w in words], dtype=f"<U{PREFIX}")
    codes = prefixes.view(np.uint32).reshape(len(words), PREFIX).astype(np.uint64)
    return codes, (codes != 0).sum(axis=1)


def _hash(columns: np.ndarray) -> np.ndarray:
    """32-bit hashes of rows of code points, zeros (padding) skipped: FNV-style fold, then a 64-bit mix."""
    h = np.full(columns.shape[0], 0xCBF29CE484222325, dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    for j in range(columns.shape[1]):
        c = columns[:, j]
        h = np.where(c != 0, (h ^ c) * prime, h)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    return h >> np.uint64(32)


def build_table(words: Sequence[str], max_distance: int = 2) -> np.ndarray:
    """The sorted, de-duplicated ``hash << 32 | row`` array of the symmetric-delete index.

    For each delete pattern (the prefix positions removed), the words long enough for it, at once.
    """
    codes, lengths = _codes(words)
    everyone = np.arange(len(words), dtype=np.uint64)
    parts = []
    for pattern in _PATTERNS:
        if len(pattern) > max_distance:
            continue
        valid = lengths > (pattern[-1] if pattern else -1)
        keep = [j for j in range(PREFIX) if j not in pattern]
        parts.append((_hash(codes[valid][:, keep]) << np.uint64(32)) | everyone[valid])
    table = np.concatenate(parts)
    del parts
    table.sort()
    unique = np.empty(len(table), dtype=bool)
    unique[:1] = True
    np.not_equal(table[1:], table[:-1], out=unique[1:])
    out: np.ndarray = table[unique]
    return out


def _prefix_deletes(prefix: str, limit: int) -> set[str]:
    """``prefix`` and every string left by deleting up to ``limit`` of its letters."""
    found, frontier = {prefix}, {prefix}
    for _ in range(limit):
        frontier = {s[:i] + s[i + 1 :] for s in frontier for i in range(len(s))}
        found |= frontier
    return found


class Corrector:
    """The known word most likely meant by a word without a vector, within ``max_distance`` edits.

    Each candidate within the limit is weighed by the noisy channel: log P(typed | candidate) from
    :class:`Channel`, plus a Zipf prior on the candidate's frequency rank (``-zipf * log(rank + 1)``).
    The closest candidates compete with those one edit farther, which pay ``farther`` nats on top
    of their extra edit's chance; a word of the store's own keys at the closest distance wins
    outright. Words shorter than ``min_length_for_2`` letters are only corrected by one edit (two
    edits of a short word reach too many words). Immutable once built, so threads may share one.
    """

    def __init__(self, words: Sequence[str], table: np.ndarray, *, max_distance: int = 2,
                 min_length_for_2: int = 5, zipf: float = 1.25, farther: float = 4.0,
                 channel: Channel = DEFAULT_CHANNEL) -> None:
        self.words = words
        self.table = table
        self.max_distance = max_distance
        self.min_length_for_2 = min_length_for_2
        self.zipf = zipf
        self.farther = farther
        self.channel = channel
        self._rows = {w: i for i, w in enumerate(words)}
        self._lengths = np.fromiter((len(w) for w in words), dtype=np.int32, count=len(words))

    @classmethod
    def build(cls, words: Sequence[str], *, name: str | None = None, layout: CacheLayout | None = None) -> Corrector:
        """Index ``words`` (most frequent first); with a ``name``, read or write the index in the cache.

        A cached index is used only when its digest, recorded beside it, matches the whole file
        and it holds an index of as many words; anything else is rebuilt, never trusted.

        :raises CacheError: the cached index is missing or damaged and the cache cannot be written.
        """
        words = list(words)
        if name is None:
            return cls(words, build_table(words))
        layout = layout or CacheLayout.default()
        path = index_file(layout, name)
        meta: dict[str, Any] = {"kind": "spelling", "index_version": INDEX_VERSION, "words": len(words),
                                "prefix": PREFIX, "max_distance": 2, "words_digest": _words_digest(words)}

        def fill(staging: Path) -> None:
            with open(staging, "wb") as handle:
                np.save(handle, build_table(words), allow_pickle=False)

        ensure_checked(path, fill, **meta)
        try:
            table = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            table = None
        if table is None or table.dtype != np.uint64 or table.ndim != 1 or not verified(path, **meta):
            return cls(words, build_table(words))  # changed under us since the check: do not trust it
        return cls(words, table)

    def replace(self, **options: object) -> Corrector:
        """The same index with other ranking options (``max_distance`` <= 2, ``min_length_for_2``,
        ``zipf``, ``farther``, ``channel``).
        """
        fresh = Corrector.__new__(Corrector)
        fresh.__dict__.update(self.__dict__)
        for key, value in options.items():
            if key not in _OPTIONS:
                raise TypeError(f"Corrector.replace() got an unknown option {key!r}; use one of "
                                f"{', '.join(sorted(_OPTIONS))}")
            setattr(fresh, key, value)
        return fresh

    def candidates(self, word: str, limit: int) -> list[tuple[str, int]]:
        """Vocabulary words within ``limit`` edits of ``word`` (already normalised), with their distance."""
        keys = _hash(_codes(sorted(_prefix_deletes(word[:PREFIX], limit)))[0]) << np.uint64(32)
        lo = np.searchsorted(self.table, keys, side="left")
        hi = np.searchsorted(self.table, keys | np.uint64(0xFFFFFFFF), side="right")
        if not (hi > lo).any():
            return []
        rows = np.unique(np.concatenate([self.table[a:b] for a, b in zip(lo, hi) if b > a]) & np.uint64(0xFFFFFFFF))
        rows = rows[np.abs(self._lengths[rows] - len(word)) <= limit]
        found = [self.words[int(r)] for r in rows]
        return [(w, int(d)) for w, d, _ in process.extract(word, found, scorer=OSA.distance, score_cutoff=limit,
                                                             limit=None)]

    def correct(self, word: str, preferred: Collection[str] = ()) -> Correction | None:
        """The word meant by ``word``: itself (distance 0) when it is known, else the best known word
        within the limit, else ``None`` (the caller falls back to the character model or an error).

        :param preferred: the words of the store's own keys; they win ties, and are candidates even
            when the vocabulary lacks them.
        """
        for form in (word, word.lower(), normalise(word)):
            if form in self._rows:
                return Correction(word, form, 0)
        typed = normalise(word)
        if not typed:
            return None
        if typed in preferred:
            return Correction(word, typed, 0)
        found = self._within_limit(typed, preferred)
        if not found:
            return None
        best = min(found.values())
        closest_keys = [w for w in preferred if found.get(w) == best]
        if closest_keys:  # a word of the store's own keys at the closest distance wins outright
            return Correction(word, max(closest_keys, key=lambda w: (self.weight(w, typed), w)), best)
        chosen = self._likeliest(typed, found, best)
        return Correction(word, chosen, found[chosen])

    def _within_limit(self, typed: str, preferred: Collection[str]) -> dict[str, int]:
        """Known words (and the store's own key words) within the edit limit of ``typed``, with their distances."""
        limit = self.max_distance if len(typed) >= self.min_length_for_2 else min(self.max_distance, 1)
        found = dict(self.candidates(typed, limit))
        if preferred:
            for other, distance, _ in process.extract(typed, preferred, scorer=OSA.distance, score_cutoff=limit,
                                                      limit=None):
                found[str(other)] = int(distance)
        return found

    def _likeliest(self, typed: str, found: dict[str, int], best: int) -> str:
        """The candidate of highest weight, by branch and bound.

        No edit is likelier than the channel's likeliest outcome, so a bound on each candidate's weight
        orders them, and the exact weight (an alignment) is computed only while a candidate's bound can
        still beat the best weight found.
        """
        top = math.log(self.channel.likeliest)
        bounded = sorted(((self._prior(w) + top * d - self._penalty(d - best), w)
                          for w, d in found.items() if d <= best + 1), reverse=True)
        chosen, score = "", -math.inf
        for bound, w in bounded:
            if bound < score:
                break
            weight = self.weight(w, typed, found[w] - best)
            if weight > score or (weight == score and self._rank(w) < self._rank(chosen)):
                chosen, score = w, weight
        return chosen

    def _penalty(self, farther: int) -> float:
        return self.farther * farther if farther else 0.0  # 0 * inf would be nan: farther=inf is distance-first

    def _rank(self, word: str) -> int:
        return self._rows.get(word, len(self.words))

    def _prior(self, word: str) -> float:
        return -self.zipf * math.log(self._rank(word) + 1)

    def weight(self, candidate: str, typed: str, farther: int = 0) -> float:
        """The log weight of ``candidate`` for ``typed``: channel, frequency prior, and ``farther``
        extra edits beyond the closest candidate's at ``self.farther`` nats each.
        """
        return channel_log_probability(candidate, typed, self.channel) + self._prior(candidate) - self._penalty(farther)


_OPTIONS = frozenset({"max_distance", "min_length_for_2", "zipf", "farther", "channel"})


def index_file(layout: CacheLayout, name: str) -> Path:
    """``<root>/v1/spelling/<name>.npy``; a name unsafe as a file name is replaced by its digest."""
    safe = name if _SAFE_NAME.match(name) else hashlib.blake2b(name.encode("utf-8"), digest_size=12).hexdigest()
    return layout.versioned / "spelling" / f"{safe}-i{INDEX_VERSION}.npy"


def _words_digest(words: Sequence[str]) -> str:
    digest = hashlib.blake2b(digest_size=12)
    digest.update("\n".join(words).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()
