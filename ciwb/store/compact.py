"""Rewriting a store into a file of just its live blocks.

A DuckDB file never shrinks in place: blocks freed by deletes, rewritten row groups and
migrations that rebuild tables (7 and 9) are kept for reuse. `compact` copies the whole
database (tables with their keys and column compression, views, rows) into a fresh file
beside it, checks every table holds the same rows, and swaps the copy in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ciwb.errors import StoreError
from ciwb.store.connection import connect, resolve_db_path
from ciwb.store.derived import logical_columns

__all__ = ["CompactResult", "compact", "readable_columns", "table_columns", "table_fingerprints"]


@dataclass(frozen=True)
class CompactResult:
    path: Path
    bytes_before: int
    bytes_after: int


def table_fingerprints(
    con: duckdb.DuckDBPyConnection,
    catalog: str | None = None,
    *,
    exclude: tuple[str, ...] = (),
    logical: bool = False,
) -> dict[str, tuple[int, int]]:
    """Per table of `catalog` (the connection's own by default): rows and an
    order-independent hash of every row. Two stores with equal fingerprints hold the same
    rows.

    `logical`: hash the columns readers see, without the helpers the store keeps for its
    derived columns (ciwb.store.derived), so a store and a copy of what it reads back, or a
    store before and after migration 10, compare by content.
    """
    if catalog is None:
        catalog = con.execute("SELECT current_database()").fetchall()[0][0]
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND NOT temporary"
        " ORDER BY 1",
        [catalog],
    ).fetchall()
    out = {}
    for (t,) in tables:
        if t in exclude:
            continue
        source = f'"{catalog}"."{t}"'
        if logical:
            cols = ", ".join(f'"{c}"' for c in readable_columns(con, catalog, t))
            source = f"(SELECT {cols} FROM {source})"
        out[t] = con.execute(
            f"SELECT count(*), coalesce(sum(hash(x)), 0) FROM {source} x"
        ).fetchall()[0]
    return out


def table_columns(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> list[str]:
    """Every column of `table` in `catalog`, in order."""
    return [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = ?"
            " AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
            [catalog, table],
        ).fetchall()
    ]


def readable_columns(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> list[str]:
    """The columns of `table` readers see: every column but the derived ones' helpers."""
    return logical_columns(table, table_columns(con, catalog, table))


def compact(db: str | os.PathLike[str] | None = None) -> CompactResult:
    """Rewrite the store so its file holds only live data; returns the sizes before and after.

    The store is brought up to date first (a writer's open migrates it) and held locked
    while it is copied and checked. Run it while nothing else writes: the lock is released
    just before the swap, and a write landing in that moment would go to the old file.
    """
    path = resolve_db_path(db)
    if not path.is_file():
        raise StoreError(f"{path}: no such store", hint="run `ciwb demo` or `ciwb collect`")
    copy = path.with_name(path.name + ".compact")
    for stale in (copy, copy.with_name(copy.name + ".wal")):
        stale.unlink(missing_ok=True)
    before = path.stat().st_size
    try:
        with connect(path) as con:
            con.execute("CHECKPOINT")
            source = con.execute("SELECT current_database()").fetchall()[0][0]
            con.execute(f"ATTACH '{copy}' AS ciwb_compact")
            try:
                con.execute(f'COPY FROM DATABASE "{source}" TO ciwb_compact')
                con.execute("CHECKPOINT ciwb_compact")
                if table_fingerprints(con, "ciwb_compact") != table_fingerprints(con, source):
                    raise StoreError(f"{path}: the compacted copy differs; the store is unchanged")
            finally:
                con.execute("DETACH ciwb_compact")
        os.replace(copy, path)  # atomic: a reader sees the old file or the new one
    finally:
        copy.unlink(missing_ok=True)
    return CompactResult(path, before, path.stat().st_size)
