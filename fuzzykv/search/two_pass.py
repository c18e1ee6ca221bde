"""Exact attention and exact nearest keys over big stores, in two passes: int8 bounds first, then
float32 only for the rows whose answer can depend on them.

Each key and value direction u (a unit row) is kept beside its float32 copy as int8 codes c with
a per-row scale s and a per-row error bound E >= |u - s c| (:func:`quantise`). A unit query q is
coded the same way (q = a x + f). Then, by Cauchy-Schwarz,

    |q.u - a s (x.c)| <= |a x| E + |f|  =: delta,

and the integer products x.c of every row come from one int8 product (torch's ``_int_mm``, a
quarter of the bytes of a float32 pass). So every row's score lies in a known interval:

- **attention** (:func:`attend`): the lower bounds give a floor m for the largest logit; a row whose
  upper bound lies 20.7 (ln 1e9) below m cannot carry 1e-9 of the weight, and is skipped. Only the
  rest are scored in float32, exactly as a full pass scores them. What the skipped rows could add
  to the blend is bounded from their upper bounds too, and must stay below ``BLEND_SINE`` of the
  blend's length (so 1 - cosine to the full float32 blend stays below 1e-8); otherwise the floor
  is lowered and more rows are scored, down to a full pass.
- **nearest keys** (:func:`nearest`): the k-th best lower bound is a floor for the k-th best
  cosine; only keys whose upper bound reaches it are scored in float32 (a certified top k).
"""

from __future__ import annotations

import atexit
import functools
import math
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .attention import Attention, Partial, best_cosine
from .threads import one_torch_thread

if TYPE_CHECKING:
    import torch

    from ..pairs import HeldPairs

#: Stores of this many keys or more answer one query (cosine attention, on the CPU) in two passes.
MIN_KEYS = 1 << 15
#: From this many keys the int8 product runs on torch's threads (it reads tens of MB).
THREADED_KEYS = 1 << 18
#: A row is rescored when its weight could exceed this share of the largest weight.
NEGLIGIBLE = 1e-9
#: The skipped rows' largest possible share of the blend, as a length ratio: 1 - cos <= BLEND_SINE ** 2.
BLEND_SINE = 1e-4
#: Covers float32 rounding of the first pass's bounds (in cosine units; scores are at most 2 apart).
_MARGIN = 1e-5
_torch_lock = threading.Lock()
_torch_loading: threading.Thread | None = None


def torch_ready() -> bool:
    """Whether torch (whose ``_int_mm`` the first pass needs) is imported; if not, start importing it.

    NOTE: importing torch takes about a second, several times a fresh process's whole first answer
    from a mapped store file. So a process's first queries of a big store take the full float32
    pass in numpy (exact too, and tens of ms at 1,000,000 keys) while torch loads on a background
    thread; the queries after it take the two passes. Exit waits for that import to finish.
    """
    global _torch_loading
    loading = _torch_loading
    if loading is not None:
        return not loading.is_alive()
    if "torch" in sys.modules:
        return True
    if not has_int8_dot():  # torch's int8 product cannot pay here: spare the process a second of import
        return False
    with _torch_lock:
        if _torch_loading is None:
            _torch_loading = threading.Thread(target=_import_torch, name="fuzzykv: import torch", daemon=True)
            _torch_loading.start()
            atexit.register(_torch_loading.join)
    return False


#: CPU flags (Linux's /proc/cpuinfo) of an int8 dot-product instruction: x86 VNNI or AMX, Arm's dot product.
INT8_DOT_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8", "asimddp"})


@functools.cache
def has_int8_dot(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU may have a fast int8 product: ``False`` only when its flags are listed and
    name no int8 dot-product instruction (then ``_int_mm`` is slower than float32: 1.3-2.3x on this
    project's AVX2 machine), ``True`` where they cannot be read (``int8_pays`` times it).
    """
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as file:
            listed = [line.split(":", 1)[1].split() for line in file if line.startswith(("flags", "Features"))]
    except OSError:
        return True
    return not listed or any(INT8_DOT_FLAGS.intersection(flags) for flags in listed)


def _import_torch() -> None:
    import torch  # noqa: F401

    int8_pays()  # timed here too, off the query's path


_pays: bool | None = None
#: The int8 product must beat the float32 one by this factor to be used (it reads a quarter of the
#: bytes, but torch's ``_int_mm`` has no fast kernel on CPUs without VNNI).
PAYS_BY = 1.3


def int8_pays() -> bool:
    """Whether this machine's int8 product (``_int_mm``) beats numpy's float32 matrix-vector product
    over the same rows by ``PAYS_BY``: timed once per process on 262,144 synthetic rows (more than
    a cache holds; about 0.1 s, on the background thread that imports torch where it can be).

    NOTE: measured on this project's 2-core AVX2 machine (no VNNI), ``_int_mm`` took 1.3-2.3x the
    float32 product's time over 1,000,000 x 50 rows, so there big stores take the exact float32
    pass with the sparse blend (fuzzykv.search.attention) instead of the two passes.
    """
    global _pays
    if _pays is None and not has_int8_dot():
        _pays = False
    if _pays is None:
        import time

        import torch

        rng = np.random.default_rng(0)
        units = rng.standard_normal((1 << 18, 50)).astype(np.float32)
        codes = torch.from_numpy(rng.integers(-127, 128, size=(1 << 18, 50), dtype=np.int8))
        query, coded = units[0].copy(), torch.from_numpy(np.ones((50, 1), dtype=np.int8))

        def best_of(call: Callable[[], object]) -> float:
            times = []
            for _ in range(4):
                start = time.perf_counter()
                call()
                times.append(time.perf_counter() - start)
            return min(times)

        # Both on their default threads, as a big store's query runs them.
        _pays = best_of(lambda: torch._int_mm(codes, coded)) * PAYS_BY < best_of(lambda: units @ query)
    return _pays




@dataclass(frozen=True)
class _Query:
    """A unit query as int8 codes x (contiguous (dim, 1), as ``_int_mm`` needs) with scale a: q = a x + f."""

    unit: np.ndarray  # (dim,) float32
    codes: torch.Tensor
    scale: float
    coded_length: float  # |a x|
    residual: float  # |f|

    @classmethod
    def of(cls, unit: np.ndarray) -> _Query:
        import torch

        peak = float(np.abs(unit).max())
        scale = peak / 127 if peak > 0 else 1.0
        x = np.clip(np.rint(unit.astype(np.float64) / scale), -127, 127)
        coded = x * scale
        # NOTE: contiguous, never a broadcast view: _int_mm returns garbage for stride-0 operands.
        codes = torch.from_numpy(np.ascontiguousarray(x.reshape(-1, 1), dtype=np.int8))
        return cls(unit, codes, scale, float(np.linalg.norm(coded)), float(np.linalg.norm(unit - coded)))


@contextmanager
def _threads_for(n: int) -> Iterator[None]:
    """torch's threads for a big product; one thread for a short one (see threads.py)."""
    with nullcontext() if n >= THREADED_KEYS else one_torch_thread():
        yield


def _cosines(query: _Query, codes: np.ndarray, scales: np.ndarray, errors: np.ndarray
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Every row's approximate cosine to the query, and the bound on its error, as (n,) tensors."""
    import torch

    products = torch._int_mm(torch.from_numpy(codes), query.codes)[:, 0]  # exact, int32
    approximate = products.to(torch.float32).mul_(torch.from_numpy(scales)).mul_(query.scale)
    bound = torch.from_numpy(errors).mul(query.coded_length).add_(query.residual + _MARGIN)
    return approximate, bound


@dataclass(frozen=True)
class Attended:
    """One query's attention over one part, from the two passes (see :func:`attend`)."""

    partial: Partial
    best_key: float
    rows: np.ndarray  # the heaviest rows, heaviest first
    logits: np.ndarray


def attend(attention: Attention, pairs: HeldPairs, query: np.ndarray, top: int, best_key: bool) -> Attended | None:
    """Exact cosine attention of one (dim,) query over ``pairs`` (which must hold int8 codes).

    :param top: how many of the heaviest rows to list.
    :param best_key: find the highest key cosine exactly (NaN otherwise: a caller that only wants words).
    :returns: ``None`` when the bounds cannot certify the answer cheaply (the caller then scores every row).
    """
    import torch

    assert attention.similarity == "cosine" and attention.temperature is not None and attention.value_weight is not None
    norm = float(np.linalg.norm(query))
    if norm == 0 or not len(pairs):
        return None
    unit = (query / np.float32(norm)).astype(np.float32)
    coded = _Query.of(unit)
    weight, temperature = float(attention.value_weight), float(attention.temperature)
    n = len(pairs)
    with _threads_for(n):
        key_cosine, key_bound = _cosines(coded, pairs.key_codes, pairs.key_scales, pairs.key_errors)
        if weight:
            value_cosine, value_bound = _cosines(coded, pairs.value_codes, pairs.value_scales, pairs.value_errors)
            score = torch.add(key_cosine, value_cosine, alpha=weight)
            bound = torch.add(key_bound, value_bound, alpha=weight)
        else:
            score, bound = key_cosine, key_bound
        upper = score + bound
        floor = float((score - bound).max())  # the largest score is at least this
        for drop in (math.log(1 / NEGLIGIBLE), 3 * math.log(1 / NEGLIGIBLE)):
            cut = floor - temperature * drop  # in score units: a skipped row weighs < NEGLIGIBLE (or less)
            band = cut - temperature * 40  # rows between band and cut are summed into the bound one by one
            near = torch.nonzero(upper >= band).flatten()
            near_upper = upper[near]
            kept = near[near_upper >= cut].numpy()
            if len(kept) < top:
                continue
            done = _rescore(attention, pairs, unit, kept, top, cut, near_upper[near_upper < cut].numpy(),
                            near[near_upper < cut].numpy(), band, n - len(near))
            if done is not None:
                partial, rows, logits = done
                best = _best_key(pairs, unit, key_cosine, key_bound) if best_key else math.nan
                return Attended(partial, best, rows, logits)
    return None


def _rescore(attention: Attention, pairs: HeldPairs, unit: np.ndarray, kept: np.ndarray, top: int, cut: float,
             skipped_upper: np.ndarray, skipped: np.ndarray, band: float, beyond: int,
             ) -> tuple[Partial, np.ndarray, np.ndarray] | None:
    """The kept rows scored in float32 as a full pass scores them; ``None`` unless the skipped rows
    provably change the blend by less than ``BLEND_SINE`` of its length and hold none of the ``top``.
    """
    assert attention.temperature is not None and attention.value_weight is not None
    inverse = np.float32(1 / attention.temperature)
    logits = pairs.key_units[kept] @ unit
    if attention.value_weight:
        logits += np.float32(attention.value_weight) * (pairs.value_units[kept] @ unit)
    logits *= inverse
    maximum = float(logits.max())
    exp = np.exp(logits - np.float32(maximum))
    value_norms = pairs.value_norms[kept]
    weighted = ((exp * value_norms) @ pairs.value_units[kept]).astype(np.float64)
    # What the skipped rows could add, at most: each one's largest weight times its value's length.
    omitted = float(np.exp(skipped_upper.astype(np.float64) * float(inverse) - maximum) @ pairs.value_norms[skipped])
    omitted += beyond * math.exp(band * float(inverse) - maximum) * float(pairs.value_norms.max(initial=0.0))
    if omitted > BLEND_SINE * float(np.linalg.norm(weighted)):
        return None
    order = np.argsort(-logits, kind="stable")[:top]
    if float(logits[order[-1]]) < cut * float(inverse):  # a skipped row might outrank the last listed one
        return None
    partial = Partial(np.array([maximum]), np.array([exp.sum(dtype=np.float64)]), weighted[None, :])
    return partial, kept[order], logits[order]


def _best_key(pairs: HeldPairs, unit: np.ndarray, cosine: torch.Tensor, bound: torch.Tensor) -> float:
    """The highest key cosine, exactly: the keys whose upper bound reaches the best lower bound, rescored."""
    import torch

    floor = float((cosine - bound).max())
    candidates = torch.nonzero(cosine + bound >= floor).flatten().numpy()
    best = candidates[np.argmax(pairs.key_units[candidates] @ unit)]
    return float(best_cosine(pairs.key_units, np.array([best]), unit[None, :])[0])


def nearest(pairs: HeldPairs, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows and cosines of the ``k`` keys nearest to ``query``, nearest first, exactly (certified).

    Every key whose upper bound reaches the k-th best lower bound is scored in float32.
    """
    import torch

    k = min(k, len(pairs))
    norm = float(np.linalg.norm(query))
    unit = (query / np.float32(norm if norm > 0 else 1.0)).astype(np.float32)
    if norm == 0:  # every cosine is 0: the first k rows, as a full pass ranks ties
        return np.arange(k), np.zeros(k, dtype=np.float32)
    with _threads_for(len(pairs)):
        cosine, bound = _cosines(_Query.of(unit), pairs.key_codes, pairs.key_scales, pairs.key_errors)
        floor = float(torch.topk(cosine - bound, k, sorted=False).values.min())
        candidates = torch.nonzero(cosine + bound >= floor).flatten().numpy()
    exact = pairs.key_units[candidates] @ unit
    order = np.argsort(-exact, kind="stable")[:k]
    return candidates[order], exact[order]
