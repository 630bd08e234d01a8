"""Connection discipline for the one DuckDB file.

A process holds the DB open only for one batch of work (docs/design.md, "The store").
DuckDB takes an exclusive file lock for a writer, so a reader opening while a
collect writes (or the other way round) gets an IOException; both sides retry with
backoff for a bounded time, then fail with one clear line.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ciwb import __version__
from ciwb.codebuild.clock import utcnow
from ciwb.errors import StoreCorruptError, StoreError, StoreLockedError, StoreTooNewError
from ciwb.store.migrations import LATEST_VERSION, MIGRATIONS

DB_NAME = "ciwb.duckdb"
# Where stores lived before they followed the platform's conventions: relative to the
# directory ciwb was started in, so each directory got its own. Still found and used.
LEGACY_DB = Path("data") / DB_NAME
_LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "lock on file")
_noticed: set[Path] = set()


def ciwb_home() -> Path:
    """ciwb's own directory: `$CIWB_HOME`, else the user data directory (platformdirs).

    Linux: ~/.local/share/ciwb (or $XDG_DATA_HOME/ciwb); macOS: ~/Library/Application
    Support/ciwb; Windows: %LOCALAPPDATA%\\ciwb.
    """
    env = os.environ.get("CIWB_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("ciwb", appauthor=False)


def default_db_path() -> Path:
    """The store used when neither --db nor $CIWB_DB names one: `ciwb_home()/ciwb.duckdb`."""
    return ciwb_home() / DB_NAME


def resolve_db_path(db: str | os.PathLike[str] | None = None) -> Path:
    """`--db` wins, then `$CIWB_DB`, then `$CIWB_HOME/ciwb.duckdb`, then the user data dir.

    Without --db, $CIWB_DB or $CIWB_HOME, a store at the old default (data/ciwb.duckdb in the
    current directory) is used if it exists, with a one-line notice on stderr.
    """
    if db:
        return Path(db).expanduser()
    env = os.environ.get("CIWB_DB")
    if env:
        return Path(env).expanduser()
    if not os.environ.get("CIWB_HOME") and LEGACY_DB.is_file():
        legacy = LEGACY_DB.resolve()
        if legacy not in _noticed:
            _noticed.add(legacy)
            sys.stderr.write(
                f"ciwb: using the store at {legacy} (the old default location); "
                f"set CIWB_DB or move it to {default_db_path()}\n"
            )
        return LEGACY_DB
    return default_db_path()


def replays_dir(db: str | os.PathLike[str] | None = None) -> Path:
    """Where replays go by default: `replays/` next to the store."""
    return resolve_db_path(db).absolute().parent / "replays"


def default_lock_timeout() -> float:
    """How long to wait for another process's lock: $CIWB_LOCK_TIMEOUT seconds, else 30."""
    try:
        return float(os.environ.get("CIWB_LOCK_TIMEOUT", "30"))
    except ValueError:
        return 30.0


def _is_lock_error(exc: BaseException) -> bool:
    return any(marker in str(exc) for marker in _LOCK_MARKERS)


# One thread at a time in duckdb.connect. The first connection to a file creates its database
# and then registers the Python scans (python_arrow_scan, behind `register`) in it; a thread
# connecting in between gets the database already, and a transaction it begins before that
# registration commits never sees the function ("Table Function with name python_arrow_scan
# does not exist"). Concurrent collect walks open and close the store on several threads.
_CONNECT_LOCK = threading.Lock()


def _open(path: Path, read_only: bool, lock_timeout_s: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + lock_timeout_s
    delay = 0.02
    while True:
        try:
            with _CONNECT_LOCK:
                con = duckdb.connect(str(path), read_only=read_only)
            # ciwb draws its own progress: DuckDB's text bars for a long statement (a
            # migration rebuilding a table, a million-row scan) would cut through it and
            # land in logs. A setting of this connection only. In a Jupyter kernel without
            # ipywidgets DuckDB refuses to change it at all; its bars are not drawn there.
            try:
                con.execute("SET enable_progress_bar = false")
            except duckdb.Error:
                pass
            return con
        except duckdb.IOException as exc:
            if _is_lock_error(exc):
                if time.monotonic() >= deadline:
                    raise StoreLockedError(
                        f"{path}: locked by another process for {lock_timeout_s:.0f}s",
                        hint="wait for the running collect or close the notebook holding it",
                    ) from None
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 1.0)
                continue
            raise StoreCorruptError(
                f"{path}: not a readable DuckDB file: {_first_line(exc)}"
            ) from None
        except duckdb.Error as exc:
            raise StoreCorruptError(
                f"{path}: not a readable DuckDB file: {_first_line(exc)}"
            ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest applied migration, 0 for an empty file."""
    # Asked of the table itself: a catalog view (information_schema, duckdb_tables()) costs
    # ~10 ms on a fresh connection, and every read-only open asks (issue 16).
    try:
        row = con.execute("SELECT max(version) FROM schema_migrations").fetchall()[0]
    except duckdb.CatalogException:
        return 0
    return int(row[0] or 0)


def migrate(con: duckdb.DuckDBPyConnection, target: int = LATEST_VERSION) -> list[int]:
    """Apply every migration above the file's version up to `target`, each in a transaction."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMP NOT NULL, ciwb_version VARCHAR NOT NULL)"
    )
    current = schema_version(con)
    applied: list[int] = []
    for migration in MIGRATIONS:
        if current < migration.version <= target:
            con.execute("BEGIN TRANSACTION")
            try:
                migration.run(con)
                con.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?, ?)",
                    [migration.version, migration.name, utcnow(), __version__],
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            applied.append(migration.version)
    return applied


def _check_not_newer(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    version = schema_version(con)
    if version > LATEST_VERSION:
        raise StoreTooNewError(
            f"{path}: schema version {version} was written by a newer ciwb "
            f"(this ciwb {__version__} knows up to {LATEST_VERSION})",
            hint="upgrade ciwb",
        )
    return version


@contextmanager
def connect(
    db: str | os.PathLike[str] | None = None,
    *,
    read_only: bool = False,
    lock_timeout_s: float | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the store for one batch of work and close it afterwards.

    Writers create the file and bring the schema up to date. Readers open read-only and
    never migrate; a reader on an out-of-date file is told to run a writer first.
    """
    path = resolve_db_path(db)
    if lock_timeout_s is None:
        lock_timeout_s = default_lock_timeout()
    if read_only and not path.exists():
        raise StoreCorruptError(
            f"{path}: no such DuckDB file", hint="run `ciwb demo` or `ciwb collect`"
        )
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, read_only, lock_timeout_s)
    try:
        version = _check_not_newer(con, path)
        if not read_only and version < LATEST_VERSION:
            migrate(con)  # a store already current (every connect after a run's first) needs none
        elif version < LATEST_VERSION:
            raise StoreError(
                f"{path}: schema version {version} is older than this ciwb's {LATEST_VERSION}",
                hint="run `ciwb db migrate` once to upgrade it in place",
            )
        yield con
    finally:
        con.close()


def upgrade(db: str | os.PathLike[str] | None = None) -> list[int]:
    """Apply pending migrations to an existing store; returns the versions applied."""
    path = resolve_db_path(db)
    con = _open(path, False, default_lock_timeout())
    try:
        _check_not_newer(con, path)
        return migrate(con)
    finally:
        con.close()
