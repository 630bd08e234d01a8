"""One read-only connection shared by every reader of a store for a block of work.

A reader given a DB path opens its own connection for the call (`reading`), so whatever it
leaves on that connection — the costed-builds temp table, the fleets' inferred overflow — is
gone for the next call, and the next call computes it again. `ciwb report` computes every
report's findings and tables in one pass; inside `with shared_reading(path):` every
`reading(path)` gets the same connection, and `reuse(con, key, compute)` keeps a result that
depends only on the store (and the key) for the rest of the block. Outside such a block
nothing changes: each call opens, computes and closes as before.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import duckdb

__all__ = ["is_shared", "reuse", "shared_connection", "shared_reading"]

T = TypeVar("T")


@dataclass
class _Session:
    path: Path
    con: duckdb.DuckDBPyConnection
    results: dict[Hashable, Any] = field(default_factory=dict)
    depth: int = 0  # readers inside a reader get their own connection, as outside a block


_ACTIVE: ContextVar[_Session | None] = ContextVar("ciwb_shared_reading", default=None)


def _key(db: str | os.PathLike[str] | None) -> Path:
    from ciwb.store.connection import resolve_db_path

    return resolve_db_path(db).resolve()


@contextmanager
def shared_reading(db: str | os.PathLike[str] | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open `db` read-only once; every `reading(db)` inside the block yields that connection."""
    from ciwb.store.connection import connect

    path = _key(db)
    with connect(path, read_only=True) as con:
        token = _ACTIVE.set(_Session(path, con))
        try:
            yield con
        finally:
            _ACTIVE.reset(token)


@contextmanager
def shared_connection(
    db: str | os.PathLike[str] | None,
) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """The block's connection if `db` is the store a `shared_reading` block has open and no
    reader is using it; else None (the caller opens its own, as it would outside a block)."""
    session = _ACTIVE.get()
    if session is None or session.depth or _key(db) != session.path:
        yield None
        return
    # A reader that stopped at fetchone() left its result open; it is done with it (its call
    # returned), and the next reader's query would otherwise be refused.
    session.con.execute("SELECT 1").fetchall()
    session.depth += 1
    try:
        yield session.con
    finally:
        session.depth -= 1


def is_shared(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether `con` is a shared block's connection (what `reuse` keeps results for)."""
    session = _ACTIVE.get()
    return session is not None and session.con is con


def reuse(con: duckdb.DuckDBPyConnection, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, once per `key` while `con` is a shared block's connection; else every time.

    Only for results that depend on nothing but the store's content and the key (which the
    read-only block holds still)."""
    session = _ACTIVE.get()
    if session is None or session.con is not con:
        return compute()
    if key not in session.results:
        session.results[key] = compute()
    return session.results[key]
