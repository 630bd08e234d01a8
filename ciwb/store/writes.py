"""Upserts keyed by AWS's own identifiers.

Every write goes through Arrow into DuckDB in one transaction per batch, so re-reading
the same record never duplicates it and an interrupted batch leaves nothing half-written.
Child rows (a build's phases, a batch's groups, a report's test cases) are replaced as a
set: an in-progress build's partial phases must vanish when its completed record lands.

The child tables keyed by a parent ARN (`WRITER_KEYED`) have no PRIMARY KEY in the store
(migration 9): their ART indexes were a third of the file and their upkeep most of a
write. Their keys are kept unique here instead, by every write going through this module:
rows whose key (or whose parent, for a replaced set) is already stored are deleted before
the new ones are inserted. Phases and batch groups are only ever written with their parent
row in the same batch, so their replacement is asked only for parents that were already
stored, found through the parent's own primary key: a batch of new builds pays no scan.
Columns the store derives on read (ciwb.store.derived) are never inserted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import duckdb
import numpy as np
import pyarrow as pa

from ciwb.codebuild.build_sql import build_rows_sql, parse_sql, phase_rows_sql
from ciwb.codebuild.normalise import NormalisedBatch
from ciwb.codebuild.records import RawBuild
from ciwb.store.derived import insert_columns

__all__ = ["TABLE_KEYS", "WRITER_KEYED", "RawSource", "raw_source", "upsert_rows", "write_batch"]

# table → (primary key columns, parent column whose child set is replaced wholesale)
TABLE_KEYS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "projects": (("project_arn",), None),
    "fleets": (("fleet_arn",), None),
    "builds": (("build_arn",), None),
    "build_phases": (("build_arn", "seq"), None),  # replaced per build in write_batch
    "build_commands": (("build_arn", "seq"), "build_arn"),
    "build_metrics": (("build_arn", "metric_name"), None),
    "build_batches": (("batch_arn",), None),
    "build_batch_groups": (("batch_arn", "identifier"), None),  # replaced in write_batch
    "reports": (("report_arn",), None),
    "test_cases": (("report_arn", "test_case_key"), None),
    "collect_cursors": (("account_id", "region", "project_name"), None),
    "collect_runs": (("run_id",), None),
    "code_coverages": (("report_arn", "file_path"), None),
    "build_log_reads": (("build_arn",), None),
    "experiments": (("experiment_id",), None),
    "experiment_runs": (("run_id",), None),
}

# Tables whose key TABLE_KEYS names but the store does not enforce (migration 9 dropped
# their primary keys): this module keeps them unique.
WRITER_KEYED = frozenset(
    {
        "build_phases",
        "build_commands",
        "build_metrics",
        "build_batch_groups",
        "test_cases",
        "code_coverages",
    }
)


def _dedupe(rows: Sequence[NamedTuple], key: tuple[str, ...]) -> list[NamedTuple]:
    """Keep the last row per key: DuckDB rejects one INSERT carrying a key twice."""
    if not rows:
        return []
    fields = rows[0]._fields
    idx = [fields.index(k) for k in key]
    latest: dict[tuple, NamedTuple] = {}
    for row in rows:
        latest[tuple(row[i] for i in idx)] = row
    return list(latest.values())


def _arrow(rows: Sequence[NamedTuple]) -> pa.Table:
    fields = rows[0]._fields
    columns = list(zip(*rows, strict=True))
    return pa.table({name: pa.array(col) for name, col in zip(fields, columns, strict=True)})


def _upsert_relation(
    con: duckdb.DuckDBPyConnection, table: str, relation: str, columns: list[str]
) -> int:
    """Upsert every row of `relation` into `table`; returns the rows written."""
    key, parent = TABLE_KEYS[table]
    targets, values = insert_columns(table, columns)
    cols, exprs = ", ".join(targets), ", ".join(values)
    if parent:
        con.execute(
            f"DELETE FROM {table} WHERE {parent} IN (SELECT DISTINCT {parent} FROM {relation})"
        )
    if table in WRITER_KEYED:
        # No primary key to replace by: the stored rows with these keys go first. One join
        # scan, no index; deleting nothing when every key is new.
        if not parent:
            on = " AND ".join(f"{table}.{k} = i.{k}" for k in key)
            con.execute(f"DELETE FROM {table} USING {relation} i WHERE {on}")
        return con.execute(
            f"INSERT INTO {table} ({cols}) SELECT {exprs} FROM {relation}"
        ).fetchall()[0][0]
    # INSERT OR REPLACE costs an index probe per row; most batches are all-new rows
    # (a collect past its cursor, a fresh demo), so replace only when a key is known.
    on = " AND ".join(f"t.{k} = i.{k}" for k in key)
    known = con.execute(
        f"SELECT EXISTS (SELECT 1 FROM {table} t JOIN {relation} i ON {on})"
    ).fetchall()[0][0]
    verb = "INSERT OR REPLACE" if known else "INSERT"
    return con.execute(f"{verb} INTO {table} ({cols}) SELECT {exprs} FROM {relation}").fetchall()[
        0
    ][0]


def upsert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[NamedTuple]) -> int:
    """INSERT OR REPLACE rows (NamedTuples named like the columns); returns rows written."""
    key, _ = TABLE_KEYS[table]
    unique = _dedupe(rows, key)
    if not unique:
        return 0
    data = _arrow(unique)
    con.register("_ciwb_incoming", data)
    try:
        _upsert_relation(con, table, "_ciwb_incoming", data.column_names)
    finally:
        con.unregister("_ciwb_incoming")
    return len(unique)


def _utf8_column(values: list[bytes]) -> pa.Array:
    """UTF-8 byte strings as one Arrow text column, validated by the cast.

    Built from one joined buffer and its offsets: `pa.array` grows its buffer by doubling,
    which on a batch of 50,000 records (200 MB of JSON) cost several times the copy itself.
    """
    offsets = np.zeros(len(values) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, values), np.int64, len(values)), out=offsets[1:])
    data = pa.py_buffer(b"".join(values))
    array = pa.Array.from_buffers(
        pa.large_binary(), len(values), [None, pa.py_buffer(offsets), data]
    )
    return array.cast(pa.large_string())


# Rows per Arrow record batch of the raw builds: DuckDB's unit of parallel scan (2 vectors).
_SCAN_ROWS = 4096

# The raw records reach DuckDB typed JSON (Arrow's canonical `arrow.json` extension, which
# DuckDB reads as its JSON type), not VARCHAR: `builds.raw` is JSON, and the VARCHAR → JSON
# cast of the insert parsed every record once more only to validate it, single-threaded
# (~0.15 s per 50,000 builds). Each is orjson's output, and the parse (`from_json`) fails on
# malformed JSON anyway, so nothing goes unchecked.
_RAW_JSON = pa.json_(pa.large_string())


@dataclass(frozen=True)
class RawSource:
    """A batch's raw builds as the Arrow table DuckDB parses, and the ARNs it holds.

    Built by `raw_source` without a connection, so a bulk load (`write_batches`) builds the
    next batch's on its own thread while the writer thread is in DuckDB.
    """

    table: pa.Table
    arns: list[str]


def raw_source(raw: Sequence[RawBuild]) -> RawSource:
    """The Arrow table of `raw` for `write_batch`.

    A build listed twice in one batch keeps its last record, as the row upsert does.
    """
    raw = _dedupe(raw, ("arn",))
    table = pa.table(
        {
            "raw": pa.ExtensionArray.from_storage(_RAW_JSON, _utf8_column([r.raw for r in raw])),
            "origin": pa.array([r.origin for r in raw], pa.string()),
            "ingested_at": pa.array([r.ingested_at for r in raw], pa.timestamp("us")),
        }
    )
    # DuckDB hands an Arrow table to its threads one record batch at a time: as the single
    # batch `pa.table` makes, the parse (from_json, the phase timestamps; half of a write's
    # CPU) ran on one core of two. Slices of `_SCAN_ROWS` are views, not copies.
    table = pa.Table.from_batches(table.to_batches(max_chunksize=_SCAN_ROWS))
    return RawSource(table, [r.arn for r in raw])


def _normalise_raw_builds(con: duckdb.DuckDBPyConnection, source: RawSource) -> list[str]:
    """Parse raw Build JSON once into a temp table; returns the ARNs it holds."""
    # The parsed records without their JSON: copying ~4 KB of text per build into the temp
    # table cost a quarter of the parse. `builds` takes it from the Arrow table itself, row
    # for row (the temp table keeps the order it was scanned in), which `write_batch` keeps
    # registered until the builds are written.
    con.register("_ciwb_raw_builds", source.table)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ciwb_parsed AS SELECT * EXCLUDE (raw) FROM ("
        + parse_sql("_ciwb_raw_builds")
        + ")"
    )
    return source.arns


# `_ciwb_parsed` with each record's JSON beside it again: parse_sql's output.
_PARSED_WITH_RAW = "(SELECT * FROM _ciwb_parsed POSITIONAL JOIN (SELECT raw FROM _ciwb_raw_builds))"


# A SELECT's column names by its text: the build and phase SELECTs name every column they
# produce, so the same text always yields the same columns.
_SELECT_COLUMNS: dict[str, list[str]] = {}


def _insert_select(con: duckdb.DuckDBPyConnection, table: str, select: str) -> int:
    """Insert the rows of `select` over `_ciwb_parsed` into `table`; returns rows written.

    A plain INSERT, without materialising `select`: `write_batch` has deleted the stored
    rows of these keys first.
    """
    columns = _SELECT_COLUMNS.get(select)
    if columns is None:  # planning the SELECT for its columns costs ~15 ms on every batch
        columns = [d[0] for d in con.execute(f"SELECT * FROM ({select}) LIMIT 0").description]
        _SELECT_COLUMNS[select] = columns
    targets, values = insert_columns(table, columns)
    cols, exprs = ", ".join(targets), ", ".join(values)
    return con.execute(f"INSERT INTO {table} ({cols}) SELECT {exprs} FROM ({select})").fetchall()[
        0
    ][0]


def _stored(con: duckdb.DuckDBPyConnection, table: str, key: str, keys: Sequence[str]) -> list[str]:
    """Those of `keys` that `table` already holds (`key` is its primary key)."""
    if not keys:
        return []
    con.register("_ciwb_keys", pa.table({key: pa.array(list(dict.fromkeys(keys)), pa.string())}))
    try:
        return [
            r[0]
            for r in con.execute(
                f"SELECT {key} FROM {table} WHERE {key} IN (SELECT {key} FROM _ciwb_keys)"
            ).fetchall()
        ]
    finally:
        con.unregister("_ciwb_keys")


def _delete_keyed(
    con: duckdb.DuckDBPyConnection, table: str, column: str, keys: Sequence[str]
) -> None:
    """Delete every row of `table` whose `column` is one of `keys` (stored parents' child
    rows, even those that have no new children; stored builds about to be written again)."""
    if not keys:
        return
    con.register("_ciwb_parents", pa.table({column: pa.array(keys, pa.string())}))
    try:
        con.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT {column} FROM _ciwb_parents)")
    finally:
        con.unregister("_ciwb_parents")


def _insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[NamedTuple]) -> int:
    """Plain INSERT of rows whose keys `write_batch` has made sure are not stored."""
    unique = _dedupe(rows, TABLE_KEYS[table][0])
    if not unique:
        return 0
    data = _arrow(unique)
    targets, values = insert_columns(table, data.column_names)
    con.register("_ciwb_incoming", data)
    try:
        con.execute(
            f"INSERT INTO {table} ({', '.join(targets)}) SELECT {', '.join(values)}"
            " FROM _ciwb_incoming"
        )
    finally:
        con.unregister("_ciwb_incoming")
    return len(unique)


def _check_parents(
    children: Sequence[NamedTuple], parent: str, parents: set[str], what: str
) -> None:
    """Phases and batch groups travel with their parent row: the replacement rule relies on it."""
    orphans = {getattr(row, parent) for row in children} - parents
    if orphans:
        raise ValueError(
            f"{what} of {len(orphans)} parent(s) not in the batch, e.g. {min(orphans)}"
        )


def write_batch(
    con: duckdb.DuckDBPyConnection,
    batch: NormalisedBatch,
    extra: Mapping[str, Sequence[NamedTuple]] | None = None,
    *,
    transaction: bool = True,
    raw: RawSource | None = None,
) -> dict[str, int]:
    """Write a normalised batch atomically; returns rows written per table.

    `extra` rows (table → rows, e.g. the collector's cursors) are upserted in the same
    transaction, so bookkeeping can never run ahead of the data it describes. With
    `transaction=False` the caller has begun the transaction and commits or rolls it back.
    `raw`: `raw_source(batch.raw_builds)`, if the caller has built it already.
    """
    row_builds = {b.build_arn for b in batch.builds}
    _check_parents(batch.build_phases, "build_arn", row_builds, "build_phases")
    batch_arns = [b.batch_arn for b in batch.build_batches]
    _check_parents(batch.build_batch_groups, "batch_arn", set(batch_arns), "build_batch_groups")
    written: dict[str, int] = {}
    if transaction:
        con.execute("BEGIN TRANSACTION")
    try:
        raw_arns: list[str] = []
        if batch.raw_builds:
            raw_arns = _normalise_raw_builds(con, raw or raw_source(batch.raw_builds))
        # A re-read build replaces all its phases: a build that had 5 phases while in
        # progress and 11 once complete must end with exactly 11. Only builds already
        # stored can have phases stored (phases are only written with their build).
        stored = _stored(con, "builds", "build_arn", raw_arns + list(row_builds))
        _delete_keyed(con, "build_phases", "build_arn", stored)
        if raw_arns:
            # Straight from the parsed records into the tables: materialising each SELECT
            # in a temp table first copied every row (raw JSON included) once more.
            # A re-read build's stored row goes first and the new one is inserted: DuckDB
            # runs INSERT OR REPLACE as an UPDATE of every column, which on rows already
            # checkpointed cost ~2 ms a build (2.6 s for 1,400 re-read builds, against 10 ms
            # for the DELETE). Every column is written (build_id and log_stream are
            # generated), so the row stored is the same either way.
            raw_set = set(raw_arns)
            _delete_keyed(con, "builds", "build_arn", [a for a in stored if a in raw_set])
            try:
                for table, select in (
                    ("builds", build_rows_sql(_PARSED_WITH_RAW)),
                    ("build_phases", phase_rows_sql("_ciwb_parsed")),
                ):
                    # the stored builds and their phases were deleted above
                    count = _insert_select(con, table, select)
                    written[table] = written.get(table, 0) + count
            finally:
                con.unregister("_ciwb_raw_builds")
            con.execute("DROP TABLE _ciwb_parsed")
        _delete_keyed(
            con,
            "build_batch_groups",
            "batch_arn",
            _stored(con, "build_batches", "batch_arn", batch_arns),
        )
        # A build both raw and as rows in one batch: its row phases replace by key.
        mixed = not row_builds.isdisjoint(raw_arns)
        for table in (
            "fleets",
            "projects",
            "builds",
            "build_phases",
            "build_commands",
            "build_metrics",
            "build_batches",
            "build_batch_groups",
            "reports",
            "test_cases",
        ):
            rows = getattr(batch, table)
            if table == "build_batch_groups" or (table == "build_phases" and not mixed):
                count = _insert_rows(con, table, rows)
            else:
                count = upsert_rows(con, table, rows)
            written[table] = written.get(table, 0) + count
        for table, rows in (extra or {}).items():
            written[table] = written.get(table, 0) + upsert_rows(con, table, rows)
        if transaction:
            con.execute("COMMIT")
    except BaseException:
        if transaction:
            con.execute("ROLLBACK")
        con.unregister("_ciwb_raw_builds")  # if it failed before the builds were written
        raise
    return written
