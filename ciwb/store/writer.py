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
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from ciwb.codebuild.normalise import NormalisedBatch
from ciwb.store.connection import connect
from ciwb.store.writes import RawSource, raw_source, write_batch

__all__ = ["BackgroundWriter", "StoreWriter", "write_batches"]

_NOTHING = object()
T = TypeVar("T")


# Rows of one DuckDB row group (its default `row_group_size`). A commit checkpoints the
# file and rewrites the table's last, partly filled row group whole, raw JSON included:
# committed every 50,000 builds, each build was compressed twice over (a third of a bulk
# write, issue 16). Rows that fill a row group inside a transaction go to the file once.
_ROW_GROUP_ROWS = 122_880


def write_batches(
    con: Any,
    batches: Iterable[NormalisedBatch],
    written: Callable[[NormalisedBatch, dict[str, int]], None] | None = None,
) -> dict[str, int]:
    """`write_batch` each batch of `batches` in order while the next one is being built;
    returns the rows written per table. For bulk loads (`ciwb demo`).

    Building a batch (normalising records, in Python) and writing one (DuckDB, which lets go
    of the GIL while a statement runs) took turns on one thread; here the batches are drawn
    from `batches` on the calling thread while the one before is written on another, so the
    two cores work at once. One batch is written at a time and in order, and consecutive
    batches share a transaction until it holds a row group's worth of builds
    (`_ROW_GROUP_ROWS`), so what is committed is always a prefix of `batches`: a failure to
    build a batch (raised here, as the caller would see it) comes after everything built
    before it is committed; a failed write rolls back its transaction's batches and stops the
    drawing of batches. `written(batch, rows)` is called on the calling thread for each
    batch once it is committed (progress).
    """
    totals: Counter[str] = Counter()
    uncommitted: list[tuple[NormalisedBatch, dict[str, int]]] = []
    # the open transaction, touched only by whichever thread is writing (one at a time)
    txn = {"open": False, "builds": 0}

    def write(batch: NormalisedBatch, raw: RawSource | None) -> tuple[dict[str, int], bool]:
        """On the writer thread: the batch, then the commit if a row group is full."""
        if not txn["open"]:
            con.execute("BEGIN TRANSACTION")
            txn["open"], txn["builds"] = True, 0
        try:
            rows = write_batch(con, batch, transaction=False, raw=raw)
            txn["builds"] += batch.build_count()
            if txn["builds"] < _ROW_GROUP_ROWS:
                return rows, False
            txn["open"] = False
            con.execute("COMMIT")
            return rows, True
        except BaseException:
            if txn["open"]:
                txn["open"] = False
                con.execute("ROLLBACK")
            raise

    def committed() -> None:
        done, uncommitted[:] = list(uncommitted), []
        for batch, rows in done:
            totals.update(rows)
            if written is not None:
                written(batch, rows)

    with ThreadPoolExecutor(1, thread_name_prefix="ciwb-store-write") as pool:
        pending: tuple[NormalisedBatch, Future[tuple[dict[str, int], bool]]] | None = None

        def finish() -> None:
            nonlocal pending
            if pending is not None:
                batch, future = pending
                pending = None
                rows, done = future.result()
                uncommitted.append((batch, rows))
                if done:
                    committed()

        try:
            for batch in batches:
                # Its raw builds' Arrow table (one copy of ~200 MB of JSON per 50,000
                # builds) is built here too, while the writer is in DuckDB: on the writer
                # thread it held up every write (issue 16).
                raw = raw_source(batch.raw_builds) if batch.raw_builds else None
                finish()
                pending = (batch, pool.submit(write, batch, raw))
        finally:
            # whatever stopped the drawing, the batch in flight is written (or fails) first,
            # then what was written is committed
            try:
                finish()
            finally:
                if txn["open"]:
                    txn["open"] = False
                    con.execute("COMMIT")
                    committed()
    return dict(totals)


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

    def _connection(self) -> Any:
        if self._con is None:
            self._ctx = connect(self.db)
            self._con = self._ctx.__enter__()
            self._opened = time.monotonic()
        return self._con

    def _done(self) -> None:
        if time.monotonic() - self._opened >= self.hold_s:
            self.close()

    def __call__(self, batch: NormalisedBatch, extra: Mapping[str, Sequence[NamedTuple]]) -> None:
        for table, count in write_batch(self._connection(), batch, extra).items():
            self.rows[table] += count
        self._done()

    def run(self, work: Callable[[Any], T]) -> T:
        """`work(connection)` on this writer's connection (its own statements, its own
        transaction if it needs one); returns what `work` returns."""
        try:
            return work(self._connection())
        finally:
            self._done()

    def close(self) -> None:
        if self._ctx is not None:
            ctx, self._ctx, self._con = self._ctx, None, None
            ctx.__exit__(None, None, None)


class _Work:
    """`BackgroundWriter.run`'s call, done by the writer thread in queue order."""

    def __init__(self, work: Callable[[Any], Any]) -> None:
        self.work = work
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


def _parents(batch: NormalisedBatch) -> set[str]:
    """The keys whose child rows a write replaces wholesale (phases, commands, groups, cases)."""
    return (
        {r.arn for r in batch.raw_builds}
        | {b.build_arn for b in batch.builds}
        | {c.build_arn for c in batch.build_commands}
        | {b.batch_arn for b in batch.build_batches}
        | {r.report_arn for r in batch.reports}
    )


class BackgroundWriter:
    """A `StoreWriter` on its own thread, so fetching the next page overlaps writing this one.

    Batches are written in the order given, each in one transaction with the cursors it
    completes (batches queued back to back share one, see `_group`), so the kill-safety
    argument is unchanged: whatever was queued but not yet
    committed when the process dies is simply fetched again by the next run. At most
    `depth` batches wait in memory. `drain()` waits until everything queued is committed
    (before a stage reads the store) and re-raises a write error in the caller's thread.

    Several threads may write through one writer (concurrent collect walks). `sync()` waits
    only for what the calling thread queued before it, so one walk reading the store does
    not wait on the others. After a failed write every later batch is dropped, whoever
    queued it: what commits is always a prefix of the queue, so no cursor is ever committed
    without the builds queued before it.
    """

    def __init__(self, db: Path | str | None, depth: int = 4) -> None:
        self._writer = StoreWriter(db)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._failed = False
        # An item taken from the queue that starts the next group. `_NOTHING`, not None:
        # None is the close sentinel, and a held sentinel must still end the thread.
        self._held: Any = _NOTHING
        self._markers: list[threading.Event] = []  # sync() markers taken into the group
        self._works: list[_Work] = []  # run() calls taken into the group, done after it
        self._group_max = max(1, depth)
        self._thread = threading.Thread(target=self._run, name="ciwb-store-writer", daemon=True)
        self._thread.start()

    @property
    def rows(self) -> Counter[str]:
        return self._writer.rows

    def _take(self) -> Any:
        if self._held is not _NOTHING:
            item, self._held = self._held, _NOTHING
            return item
        return self._queue.get(timeout=self._writer.hold_s)

    def _group(self, first: tuple[NormalisedBatch, Mapping[str, Sequence[NamedTuple]]]) -> int:
        """Write `first` with the batches queued right behind it, in one transaction.

        With many walks writing, one commit per batch makes the writer the bottleneck; a
        group of consecutive batches committed together is the same as committing them one
        by one (upserts in queue order, the last record of a key wins) and still all or
        nothing, so what is committed stays a prefix of the queue. A batch whose builds,
        batches or reports are already in the group (child rows are replaced per parent)
        starts the next group instead. If the group fails, its batches are written one by one
        so that the batches before the failing one commit, as without grouping.

        A `sync()` marker met on the way joins the group and is set once the group is
        committed (or has failed): everything queued before it is then committed, which is
        all it promises; a `run()` call met on the way is done then too. Ending the group
        there instead made every syncing walk cut the others' groups short: with 16 walks,
        commits of one or two batches each. Returns how many queue items the group took.
        """
        items = [first]
        markers, works = self._markers, self._works
        parents = _parents(first[0])
        while len(items) < self._group_max:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, threading.Event):
                markers.append(item)
                continue
            if isinstance(item, _Work):
                works.append(item)
                continue
            if item is None or parents & _parents(item[0]):
                self._held = item
                break
            items.append(item)
            parents |= _parents(item[0])
        try:
            if len(items) == 1:
                self._writer(*first)
                return 1
            batch, extra = NormalisedBatch(), {}
            for part, part_extra in items:
                batch.extend(part)
                for table, rows in part_extra.items():
                    extra.setdefault(table, []).extend(rows)
            try:
                self._writer(batch, extra)
            except Exception:
                # rolled back: commit the batches before the bad one, then fail on it
                for item in items:
                    self._writer(*item)
            return len(items)
        finally:
            for _ in range(len(items) - 1):
                self._queue.task_done()

    def _run(self) -> None:
        while True:
            try:
                item = self._take()
            except queue.Empty:
                self._writer.close()  # idle: do not hold the file while we wait on AWS
                continue
            try:
                if item is None:
                    return
                if isinstance(item, threading.Event):
                    item.set()  # a sync() marker: everything queued before it is committed
                elif isinstance(item, _Work):
                    self._do(item)
                elif not self._failed:
                    self._group(item)
            except BaseException as exc:  # surfaced by the next call or drain()
                self._error, self._failed = exc, True
            finally:
                # the group's sync() markers, set once a failure is recorded for them to see
                while self._markers:
                    self._markers.pop(0).set()
                    self._queue.task_done()
                while self._works:
                    self._do(self._works.pop(0))
                    self._queue.task_done()
                self._queue.task_done()

    def _do(self, item: _Work) -> None:
        try:  # its failure is its caller's, not a failed write
            item.result = self._writer.run(item.work)
        except BaseException as exc:
            item.error = exc
        finally:
            item.done.set()

    def _check(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _check_open(self) -> None:
        # The failure is raised once (where it is first seen); any other thread still writing
        # learns its batches are being dropped.
        self._check()
        if self._failed:
            raise RuntimeError("the store writer failed earlier: this batch was not written")

    def __call__(self, batch: NormalisedBatch, extra: Mapping[str, Sequence[NamedTuple]]) -> None:
        self._check_open()
        self._queue.put((batch, extra))

    def drain(self) -> None:
        self._queue.join()
        self._check()

    def sync(self) -> None:
        """Wait until everything this thread queued so far is committed (or failed)."""
        self._check_open()
        done = threading.Event()
        self._queue.put(done)
        done.wait()
        self._check_open()

    def run(self, work: Callable[[Any], T]) -> T:
        """`work(connection)` on the writer's connection, once everything queued before it is
        committed (as `sync()`); returns its result or raises its error in the caller's thread.

        A collect's ledger rows go this way: a connection of their own cost an open, a schema
        check and a close (~60 ms of CPU when it is the only one open and DuckDB loads and
        checkpoints the file), while the writer's is usually open already. Not for reads on
        a walk's path: the wait for everyone's queued batches is longer than an open.
        """
        self._check_open()
        item = _Work(work)
        self._queue.put(item)
        item.done.wait()
        if item.error is not None:
            raise item.error
        return item.result  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._writer.close()
        self._check()
