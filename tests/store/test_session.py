"""`shared_reading`: one read-only connection for every reader of the store inside a block."""

from __future__ import annotations

import duckdb
import pytest

from ciwb.store import connect, reading
from ciwb.store.session import reuse, shared_reading


@pytest.fixture()
def store(tmp_path):
    path = tmp_path / "s.duckdb"
    with connect(path) as con:
        con.execute("CREATE TABLE t AS SELECT range AS x FROM range(5)")
    return path


def test_readers_inside_a_block_share_one_connection_and_its_temp_tables(store):
    with shared_reading(store) as con:
        con.execute("CREATE TEMP TABLE kept AS SELECT 42 AS answer")
        with reading(store) as first:
            assert first is con
            assert first.execute("SELECT answer FROM kept").fetchall() == [(42,)]
        with reading(str(store)) as second:  # the same store, however it is named
            assert second is con
    with reading(store) as outside:  # after the block: a connection of its own again
        assert outside is not con
        with pytest.raises(duckdb.CatalogException):
            outside.execute("SELECT * FROM kept")


def test_a_reader_inside_a_reader_gets_its_own_connection(store):
    with shared_reading(store) as con, reading(store) as outer:
        assert outer is con
        pending = outer.execute("SELECT x FROM t ORDER BY x")
        assert pending.fetchone() == (0,)
        with reading(store) as inner:  # would otherwise discard the outer's open result
            assert inner is not con
            assert inner.execute("SELECT count(*) FROM t").fetchall() == [(5,)]
        assert pending.fetchone() == (1,)


def test_a_result_left_unfinished_does_not_stop_the_next_reader(store, tmp_path):
    from ciwb.store import fetch_frame

    with shared_reading(store):
        with reading(store) as con:
            assert con.execute("SELECT x FROM t ORDER BY x").fetchone() == (0,)
        assert fetch_frame(store, "SELECT count(*) AS n FROM t")["n"].to_list() == [5]


def test_reuse_computes_once_per_block_and_every_time_outside(store):
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    with connect(store, read_only=True) as own:
        assert reuse(own, "k", compute) == 1 and reuse(own, "k", compute) == 2
    calls.clear()
    with shared_reading(store) as con:
        assert [reuse(con, "k", compute) for _ in range(3)] == [1, 1, 1]
        assert reuse(con, "other", compute) == 2
    with shared_reading(store) as con:  # a new block reads afresh
        assert reuse(con, "k", compute) == 3
