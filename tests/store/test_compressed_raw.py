"""The raw-JSON compression migration: a store written before it comes out with every row,
every raw record and every analysis result exactly as it went in, and smaller."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ciwb.analytics import failure_rates, phase_breakdown, projects_overview
from ciwb.demo import DemoConfig, generate, history_batches
from ciwb.store import MIGRATIONS, connect, table_fingerprints, write_batch
from ciwb.store.derived import DERIVED
from ciwb.store.migrations import compress_raw_json
from support.old_stores import demo_store_at

COMPRESSION = next(m for m in MIGRATIONS if m.apply is compress_raw_json).version
RAW_TABLES = ("builds", "build_batches", "projects", "reports", "test_cases")


def _fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    """Per table: rows and an order-independent hash of every row, raw JSON included."""
    return table_fingerprints(con, exclude=("schema_migrations",), logical=True)


def _results(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    facts = con.sql("SELECT * FROM build_facts ORDER BY build_arn").pl()
    return {
        "build_facts": facts,
        "phase_breakdown": phase_breakdown(con),
        "projects_overview": projects_overview(con),
        "failure_rates": failure_rates(con),
    }


def _raw_compression(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT compression FROM pragma_storage_info('{table}')"
            " WHERE column_name = 'raw' AND segment_type <> 'VALIDITY'"
        ).fetchall()
    }


def _used_blocks(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT used_blocks FROM pragma_database_size()").fetchall()[0][0]


@pytest.fixture(scope="module")
def old_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo history written by the store as it was just before the migration."""
    return demo_store_at(tmp_path_factory.mktemp("old") / "old.duckdb", COMPRESSION - 1, seed=3)


def _without_compression(
    old: Path, scratch: Path
) -> tuple[dict[str, tuple[int, int]], dict[str, pl.DataFrame]]:
    """Rows and analyses of a copy given every later migration but this one: the analyses
    read the latest schema, so that copy is the store as it would be uncompressed."""
    db = scratch / "uncompressed.duckdb"
    db.write_bytes(old.read_bytes())
    con = duckdb.connect(str(db))
    for migration in MIGRATIONS:
        if migration.version > COMPRESSION:
            migration.run(con)
    rows, results = _fingerprints(con), _results(con)
    con.close()
    return rows, results


def test_upgrade_keeps_every_row_and_result(old_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    db.write_bytes(old_store.read_bytes())
    before, results_before = _without_compression(old_store, tmp_path)
    con = duckdb.connect(str(db))
    assert before["builds"][0] >= 1_500
    assert "ZSTD" not in _raw_compression(con, "builds")
    used_before = _used_blocks(con)
    con.close()

    with connect(db) as con:  # a writer brings the file up to date in place
        assert _fingerprints(con) == before
        results_after = _results(con)
        for name, frame in results_before.items():
            # rows that tie on the functions' sort keys may come back in either order
            assert_frame_equal(
                results_after[name].sort(pl.all()), frame.sort(pl.all()), check_exact=True
            )
        con.execute("CHECKPOINT")
        for table in RAW_TABLES:
            assert _raw_compression(con, table) == {"ZSTD"}, table
        # DuckDB keeps a file's freed blocks for reuse rather than shrinking it, so what
        # shrinks in place is the space the rows occupy.
        assert _used_blocks(con) < used_before


def test_upgraded_store_keeps_its_keys_and_compression(old_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    db.write_bytes(old_store.read_bytes())
    with connect(db) as con:
        before = _fingerprints(con)
        arn, raw = con.execute("SELECT build_arn, raw FROM builds LIMIT 1").fetchall()[0]
        with pytest.raises(duckdb.ConstraintException):
            con.execute(
                f"INSERT INTO builds SELECT * EXCLUDE ({', '.join(DERIVED['builds'])})"
                " FROM builds WHERE build_arn = ?",
                [arn],
            )
    # Writing the same history again replaces rows by key: nothing is duplicated.
    with connect(db) as con:
        for batch in history_batches(generate(DemoConfig(builds=1_500, seed=3))):
            write_batch(con, batch)
        after = _fingerprints(con)
        assert {t: n for t, (n, _) in after.items()} == {t: n for t, (n, _) in before.items()}
        assert con.execute("SELECT raw FROM builds WHERE build_arn = ?", [arn]).fetchall() == [
            (raw,)
        ]
    with connect(db, read_only=True) as con:
        for table in RAW_TABLES:
            assert _raw_compression(con, table) == {"ZSTD"}, table


def test_a_new_store_compresses_raw_from_the_start(db_path: Path) -> None:
    with connect(db_path) as con:
        for batch in history_batches(generate(DemoConfig(builds=300, seed=5))):
            write_batch(con, batch)
    with connect(db_path, read_only=True) as con:
        ddl = con.execute("SELECT sql FROM duckdb_tables() WHERE table_name = 'builds'").fetchall()
        assert "raw JSON USING COMPRESSION ZSTD" in ddl[0][0]
        assert _raw_compression(con, "builds") == {"ZSTD"}
        assert con.execute("SELECT count(*) FROM builds WHERE raw IS NULL").fetchall() == [(0,)]
