"""Stores at an older schema version, written as the ciwb of that version wrote them.

Upgrade tests migrate a file to the version before the migration under test and fill it
through today's writer; a migration that adds columns to `builds` means today's build rows
carry columns the old table does not have. The ciwb of that version computed every column it
had exactly as today's does, so the old store's rows are today's rows without the new columns.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ciwb.codebuild.normalise import NormalisedBatch
from ciwb.demo import DemoConfig, generate, history_batches
from ciwb.store import migrate, write_batch, writes

__all__ = ["demo_store_at", "write_batch_at_schema"]


def write_batch_at_schema(con: duckdb.DuckDBPyConnection, batch: NormalisedBatch) -> None:
    """`write_batch`, writing to `builds` only the columns the store's `builds` table has."""
    columns = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database()"
            " AND schema_name = 'main' AND table_name = 'builds' ORDER BY column_index"
        ).fetchall()
    ]
    today = writes.build_rows_sql

    def old_rows_sql(parsed: str) -> str:
        return f"SELECT {', '.join(columns)} FROM ({today(parsed)})"

    writes.build_rows_sql = old_rows_sql
    try:
        write_batch(con, batch)
    finally:
        writes.build_rows_sql = today


def demo_store_at(db: Path, version: int, *, builds: int = 1_500, seed: int = 3) -> Path:
    """A seeded demo history in a new store at schema `version`, written as that ciwb did."""
    con = duckdb.connect(str(db))
    try:
        migrate(con, target=version)
        for batch in history_batches(generate(DemoConfig(builds=builds, seed=seed))):
            write_batch_at_schema(con, batch)
    finally:
        con.close()
    return db
