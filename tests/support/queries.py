"""Reading rows back from a store, as a user's notebook would."""

from __future__ import annotations

from typing import Any

import duckdb

__all__ = ["q", "query"]


def q(con: duckdb.DuckDBPyConnection, sql: str, *params: Any) -> list[tuple]:
    """Rows of `sql` on an open connection."""
    return con.execute(sql, list(params)).fetchall()


def query(db_path: Any, sql: str, *params: Any) -> list[tuple]:
    """Rows of `sql` from a store file, opened read-only for this one query."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return q(con, sql, *params)
    finally:
        con.close()
