"""How analytics and cost read the store: which builds (`Selection`), and SQL into polars.

Every reader takes either a DB path, opened read-only for the duration of the call so a
notebook never blocks a scheduled collect (docs/design.md, "The store"), or an already-open
DuckDB connection, plus one `Selection` saying which builds it looks at.

One object rather than the same four keyword arguments on every function: a notebook builds
it once and hands the same value to every cell (`analytics.phase_breakdown(db, sel)`), so
every table in a report provably covers the same builds, a span such as "30d" is resolved
once rather than per call, and a new filter is added here instead of in every signature.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb
import polars as pl

from ciwb.codebuild.clock import parse_when
from ciwb.errors import StoreError
from ciwb.store.connection import connect
from ciwb.store.session import shared_connection

__all__ = ["DbLike", "Selection", "TimeLike", "fetch_frame", "reading"]

DbLike = str | os.PathLike[str] | duckdb.DuckDBPyConnection | None
TimeLike = str | date | datetime | None


@contextmanager
def reading(db: DbLike) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a connection: the caller's own, or a read-only one opened for this call."""
    if isinstance(db, duckdb.DuckDBPyConnection):
        yield db
        return
    with shared_connection(db) as shared:  # inside a `shared_reading` block: its connection
        if shared is not None:
            yield shared
            return
    with connect(db, read_only=True) as con:
        yield con


@dataclass(frozen=True, init=False)
class Selection:
    """Which builds a reading covers: started in [since, until), of `projects`, in `region`.

    None means no bound. Built from what a user types: `since`/`until` take an ISO date or
    datetime (a time zone is converted to UTC, the store's clock), a `date`, a `datetime`,
    or a span back from `now` such as "30d", "12w" or "36h" — resolved once, here, so every
    call given the same selection sees the same window. `projects` are exact project names
    (a single string is one name). Frozen and hashable, so it can key a cache.
    """

    since: datetime | None
    until: datetime | None
    projects: tuple[str, ...] | None
    region: str | None

    def __init__(
        self,
        since: TimeLike = None,
        until: TimeLike = None,
        projects: Sequence[str] | str | None = None,
        region: str | None = None,
        *,
        now: datetime | None = None,
    ) -> None:
        names = (projects,) if isinstance(projects, str) else tuple(projects or ())
        object.__setattr__(self, "since", parse_when(since, now=now))
        object.__setattr__(self, "until", parse_when(until, now=now))
        object.__setattr__(self, "projects", names or None)
        object.__setattr__(self, "region", region or None)

    def where(self, alias: str = "b") -> tuple[str, list[Any]]:
        """A `WHERE`-ready predicate over a builds-like relation `alias`, and its parameters.

        The relation needs `start_time`, `project_name` and `region` columns (builds,
        build_facts and build_batches all have them); always valid SQL ("TRUE" if no bound).
        """
        clauses: list[str] = ["TRUE"]
        params: list[Any] = []
        if self.since is not None:
            clauses.append(f"{alias}.start_time >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append(f"{alias}.start_time < ?")
            params.append(self.until)
        if self.projects:
            clauses.append(f"{alias}.project_name IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(self.projects))
        if self.region:
            clauses.append(f"{alias}.region = ?")
            params.append(self.region)
        return " AND ".join(clauses), params


def fetch_frame(db: DbLike, sql: str, params: Sequence[Any] = ()) -> pl.DataFrame:
    """Run a read-only SQL query and return its rows as a polars frame.

    `db` is a path (opened read-only for this one query, see `reading`) or an open
    connection, such as the one a cost calculation keeps its temp tables on.

    `con.sql()` rather than `con.execute()`: the two old helpers disagreed here. Arrow from
    a DB-API `execute()` result copies every row once more (DuckDB warns), and `execute()`
    silently discards a result the caller's connection had not finished reading; `con.sql()`
    copies once and refuses instead of discarding. That refusal is the caller's to settle,
    so it becomes one clear error rather than either lost rows or a swallowed warning.
    """
    with reading(db) as con:
        try:
            result = con.sql(sql, params=list(params) or None).to_arrow_table()
        except duckdb.ResourceInUseException:
            raise StoreError(
                "this connection has an unfinished result from execute()",
                hint="fetch it to the end or call con.complete() first, or pass the DB path",
            ) from None
    frame = pl.from_arrow(result)
    assert isinstance(frame, pl.DataFrame)
    return frame
