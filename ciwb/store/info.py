"""What is in a store: tables, row counts, date range, schema version."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ciwb.store.connection import connect, resolve_db_path, schema_version

__all__ = ["StoreInfo", "TableInfo", "db_info"]


@dataclass(frozen=True)
class TableInfo:
    name: str
    rows: int


@dataclass(frozen=True)
class StoreInfo:
    path: Path
    size_bytes: int
    schema_version: int
    tables: list[TableInfo]
    first_build: datetime | None
    last_build: datetime | None
    builds_by_origin: dict[str, int]


def db_info(db: str | os.PathLike[str] | None = None) -> StoreInfo:
    """Read-only summary of the store."""
    path = resolve_db_path(db)
    with connect(path, read_only=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_type = 'BASE TABLE' ORDER BY table_name"
            ).fetchall()
        ]
        tables = [
            TableInfo(name, con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0])
            for name in names
        ]
        first, last = con.execute("SELECT min(start_time), max(start_time) FROM builds").fetchall()[
            0
        ]
        by_origin = dict(
            con.execute(
                "SELECT origin, count(*) FROM builds GROUP BY origin ORDER BY origin"
            ).fetchall()
        )
        version = schema_version(con)
    return StoreInfo(path, path.stat().st_size, version, tables, first, last, by_origin)
