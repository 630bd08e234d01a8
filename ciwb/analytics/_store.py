"""How analytics read the store: one read-only connection, shared build filters.

Every analytics function takes either a DB path (opened read-only for the duration of
the call, so a notebook never blocks a scheduled collect — docs/design.md, "The store") or an
already-open DuckDB connection, plus the same optional filters.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb
import polars as pl

from ciwb.codebuild.clock import parse_when
from ciwb.store import connect

DbLike = str | os.PathLike[str] | duckdb.DuckDBPyConnection | None
TimeLike = str | date | datetime | None

# Phases a build spends waiting for CodeBuild rather than running its own commands.
WAIT_PHASES = ("SUBMITTED", "QUEUED", "PROVISIONING")


@contextmanager
def reading(db: DbLike) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a connection: the caller's own, or a read-only one opened for this call."""
    if isinstance(db, duckdb.DuckDBPyConnection):
        yield db
        return
    with connect(db, read_only=True) as con:
        yield con


@dataclass(frozen=True)
class BuildFilter:
    """Which builds an analysis looks at. `until` is exclusive; None means no bound."""

    since: TimeLike = None
    until: TimeLike = None
    projects: Sequence[str] | str | None = None
    region: str | None = None

    def sql(self, alias: str = "b") -> tuple[str, list[Any]]:
        """A `WHERE`-ready predicate over a builds-like relation and its parameters."""
        clauses: list[str] = ["TRUE"]
        params: list[Any] = []
        since = parse_when(self.since)
        until = parse_when(self.until)
        if since is not None:
            clauses.append(f"{alias}.start_time >= ?")
            params.append(since)
        if until is not None:
            clauses.append(f"{alias}.start_time < ?")
            params.append(until)
        projects = [self.projects] if isinstance(self.projects, str) else self.projects
        if projects:
            clauses.append(f"{alias}.project_name IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(projects))
        if self.region:
            clauses.append(f"{alias}.region = ?")
            params.append(self.region)
        return " AND ".join(clauses), params


def query(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> pl.DataFrame:
    """Run SQL and return a polars frame."""
    with warnings.catch_warnings():
        # DuckDB warns that Arrow from a DB-API result copies once; con.sql() would avoid
        # it but refuses to run while a caller's execute() result is still open.
        warnings.simplefilter("ignore", UserWarning)
        frame = pl.from_arrow(con.execute(sql, list(params)).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame
