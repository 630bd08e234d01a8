"""The one DuckDB file: schema, migrations, connection discipline, upserts, export, reads."""

from ciwb.store.connection import (
    DEFAULT_DB,
    connect,
    migrate,
    resolve_db_path,
    schema_version,
    upgrade,
)
from ciwb.store.export import ExportResult, export_parquet
from ciwb.store.info import StoreInfo, TableInfo, db_info
from ciwb.store.migrations import LATEST_VERSION, MIGRATIONS
from ciwb.store.query import DbLike, Selection, TimeLike, fetch_frame, reading
from ciwb.store.writer import BackgroundWriter, StoreWriter
from ciwb.store.writes import upsert_rows, write_batch

__all__ = [
    "BackgroundWriter",
    "DEFAULT_DB",
    "LATEST_VERSION",
    "MIGRATIONS",
    "DbLike",
    "ExportResult",
    "Selection",
    "StoreInfo",
    "StoreWriter",
    "TableInfo",
    "TimeLike",
    "connect",
    "db_info",
    "export_parquet",
    "fetch_frame",
    "migrate",
    "reading",
    "resolve_db_path",
    "schema_version",
    "upgrade",
    "upsert_rows",
    "write_batch",
]
