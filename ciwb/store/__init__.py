"""The one DuckDB file: schema, migrations, connection discipline, upserts, export, reads."""

from ciwb.store.compact import CompactResult, compact, readable_columns, table_fingerprints
from ciwb.store.connection import (
    ciwb_home,
    connect,
    default_db_path,
    migrate,
    replays_dir,
    resolve_db_path,
    schema_version,
    upgrade,
)
from ciwb.store.export import ExportResult, export_parquet
from ciwb.store.info import StoreInfo, TableInfo, db_info
from ciwb.store.migrations import LATEST_VERSION, MIGRATIONS
from ciwb.store.query import DbLike, Selection, TimeLike, fetch_frame, reading
from ciwb.store.writer import BackgroundWriter, StoreWriter, write_batches
from ciwb.store.writes import upsert_rows, write_batch

__all__ = [
    "BackgroundWriter",
    "CompactResult",
    "LATEST_VERSION",
    "MIGRATIONS",
    "DbLike",
    "ExportResult",
    "Selection",
    "StoreInfo",
    "StoreWriter",
    "TableInfo",
    "TimeLike",
    "ciwb_home",
    "compact",
    "connect",
    "db_info",
    "default_db_path",
    "export_parquet",
    "fetch_frame",
    "migrate",
    "reading",
    "replays_dir",
    "resolve_db_path",
    "schema_version",
    "readable_columns",
    "table_fingerprints",
    "upgrade",
    "upsert_rows",
    "write_batch",
    "write_batches",
]
