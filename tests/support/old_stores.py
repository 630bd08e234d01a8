"""Stores at an older schema version, holding the rows the ciwb of that version wrote.

Upgrade tests migrate a file to the version before the migration under test and fill it with
a demo history. A later migration may have added columns (the phase facts on `builds`), so
today's writer cannot write to the old tables directly. The ciwb of that version computed
every column it had exactly as today's does, so the old store's rows are today's rows
without the new columns: the history is written by today's writer into a current store,
then copied table by table, by column name, into the old one.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ciwb.demo import DemoConfig, generate, history_batches
from ciwb.store import migrate, write_batch
from ciwb.store.compact import table_columns

__all__ = ["demo_store_at"]


def demo_store_at(db: Path, version: int, *, builds: int = 1_500, seed: int = 3) -> Path:
    """A seeded demo history in a new store at schema `version`."""
    today = db.with_name(db.stem + ".today.duckdb")
    con = duckdb.connect(str(today))
    try:
        migrate(con)
        for batch in history_batches(generate(DemoConfig(builds=builds, seed=seed))):
            write_batch(con, batch)
    finally:
        con.close()
    con = duckdb.connect(str(db))
    try:
        migrate(con, target=version)
        old = con.execute("SELECT current_database()").fetchall()[0][0]
        con.execute(f"ATTACH '{today}' AS today (READ_ONLY)")
        tables = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ?"
            " AND table_name <> 'schema_migrations'",
            [old],
        ).fetchall()
        for (table,) in tables:
            cols = ", ".join(f'"{c}"' for c in table_columns(con, old, table))
            con.execute(f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM today."{table}"')
        con.execute("DETACH today")
    finally:
        con.close()
    today.unlink()
    return db
