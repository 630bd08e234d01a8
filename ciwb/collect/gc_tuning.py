"""Python's cyclic garbage collector during a collect.

A collect allocates millions of containers that die young or are freed by reference
counting (every answer's dicts and lists, ~60 per build), while ~110,000 long-lived ones sit
in the heap (botocore's models and endpoint rules, the imported modules). At CPython's
default thresholds (a pass every 700 net allocations) a 40 account-region run made ~500
passes, and each full pass walked every long-lived object again: about half the CPU of
parsing the answers, all of it under the GIL, so every concurrent walk waited for it.

`fewer_gc_passes()` freezes what exists when the run starts (`gc.freeze`: the frozen
objects are never walked until unfrozen) and raises the first threshold, so a pass walks
only the run's own objects, and seldom. Cycles are still collected (a client dropped at the
end of a walk is one), only in fewer, larger passes. Both are undone when the run ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["RUN_THRESHOLD", "fewer_gc_passes"]

# Net container allocations between passes during a run: a BatchGetBuilds answer of 100
# builds is ~20,000, so a pass per answer or so instead of ~30 of them.
RUN_THRESHOLD = 50_000

_lock = threading.Lock()
_depth = 0  # runs in progress (collect() called from several threads, e.g. in tests)
_saved: tuple[tuple[int, int, int], bool] = ((700, 10, 10), False)


@contextmanager
def fewer_gc_passes(threshold: int = RUN_THRESHOLD) -> Iterator[None]:
    """Freeze the heap and collect less often for the `with` block; restore both after.

    A heap the caller froze already stays as the caller left it.
    """
    global _depth, _saved
    with _lock:
        if _depth == 0:
            froze = gc.get_freeze_count() == 0
            _saved = (gc.get_threshold(), froze)
            if froze:
                gc.freeze()
            first, *rest = _saved[0]
            gc.set_threshold(max(first, threshold), *rest)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                thresholds, froze = _saved
                gc.set_threshold(*thresholds)
                if froze:
                    gc.unfreeze()
