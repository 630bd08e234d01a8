"""Columns the store computes when read instead of storing them (migration 10, issue 16).

A column that is a function of other columns of the same row is declared as a DuckDB
VIRTUAL generated column: readers select it like any other and get exactly the value that
used to be stored, the file holds only what it is computed from. A few of those functions
need a stored helper (a metric's first timestamp when its series steps by its period, a
build id that does not follow its ARN); the writer fills the helpers from the row's own
values, with the same SQL migration 10 filled them from the stored rows.

The writer never names a derived column in an INSERT (DuckDB refuses), and inserts the
helpers instead: `insert_columns` maps the columns of a row to what is stored.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["DERIVED", "HELPERS", "insert_columns", "logical_columns"]

# The uuid part of a build ARN (…:build/<project>:<uuid>): its log stream's name as CodeBuild
# writes it.
_ARN_UUID = "split_part(build_arn, ':', 7)"
_ARN_ID = "substr(build_arn, strpos(build_arn, ':build/') + 7)"
_SAME_STREAM = f"coalesce(log_stream = {_ARN_UUID}, false)"
_STEP = "to_seconds(CAST(period_s AS BIGINT))"
# typed: a batch whose series are all empty arrives as a list of nulls
_TS = "CAST(series_ts AS TIMESTAMP[])"
_REGULAR = (
    f"(period_s > 0 AND len({_TS}) > 0 AND len({_TS}) = len(series_values)"
    f" AND {_TS} = generate_series({_TS}[1],"
    f" {_TS}[1] + to_seconds(CAST(period_s AS BIGINT) * (len({_TS}) - 1)), {_STEP}))"
)

_VALUES = "CAST(series_values AS DOUBLE[])"
_MEAN = f"list_sum({_VALUES}) / len({_VALUES})"
_P95_POS = f"(0.95::DOUBLE * (len({_VALUES}) - 1))"
_LOW = f"CAST(floor({_P95_POS}) AS BIGINT)"
_P95 = (
    f"list_sort({_VALUES})[{_LOW} + 1] + (list_sort({_VALUES})[least({_LOW} + 2, len({_VALUES}))]"
    f" - list_sort({_VALUES})[{_LOW} + 1]) * ({_P95_POS} - floor({_P95_POS}))"
)

# table → the columns it generates (never inserted)
DERIVED: dict[str, frozenset[str]] = {
    "builds": frozenset({"build_id", "log_stream"}),
    "build_phases": frozenset({"duration_s"}),
    "build_metrics": frozenset(
        {"points", "min_value", "mean_value", "max_value", "p95_value", "series_ts"}
    ),
}

# table → (stored helper column, its value as SQL over the row's readable columns)
HELPERS: dict[str, tuple[tuple[str, str], ...]] = {
    "builds": (
        ("build_id_given", f"CASE WHEN build_id IS DISTINCT FROM {_ARN_ID} THEN build_id END"),
        ("log_stream_is_arn_uuid", _SAME_STREAM),
        ("log_stream_given", f"CASE WHEN NOT {_SAME_STREAM} THEN log_stream END"),
    ),
    "build_metrics": (
        ("series_ts_start", f"CASE WHEN {_REGULAR} THEN {_TS}[1] END"),
        ("series_ts_irregular", f"CASE WHEN NOT coalesce({_REGULAR}, false) THEN {_TS} END"),
        # A statistic computed elsewhere (another Python's float sum, an older ciwb) that is
        # not the derivation's to the last bit is kept as it was given, never rounded to it.
        ("mean_value_given", f"CASE WHEN mean_value IS DISTINCT FROM {_MEAN} THEN mean_value END"),
        ("p95_value_given", f"CASE WHEN p95_value IS DISTINCT FROM {_P95} THEN p95_value END"),
    ),
}


def insert_columns(table: str, columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """The stored columns an INSERT of rows with `columns` names, and the SQL of each over
    those rows: the derived columns left out, the helpers computed from them."""
    derived = DERIVED.get(table, frozenset())
    stored = [c for c in columns if c not in derived]
    if not derived & set(columns):
        return stored, list(stored)
    helpers = HELPERS.get(table, ())
    return stored + [h for h, _ in helpers], stored + [sql for _, sql in helpers]


def logical_columns(table: str, columns: Sequence[str]) -> list[str]:
    """`columns` of `table` without the stored helpers: what readers and exports see."""
    helpers = {h for h, _ in HELPERS.get(table, ())}
    return [c for c in columns if c not in helpers]
