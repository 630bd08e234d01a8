"""Parquet export partitioned by month: the path for history that outgrows one file.

The layout is Hive-style (`table/month=YYYY-MM/*.parquet`), readable by DuckDB, Athena
or Spark. `s3://` targets go through DuckDB's httpfs extension with the standard AWS
credential chain.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ciwb.store.connection import connect
from ciwb.store.derived import HELPERS

__all__ = ["ExportResult", "export_parquet"]

# table → the timestamp column that decides its month partition (None: not partitioned)
_PARTITION_COLUMN: dict[str, str | None] = {
    "projects": None,
    "builds": "start_time",
    "build_phases": None,
    "build_commands": None,
    "build_metrics": None,
    "build_batches": "start_time",
    "build_batch_groups": None,
    "reports": "created",
    "test_cases": None,
    "prices": None,
    "experiments": "created_at",
    "experiment_runs": "started_at",
    "collect_runs": "started_at",
}

# Child tables take the month of their parent build so one partition holds a month whole.
_CHILD_OF_BUILDS = {"build_phases", "build_commands", "build_metrics"}


@dataclass(frozen=True)
class ExportResult:
    target: str
    tables: dict[str, int]


def export_parquet(target: str, db: str | os.PathLike[str] | None = None) -> ExportResult:
    """Write every table as Parquet under `target` (a directory or s3:// prefix)."""
    is_s3 = target.startswith("s3://")
    if not is_s3:
        Path(target).mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with connect(db, read_only=True) as con:
        if is_s3:
            con.execute("INSTALL httpfs; LOAD httpfs;")
            con.execute("CREATE OR REPLACE SECRET ciwb_s3 (TYPE s3, PROVIDER credential_chain)")
        for table, column in _PARTITION_COLUMN.items():
            dest = f"{target.rstrip('/')}/{table}"
            partitioned = True
            # the columns readers see: derived ones with their values, not their helpers
            helpers = [h for h, _ in HELPERS.get(table, ())]
            star = f"* EXCLUDE ({', '.join(helpers)})" if helpers else "*"
            if table in _CHILD_OF_BUILDS:
                query = (
                    f"SELECT c.{star}, strftime(b.start_time, '%Y-%m') AS month FROM {table} c "
                    "JOIN builds b USING (build_arn)"
                )
            elif table == "test_cases":
                query = (
                    "SELECT c.*, strftime(r.created, '%Y-%m') AS month FROM test_cases c "
                    "JOIN reports r USING (report_arn)"
                )
            elif column:
                query = f"SELECT {star}, strftime({column}, '%Y-%m') AS month FROM {table}"
            else:
                query = f"SELECT {star} FROM {table}"
                partitioned = False
            counts[table] = con.execute(f"SELECT count(*) FROM ({query})").fetchall()[0][0]
            if counts[table] == 0:
                continue
            options = "FORMAT parquet, OVERWRITE_OR_IGNORE"
            if partitioned:
                options += ", PARTITION_BY (month)"
                con.execute(f"COPY ({query}) TO '{dest}' ({options})")
            else:
                if not is_s3:
                    Path(dest).mkdir(parents=True, exist_ok=True)
                con.execute(f"COPY ({query}) TO '{dest}/{table}.parquet' (FORMAT parquet)")
    return ExportResult(target, counts)
