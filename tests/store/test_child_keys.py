"""Migration 9 (child tables without ART primary keys) and `ciwb db compact`: a store written
before it comes out with every row and every analysis result as it went in, its parents'
keys still enforced, its child keys kept by the writer, and — once compacted — smaller."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from ciwb.analytics import failure_rates, phase_breakdown, projects_overview
from ciwb.cli import app
from ciwb.demo import DemoConfig, generate, history_batches
from ciwb.store import MIGRATIONS, compact, connect, table_fingerprints, write_batch
from ciwb.store.derived import DERIVED
from ciwb.store.migrations import drop_child_keys
from ciwb.store.writes import TABLE_KEYS, WRITER_KEYED
from support.old_stores import demo_store_at

DROP_KEYS = next(m for m in MIGRATIONS if m.apply is drop_child_keys).version


def _fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    """Per table: rows and an order-independent hash of every row, raw JSON included."""
    return table_fingerprints(con, exclude=("schema_migrations",), logical=True)


def _results(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    return {
        "build_facts": con.sql("SELECT * FROM build_facts").pl(),
        "phases": con.sql("SELECT * FROM build_phases").pl(),
        "phase_breakdown": phase_breakdown(con),
        "projects_overview": projects_overview(con),
        "failure_rates": failure_rates(con),
    }


def _same_results(after: dict[str, pl.DataFrame], before: dict[str, pl.DataFrame]) -> None:
    for name, frame in before.items():
        # rows that tie on the functions' sort keys may come back in either order
        assert_frame_equal(after[name].sort(pl.all()), frame.sort(pl.all()), check_exact=True)


def _primary_keys(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'"
            " AND database_name = current_database()"
        ).fetchall()
    }


def _ddl(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute(
        "SELECT table_name, sql FROM duckdb_tables() WHERE database_name = current_database()"
        " UNION ALL SELECT view_name, sql FROM duckdb_views()"
        " WHERE database_name = current_database() AND NOT internal"
    ).fetchall()
    return dict(rows)


@pytest.fixture(scope="module")
def old_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo history written by the store as it was just before the migration."""
    return demo_store_at(tmp_path_factory.mktemp("old") / "old.duckdb", DROP_KEYS - 1, seed=3)


def test_upgrade_keeps_every_row_and_result_and_the_parents_keys(
    old_store: Path, tmp_path: Path
) -> None:
    db = tmp_path / "store.duckdb"
    db.write_bytes(old_store.read_bytes())
    con = duckdb.connect(str(db))
    before, results_before = _fingerprints(con), _results(con)
    keyed_before = _primary_keys(con)
    assert WRITER_KEYED <= keyed_before
    assert before["build_phases"][0] > before["builds"][0] >= 1_500
    con.close()

    with connect(db) as con:  # a writer brings the file up to date in place
        assert _fingerprints(con) == before
        _same_results(_results(con), results_before)
        assert _primary_keys(con) == keyed_before - WRITER_KEYED
        arn = con.execute("SELECT build_arn FROM builds LIMIT 1").fetchall()[0][0]
        with pytest.raises(duckdb.ConstraintException):
            con.execute(
                f"INSERT INTO builds SELECT * EXCLUDE ({', '.join(DERIVED['builds'])})"
                " FROM builds WHERE build_arn = ?",
                [arn],
            )
        for table in WRITER_KEYED:  # key columns still refuse NULL
            for column in TABLE_KEYS[table][0]:
                nullable = con.execute(
                    "SELECT is_nullable FROM duckdb_columns()"
                    " WHERE table_name = ? AND column_name = ?",
                    [table, column],
                ).fetchall()
                assert nullable == [(False,)], (table, column)
                if before[table][0]:
                    with pytest.raises(duckdb.ConstraintException):
                        con.execute(f"UPDATE {table} SET {column} = NULL")
        ddl = con.execute("SELECT sql FROM duckdb_tables() WHERE table_name = 'test_cases'")
        assert "raw JSON USING COMPRESSION ZSTD" in ddl.fetchall()[0][0]

    # Writing the same history again replaces rows by key: nothing is duplicated.
    with connect(db) as con:
        for batch in history_batches(generate(DemoConfig(builds=1_500, seed=3))):
            write_batch(con, batch)
        after = _fingerprints(con)
        assert {t: n for t, (n, _) in after.items()} == {t: n for t, (n, _) in before.items()}
        for table in WRITER_KEYED:
            key = ", ".join(TABLE_KEYS[table][0])
            distinct = con.execute(f"SELECT count(DISTINCT ({key})) FROM {table}").fetchall()
            assert distinct == [(after[table][0],)], table


def test_compact_gives_back_the_freed_blocks_and_keeps_everything(
    old_store: Path, tmp_path: Path
) -> None:
    db = tmp_path / "store.duckdb"
    db.write_bytes(old_store.read_bytes())
    with connect(db) as con:  # upgraded in place: the rebuilt tables' old blocks stay free
        before, results_before, ddl_before = _fingerprints(con), _results(con), _ddl(con)
    upgraded = db.stat().st_size

    result = CliRunner().invoke(app, ["db", "compact", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "MB" in result.output
    assert db.stat().st_size < upgraded
    assert not list(tmp_path.glob("*.compact*"))
    with connect(db, read_only=True) as con:
        assert _fingerprints(con) == before
        _same_results(_results(con), results_before)
        assert _ddl(con) == ddl_before  # keys, NOT NULL, column compression, views
        free = con.execute("SELECT free_blocks FROM pragma_database_size()").fetchall()[0][0]
        assert free == 0
    again = compact(db)  # nothing more to give back
    assert again.bytes_before == again.bytes_after == db.stat().st_size


def test_a_new_store_has_no_child_keys(db_path: Path) -> None:
    with connect(db_path) as con:
        assert _primary_keys(con).isdisjoint(WRITER_KEYED)
        assert "builds" in _primary_keys(con)
