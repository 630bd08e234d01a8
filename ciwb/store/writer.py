"""Writing normalised batches to the store while the collector keeps fetching.

`StoreWriter` writes each unit of work in its own transaction and holds the file only briefly;
`BackgroundWriter` runs one on its own thread. Both take the same call: a `NormalisedBatch`
and the extra rows (cursors, coverage) that must commit with it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ciwb.codebuild.normalise import NormalisedBatch
from ciwb.store.connection import connect
from ciwb.store.writes import write_batch

__all__ = ["BackgroundWriter", "StoreWriter"]


class StoreWriter:
    """Writes each unit of work in one transaction.

    The connection is reused for at most `hold_s` seconds and then closed, so the file is
    held for one short batch of work at a time (docs/design.md, "The store") without paying an
    open and checkpoint per 100 builds.
    """

    def __init__(self, db: Path | str | None, hold_s: float = 2.0) -> None:
        self.db = db
        self.hold_s = hold_s
        self.rows: Counter[str] = Counter()
        self._ctx: Any = None
        self._con: Any = None
        self._opened = 0.0

    def __call__(self, batch: NormalisedBatch, extra: Mapping[str, Sequence[NamedTuple]]) -> None:
        if self._con is None:
            self._ctx = connect(self.db)
            self._con = self._ctx.__enter__()
            self._opened = time.monotonic()
        for table, count in write_batch(self._con, batch, extra).items():
            self.rows[table] += count
        if time.monotonic() - self._opened >= self.hold_s:
            self.close()

    def close(self) -> None:
        if self._ctx is not None:
            ctx, self._ctx, self._con = self._ctx, None, None
            ctx.__exit__(None, None, None)


class BackgroundWriter:
    """A `StoreWriter` on its own thread, so fetching the next page overlaps writing this one.

    Batches are written in the order given, each in its own transaction (with the cursors it
    completes), so the kill-safety argument is unchanged: whatever was queued but not yet
    committed when the process dies is simply fetched again by the next run. At most
    `depth` batches wait in memory. `drain()` waits until everything queued is committed
    (before a stage reads the store) and re-raises a write error in the caller's thread.
    """

    def __init__(self, db: Path | str | None, depth: int = 4) -> None:
        self._writer = StoreWriter(db)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ciwb-store-writer", daemon=True)
        self._thread.start()

    @property
    def rows(self) -> Counter[str]:
        return self._writer.rows

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._writer.hold_s)
            except queue.Empty:
                self._writer.close()  # idle: do not hold the file while we wait on AWS
                continue
            try:
                if item is None:
                    return
                if self._error is None:
                    self._writer(*item)
            except BaseException as exc:  # surfaced by the next call or drain()
                self._error = exc
            finally:
                self._queue.task_done()

    def _check(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def __call__(self, batch: NormalisedBatch, extra: Mapping[str, Sequence[NamedTuple]]) -> None:
        self._check()
        self._queue.put((batch, extra))

    def drain(self) -> None:
        self._queue.join()
        self._check()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._writer.close()
        self._check()
