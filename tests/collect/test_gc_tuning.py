"""A collect runs with the heap frozen and fewer GC passes, and leaves the GC as it was."""

from __future__ import annotations

import gc

from ciwb.collect.gc_tuning import RUN_THRESHOLD, fewer_gc_passes


def test_the_gc_is_tuned_inside_and_restored_after():
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with fewer_gc_passes():
        assert gc.get_threshold()[0] >= RUN_THRESHOLD
        assert gc.get_freeze_count() > 0
        with fewer_gc_passes():  # nested (a second collect on another thread)
            assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] >= RUN_THRESHOLD
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_heap_the_caller_froze_stays_frozen():
    mine = [[]]  # a container the GC tracks, frozen by the caller below
    gc.freeze()
    try:
        with fewer_gc_passes():
            pass
        # frozen objects are in no generation (other threads may free some meanwhile)
        assert gc.get_freeze_count() > 0
        assert not any(o is mine for o in gc.get_objects())
    finally:
        gc.unfreeze()


def test_an_error_inside_still_restores():
    before = gc.get_threshold()
    try:
        with fewer_gc_passes():
            raise RuntimeError("walk failed")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
