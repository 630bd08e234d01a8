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

__all__ = ["CompactResult", "compact", "table_fingerprints"]


@dataclass(frozen=True)
class CompactResult:
    path: Path
    bytes_before: int
    bytes_after: int


def table_fingerprints(
    con: duckdb.DuckDBPyConnection, catalog: str | None = None, *, exclude: tuple[str, ...] = ()
) -> dict[str, tuple[int, int]]:
    """Per table of `catalog` (the connection's own by default): rows and an
    order-independent hash of every row. Two stores with equal fingerprints hold the same
    rows."""
    if catalog is None:
        catalog = con.execute("SELECT current_database()").fetchall()[0][0]
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND NOT temporary"
        " ORDER BY 1",
        [catalog],
    ).fetchall()
    return {
        t: con.execute(
            f'SELECT count(*), coalesce(sum(hash(x)), 0) FROM "{catalog}"."{t}" x'
        ).fetchall()[0]
        for (t,) in tables
        if t not in exclude
    }


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
