"""DuckDB query → polars DataFrame through Arrow (one copy, works on read-only connections)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import polars as pl

__all__ = ["frame"]


def frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None
) -> pl.DataFrame:
    result = pl.from_arrow(con.sql(sql, params=list(params) if params else None).to_arrow_table())
    assert isinstance(result, pl.DataFrame)
    return result
