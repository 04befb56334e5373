"""Process pools for the data stage (synthesis, feature extraction): ordered, deterministic results."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def worker_count(requested: int) -> int:
    """`requested` processes, or one per CPU core when 0."""
    return requested if requested > 0 else (os.cpu_count() or 1)


def ordered_map(fn: Callable[[Any], Any], items: Iterable[Any], workers: int) -> Iterator[Any]:
    """map(fn, items) in order, in `workers` processes (in this process when workers == 1).

    Results come back in input order, so the output never depends on scheduling.
    """
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        yield from map(fn, items)
        return
    # fork is fast and safe for numpy/librosa; once TensorFlow has started its threads in this
    # process a fork can deadlock, so then start clean interpreters instead.
    method = "spawn" if "tensorflow" in sys.modules else "fork"
    ctx = multiprocessing.get_context(method)
    pool = ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=ctx)
    try:
        yield from pool.map(fn, items)
    finally:
        # On an error (a bad file) drop the queued work instead of finishing it first.
        pool.shutdown(wait=True, cancel_futures=True)
