"""The one DuckDB file: schema, migrations, connection discipline, upserts, export."""

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
from ciwb.store.writer import BackgroundWriter, StoreWriter
from ciwb.store.writes import upsert_rows, write_batch

__all__ = [
    "BackgroundWriter",
    "LATEST_VERSION",
    "MIGRATIONS",
    "ExportResult",
    "StoreInfo",
    "StoreWriter",
    "TableInfo",
    "ciwb_home",
    "connect",
    "db_info",
    "default_db_path",
    "export_parquet",
    "migrate",
    "replays_dir",
    "resolve_db_path",
    "schema_version",
    "upgrade",
    "upsert_rows",
    "write_batch",
]
