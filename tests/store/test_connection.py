from __future__ import annotations

import duckdb
import pytest

from ciwb.errors import StoreCorruptError, StoreTooNewError
from ciwb.store import LATEST_VERSION, MIGRATIONS, connect, migrate, schema_version


def test_empty_file_is_migrated_to_latest(db_path):
    with connect(db_path) as con:
        assert schema_version(con) == LATEST_VERSION
        rows = con.execute(
            "SELECT version, name FROM schema_migrations ORDER BY version"
        ).fetchall()
    assert [r[0] for r in rows] == [m.version for m in MIGRATIONS]
    expected = {
        "projects",
        "builds",
        "build_phases",
        "build_commands",
        "build_metrics",
        "build_batches",
        "reports",
        "test_cases",
        "prices",
        "experiments",
        "experiment_runs",
        "collect_runs",
        "schema_migrations",
    }
    with connect(db_path, read_only=True) as con:
        names = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
    assert expected <= names
    assert "build_facts" in names


def test_previous_version_is_upgraded_in_place_keeping_rows(db_path):
    con = duckdb.connect(str(db_path))
    migrate(con, target=LATEST_VERSION - 1)
    con.execute(
        "INSERT INTO builds (build_arn, build_id, account_id, region, project_name, origin, status,"
        " build_complete, arch, ingested_at) VALUES ('arn:aws:codebuild:us-east-1:1:build/p:1',"
        " 'p:1', '1', 'us-east-1', 'p', 'aws', 'SUCCEEDED', true, 'x86_64', now())"
    )
    con.close()
    with connect(db_path) as con:
        assert schema_version(con) == LATEST_VERSION
        assert con.execute("SELECT project_name FROM build_facts").fetchall() == [("p",)]


def test_newer_schema_is_refused_with_a_clear_error(db_path):
    with connect(db_path) as con:
        con.execute("INSERT INTO schema_migrations VALUES (999, 'future', now(), '9.9')")
    with pytest.raises(StoreTooNewError, match="newer ciwb"):
        with connect(db_path, read_only=True):
            pass


def test_corrupt_file_is_refused(tmp_path):
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(b"this is not duckdb" * 100)
    with pytest.raises(StoreCorruptError, match="not a readable DuckDB file"):
        with connect(bad):
            pass


def test_threads_opening_the_store_at_once_can_all_write(db_path):
    """Concurrent collect walks open and close the store on several threads. A transaction
    begun on a connection opened while another thread's opening was still creating the
    database must still find DuckDB's Python scan (behind every Arrow write): without the
    opening lock, ~1 in 25 of these writes failed with "Table Function with name
    python_arrow_scan does not exist" (and once, a concurrent collect's writer)."""
    import threading

    import pyarrow as pa

    from ciwb.store.connection import _open

    with connect(db_path):
        pass
    errors: list[str] = []
    rows = pa.table({"a": [1, 2, 3]})

    def worker() -> None:
        for _ in range(300):
            con = _open(db_path, False, 10.0)  # what connect() opens, before its checks
            try:
                con.execute("BEGIN TRANSACTION")
                con.register("_rows", rows)
                con.execute("SELECT count(*) FROM _rows").fetchall()
                con.unregister("_rows")
                con.execute("COMMIT")
            except duckdb.Error as exc:
                errors.append(str(exc).splitlines()[0])
            finally:
                con.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_store_connections_draw_no_duckdb_progress_bar(db_path):
    # a long migration or scan under `ciwb collect` would print DuckDB's text bars through
    # ciwb's own progress display (and into cron logs)
    for read_only in (False, True):
        with connect(db_path, read_only=read_only) as con:
            setting = con.execute("SELECT current_setting('enable_progress_bar')").fetchall()
            assert setting == [(False,)], read_only
