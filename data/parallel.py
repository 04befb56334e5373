"""Process pools for the data stage (synthesis, feature extraction): ordered, deterministic results.

Workers die with the process that started them: a SIGKILLed `acdeploy data features` must not
leave its pool running (nothing would read its results, and each holds a core and memory).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_POLL_SECONDS = 1.0


def worker_count(requested: int) -> int:
    """`requested` processes, or one per CPU core when 0."""
    return requested if requested > 0 else (os.cpu_count() or 1)


def _die_with_parent(parent: int) -> None:
    """Pool worker initializer: end this worker when `parent` ends.

    On Linux the kernel sends SIGKILL the moment the parent dies (prctl PR_SET_PDEATHSIG); a
    thread that polls os.getppid() covers other systems and the parent dying before the prctl.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_SECONDS)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="acdeploy-parent-watch", daemon=True).start()


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
    pool = ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=ctx,
                               initializer=_die_with_parent, initargs=(os.getpid(),))
    try:
        yield from pool.map(fn, items)
    finally:
        # On an error (a bad file) drop the queued work instead of finishing it first.
        pool.shutdown(wait=True, cancel_futures=True)
