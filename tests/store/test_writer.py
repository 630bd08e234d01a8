"""The collector's background store writer: order, drain, and errors in the caller."""

from __future__ import annotations

import pytest

from ciwb.codebuild.normalise import NormalisedBatch, normalise_project
from ciwb.store import connect
from ciwb.store.writer import BackgroundWriter
from support.queries import query as _q


def _project(name: str) -> NormalisedBatch:
    batch = NormalisedBatch()
    batch.projects.append(
        normalise_project(
            {"name": name, "arn": f"arn:aws:codebuild:us-east-1:123456789012:project/{name}"}
        )
    )
    return batch


def test_batches_are_committed_in_order_once_drained(db_path):
    writer = BackgroundWriter(db_path)
    for i in range(20):
        writer(_project(f"p{i:02d}"), {})
    writer.drain()
    assert writer.rows["projects"] == 20  # counted as each transaction commits
    writer.close()
    assert _q(db_path, "SELECT name FROM projects ORDER BY rowid") == [
        (f"p{i:02d}",) for i in range(20)
    ]


def test_a_failed_write_is_raised_in_the_callers_thread_and_later_batches_are_dropped(db_path):
    writer = BackgroundWriter(db_path)
    writer(_project("first"), {})
    writer(NormalisedBatch(), {"no_such_table": [("x",)]})
    writer(_project("after-the-failure"), {})
    with pytest.raises(KeyError, match="no_such_table"):
        writer.drain()
    writer.close()
    assert _q(db_path, "SELECT name FROM projects") == [("first",)]


def _held_writer(db_path, monkeypatch):
    """A writer whose first write waits for `release`, so later batches queue up behind it."""
    import threading

    from ciwb.store.writer import StoreWriter

    started, release = threading.Event(), threading.Event()
    calls: list[int] = []
    original = StoreWriter.__call__

    def call(self, batch, extra):
        calls.append(len(batch.projects))
        if len(calls) == 1:
            started.set()
            release.wait()
        return original(self, batch, extra)

    monkeypatch.setattr(StoreWriter, "__call__", call)
    writer = BackgroundWriter(db_path, depth=8)
    writer(_project("first"), {})
    started.wait()  # the writer is inside the first write: what follows queues behind it
    return writer, release, calls


def test_batches_queued_behind_a_write_commit_together_in_order(db_path, monkeypatch):
    writer, release, calls = _held_writer(db_path, monkeypatch)
    for i in range(5):
        writer(_project(f"p{i}"), {})
    release.set()
    writer.drain()
    writer.close()
    assert calls == [1, 5]  # the five queued batches went in as one transaction
    assert _q(db_path, "SELECT name FROM projects ORDER BY rowid") == [
        ("first",),
        *((f"p{i}",) for i in range(5)),
    ]


def test_a_failing_batch_in_a_group_still_lets_the_batches_before_it_commit(db_path, monkeypatch):
    writer, release, calls = _held_writer(db_path, monkeypatch)
    writer(_project("ok-1"), {})
    writer(_project("ok-2"), {})
    writer(NormalisedBatch(), {"no_such_table": [("x",)]})
    writer(_project("dropped"), {})
    release.set()
    with pytest.raises(KeyError, match="no_such_table"):
        writer.drain()
    writer.close()
    assert _q(db_path, "SELECT name FROM projects ORDER BY rowid") == [
        ("first",),
        ("ok-1",),
        ("ok-2",),
    ]


def test_sync_waits_for_the_callers_batches_while_other_threads_write(db_path):
    import threading

    writer = BackgroundWriter(db_path, depth=8)
    seen: dict[int, int] = {}

    def walk(n: int) -> None:
        for i in range(10):
            writer(_project(f"t{n}-{i:02d}"), {})
        writer.sync()
        with connect(db_path) as con:  # what this thread wrote is committed now
            seen[n] = con.execute(
                "SELECT count(*) FROM projects WHERE name LIKE ?", [f"t{n}-%"]
            ).fetchall()[0][0]

    threads = [threading.Thread(target=walk, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    assert seen == {n: 10 for n in range(4)}
    assert _q(db_path, "SELECT count(*) FROM projects") == [(40,)]


def _sync_in_thread(writer, queued: int):
    """Call `writer.sync()` on another thread once its marker is the `queued`-th item waiting;
    returns the thread and what sync() raised (filled in when it returns)."""
    import threading
    import time

    outcome: dict[str, BaseException | None] = {}

    def run() -> None:
        try:
            writer.sync()
            outcome["raised"] = None
        except BaseException as exc:
            outcome["raised"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    while writer._queue.qsize() < queued:
        time.sleep(0.005)
    return thread, outcome


def test_a_sync_between_queued_batches_joins_their_group_and_returns_once_committed(
    db_path, monkeypatch
):
    writer, release, calls = _held_writer(db_path, monkeypatch)
    writer(_project("p0"), {})
    writer(_project("p1"), {})
    thread, outcome = _sync_in_thread(writer, 3)  # p0, p1, then the marker
    writer(_project("p2"), {})
    writer(_project("p3"), {})
    release.set()
    thread.join(30)
    assert outcome == {"raised": None}
    with connect(db_path) as con:  # what was queued before the marker is committed now
        assert con.execute(
            "SELECT count(*) FROM projects WHERE name IN ('p0', 'p1')"
        ).fetchall() == [(2,)]
    writer.drain()
    writer.close()
    assert calls == [1, 4]  # the marker did not cut the group short


def test_a_sync_whose_group_fails_raises_the_failure(db_path, monkeypatch):
    writer, release, calls = _held_writer(db_path, monkeypatch)
    writer(NormalisedBatch(), {"no_such_table": [("x",)]})
    writer(_project("ok"), {})
    thread, outcome = _sync_in_thread(writer, 3)
    release.set()
    thread.join(30)
    assert isinstance(outcome["raised"], KeyError)  # seen by the thread that synced
    writer.close()
    assert _q(db_path, "SELECT name FROM projects") == [("first",)]


def test_write_batches_commits_in_order_and_reports_each_batch(db_path):
    from ciwb.store import write_batches

    seen: list[int] = []
    with connect(db_path) as con:
        rows = write_batches(
            con,
            (_project(f"p{i:02d}") for i in range(12)),
            lambda batch, written: seen.append(written["projects"]),
        )
    assert rows["projects"] == 12 and seen == [1] * 12
    assert _q(db_path, "SELECT name FROM projects ORDER BY rowid") == [
        (f"p{i:02d}",) for i in range(12)
    ]


def test_write_batches_a_failure_building_a_batch_comes_after_the_batches_before_it(db_path):
    # an import that fails on a bad file keeps what it read before, as when written one by one
    from ciwb.store import write_batches

    def batches():
        yield _project("first")
        yield _project("second")
        raise ValueError("bad.json line 3: not a Build")

    with connect(db_path) as con, pytest.raises(ValueError, match="bad.json line 3"):
        write_batches(con, batches())
    assert _q(db_path, "SELECT name FROM projects ORDER BY rowid") == [("first",), ("second",)]


def test_write_batches_stops_at_a_failed_write(db_path):
    from types import SimpleNamespace

    from ciwb.store import write_batches

    orphan = NormalisedBatch()
    orphan.build_phases.append(SimpleNamespace(build_arn="arn:not-in-the-batch"))  # type: ignore[arg-type]
    batches = [_project("first"), orphan, _project("after"), _project("later")]
    with connect(db_path) as con, pytest.raises(ValueError, match="not in the batch"):
        write_batches(con, iter(batches))
    # "first" shared the failed batch's transaction (batches commit a row group at a time)
    assert _q(db_path, "SELECT name FROM projects") == []


def _demo_batches(builds: int, chunk: int) -> list[NormalisedBatch]:
    from ciwb.demo import generate, history_batches

    # built once: a store loaded twice from the same batches holds the same ingested_at
    return list(history_batches(generate(builds=builds, seed=11), chunk=chunk))


def _fingerprints(db) -> dict[str, tuple[int, int]]:
    from ciwb.store import table_fingerprints

    with connect(db, read_only=True) as con:
        return table_fingerprints(con, exclude=("schema_migrations",), logical=True)


def test_write_batches_stores_what_writing_each_batch_alone_stores(tmp_path):
    """The bulk path (a batch's Arrow source built on the drawing thread, the raw records
    handed to DuckDB typed JSON, transactions a row group long) against `write_batch` one
    batch at a time: the same rows in every table, raw JSON included."""
    from ciwb.store import write_batch, write_batches

    batches = _demo_batches(900, 250)
    with connect(tmp_path / "one.duckdb") as con:
        for batch in batches:
            write_batch(con, batch)
    with connect(tmp_path / "bulk.duckdb") as con:
        write_batches(con, batches)
    assert _fingerprints(tmp_path / "bulk.duckdb") == _fingerprints(tmp_path / "one.duckdb")
    assert _q(
        tmp_path / "bulk.duckdb", "SELECT DISTINCT typeof(raw), json_valid(raw) FROM builds"
    ) == [("JSON", True)]


def test_write_batches_interrupted_then_rerun_stores_what_one_load_stores(tmp_path):
    from ciwb.store import write_batches

    batches = _demo_batches(900, 250)

    def interrupted():
        yield from batches[:2]
        raise KeyboardInterrupt

    with connect(tmp_path / "rerun.duckdb") as con, pytest.raises(KeyboardInterrupt):
        write_batches(con, interrupted())
    with connect(tmp_path / "rerun.duckdb") as con:
        write_batches(con, batches)
    with connect(tmp_path / "once.duckdb") as con:
        write_batches(con, batches)
    assert _fingerprints(tmp_path / "rerun.duckdb") == _fingerprints(tmp_path / "once.duckdb")
