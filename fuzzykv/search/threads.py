"""torch's thread count for small products: one thread, where two only wait for each other."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_threads_lock = threading.Lock()
_threads_saved: list[int] = []  # torch's thread count while some decode runs on one thread; one entry per decode


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """torch on one thread inside the block; the count is restored when the last such block leaves.

    NOTE: torch's two-thread int8 product slows down 5-25x (measured) when another process holds a
    core, as its threads wait for each other at every step; one thread gives a steady time (on an
    idle machine two threads would be about 1.6x faster).
    """
    import torch  # NOTE: here, not at the top: a store answering in numpy never imports torch

    with _threads_lock:
        _threads_saved.append(torch.get_num_threads() if not _threads_saved else _threads_saved[0])
        torch.set_num_threads(1)
    try:
        yield
    finally:
        with _threads_lock:
            restore = _threads_saved.pop()
            if not _threads_saved:
                torch.set_num_threads(restore)
