"""Import CodeBuild line items from a CUR 2.0 / Data Exports or legacy CUR export.

A source is a file, a folder (an export as delivered to S3: CUR 2.0 writes one folder per
billing period, `data/BILLING_PERIOD=2025-03/…parquet`; the legacy CUR one per range,
`20250301-20250401/…csv.gz`) or an `s3://bucket/prefix` (listed and downloaded with boto3).
Only rows with `line_item_product_code = 'CodeBuild'` are kept. Importing a period again
replaces it; a period without an invoice id yet (AWS fills `bill_invoice_id` when the bill is
final) is marked open.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ciwb.bill.formats import CORE_COLUMNS, FileLayout, inspect_file, select_sql
from ciwb.bill.usage_types import map_usage_type, split_usage_type
from ciwb.errors import BillSourceNotFoundError, NoCodeBuildRowsError, NotABillError

__all__ = [
    "LINE_ITEM_COLUMNS",
    "ImportSummary",
    "Progress",
    "apply_mapping",
    "data_files",
    "import_bill",
    "new_batch",
    "replace_periods",
]

Progress = Callable[[str, int, int], None]
_DATA_SUFFIXES = (".parquet", ".csv", ".csv.gz", ".csv.gzip")
_PERIOD_DIR = re.compile(r"(?:BILLING_PERIOD=(\d{4}-\d{2})|(\d{4})(\d{2})01-\d{8})")

LINE_ITEM_COLUMNS = (
    "source",
    "billing_period",
    *(c for c in CORE_COLUMNS if c != "period_start"),
    "resource_tags",
    "environment_type",
    "compute_type",
    "unit",
    "usage_kind",
    "mapping_inferred",
    "raw",
    "imported_at",
)


@dataclass
class ImportSummary:
    location: str
    format: str
    files: int
    line_items: int
    periods: list[date] = field(default_factory=list)
    open_periods: list[date] = field(default_factory=list)
    replaced_line_items: int = 0
    unknown_usage_types: dict[str, int] = field(default_factory=dict)
    inferred_usage_types: list[str] = field(default_factory=list)
    folders_without_codebuild: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _current_assembly(files: list[Path], root: Path) -> list[Path]:
    """Drop superseded legacy-CUR deliveries.

    The legacy CUR writes each refresh of a period into a new `<assemblyId>/` folder beside
    the old ones, and `<period>/<report>-Manifest.json` lists the current files in
    `reportKeys`; reading every folder would count the period several times.
    """
    keep = set(files)
    for manifest in root.rglob("*-Manifest.json"):
        if "metadata" in manifest.parts or not _PERIOD_DIR.fullmatch(manifest.parent.name):
            continue
        try:
            keys = json.loads(manifest.read_text(encoding="utf-8")).get("reportKeys") or []
        except (OSError, ValueError):
            continue
        current = {tuple(k.split("/")[-2:]) for k in keys}
        if not current:
            continue
        for path in files:
            if manifest.parent in path.parents and tuple(path.parts[-2:]) not in current:
                keep.discard(path)
    return [p for p in files if p in keep]


def data_files(root: Path) -> list[Path]:
    """The Parquet / CSV files of an export, in a stable order (manifests and metadata skipped,
    superseded legacy-CUR deliveries left out)."""
    if root.is_file():
        return [root]
    if not root.exists():
        raise BillSourceNotFoundError(f"{root}: no such file or folder")
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.name.lower().endswith(_DATA_SUFFIXES) and "metadata" not in p.parts
    )
    files = _current_assembly(files, root)
    if not files:
        raise BillSourceNotFoundError(f"{root}: no Parquet or CSV files found")
    return files


def _period_folder(path: Path) -> str | None:
    for part in reversed(path.parts[:-1]):
        match = _PERIOD_DIR.fullmatch(part)
        if match:
            return match.group(1) or f"{match.group(2)}-{match.group(3)}"
    return None


_MAPPING_SCHEMA = pa.schema(
    [
        ("usage_type", pa.string()),
        ("prefix_region", pa.string()),
        ("environment_type", pa.string()),
        ("compute_type", pa.string()),
        ("unit", pa.string()),
        ("usage_kind", pa.string()),
        ("mapping_inferred", pa.bool_()),
    ]
)


def apply_mapping(
    con: duckdb.DuckDBPyConnection, table: str, where: str = "true"
) -> dict[str, int]:
    """Fill the mapping columns of `table`'s rows matching `where` from usage_types.csv;
    returns unknown usage type → rows."""
    distinct = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT usage_type FROM {table} WHERE usage_type IS NOT NULL AND {where}"
        ).fetchall()
    ]
    rows = []
    for usage_type in distinct:
        region, _ = split_usage_type(usage_type)
        mapped = map_usage_type(usage_type)
        rows.append(
            {
                "usage_type": usage_type,
                "prefix_region": region,
                "environment_type": mapped.environment_type if mapped else None,
                "compute_type": mapped.compute_type if mapped else None,
                "unit": mapped.unit if mapped else None,
                "usage_kind": mapped.kind if mapped else None,
                "mapping_inferred": mapped.inferred if mapped else None,
            }
        )
    con.register("_ciwb_usage_map", pa.Table.from_pylist(rows, schema=_MAPPING_SCHEMA))
    try:
        con.execute(
            f"""
            UPDATE {table} t SET
                environment_type = m.environment_type, compute_type = m.compute_type,
                unit = m.unit, usage_kind = m.usage_kind, mapping_inferred = m.mapping_inferred,
                region = coalesce(t.region, m.prefix_region)
            FROM _ciwb_usage_map m WHERE m.usage_type = t.usage_type AND {where}
            """
        )
    finally:
        con.unregister("_ciwb_usage_map")
    # Only usage-like rows of an unknown type matter; a tax row has no build behind it.
    unknown = con.execute(
        f"SELECT usage_type, count(*) FROM {table} WHERE usage_kind IS NULL "
        f"AND usage_type IS NOT NULL AND {where} GROUP BY 1 ORDER BY 2 DESC, 1"
    ).fetchall()
    return {str(k): int(v) for k, v in unknown}


def replace_periods(
    con: duckdb.DuckDBPyConnection,
    *,
    batch: datetime,
    sources: Sequence[str],
    import_source: str,
    location: str,
    files: int,
) -> tuple[list[date], list[date], int]:
    """Replace the periods of the new line items with them, record the import, and COMMIT.

    Runs inside the caller's transaction, after it inserted the new line items stamped
    `imported_at = batch` (no second copy of their raw JSON). `sources` are the line-item
    sources a period of this import replaces (a CUR 2.0 and a legacy CUR import of the same
    period are the same bill). Returns the periods, the open ones, and the number of line
    items replaced.
    """
    periods = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT billing_period FROM bill_line_items WHERE imported_at = ? ORDER BY 1",
            [batch],
        ).fetchall()
    ]
    old = "billing_period IN (SELECT unnest(?)) AND source IN (SELECT unnest(?))"
    params = [periods, list(sources)]
    replaced = con.execute(
        f"SELECT count(*) FROM bill_line_items WHERE {old} AND imported_at <> ?", [*params, batch]
    ).fetchall()
    con.execute(f"DELETE FROM bill_line_items WHERE {old} AND imported_at <> ?", [*params, batch])
    con.execute(f"DELETE FROM bill_imports WHERE {old}", params)
    opened = con.execute(
        """
        INSERT INTO bill_imports
        SELECT billing_period, ?, ?, ?, count(*),
               -- open while a row has no invoice id (AWS writes it when the bill is final,
               -- Cost Explorer leaves estimated days open) or the month is not over
               bool_or(invoice_id IS NULL) OR max(billing_period) + INTERVAL 1 MONTH > ?,
               ?
        FROM bill_line_items WHERE imported_at = ? GROUP BY billing_period
        RETURNING billing_period, period_open
        """,
        [import_source, location, files, batch, batch, batch],
    ).fetchall()
    con.execute("COMMIT")
    from ciwb.bill.rates import refresh_bill_rates

    refresh_bill_rates(con)
    open_periods = sorted(p for p, is_open in opened if is_open)
    return periods, open_periods, int(replaced[0][0])


def new_batch() -> datetime:
    """The `imported_at` that marks one import's rows (UTC, microseconds)."""
    return datetime.now(UTC).replace(tzinfo=None)


def import_layouts(
    con: duckdb.DuckDBPyConnection,
    layouts: Sequence[FileLayout],
    *,
    location: str,
    progress: Progress | None = None,
) -> ImportSummary:
    """Insert every file's CodeBuild rows, map usage types, and replace their periods."""
    report = progress or (lambda stage, done, total: None)
    now = new_batch()
    names = [c for c in CORE_COLUMNS if c != "period_start"]
    empty_folders: list[str] = []
    formats = sorted({layout.format for layout in layouts})
    # One transaction: the new rows go straight into bill_line_items, stamped with this
    # import's time, and replace their periods' old rows at COMMIT.
    con.execute("BEGIN TRANSACTION")
    try:
        staged = 0
        for i, layout in enumerate(layouts):
            added = con.execute(
                f"""
                INSERT INTO bill_line_items (source, billing_period, {", ".join(names)},
                                             resource_tags, raw, imported_at)
                SELECT ?, CAST(date_trunc('month', coalesce(period_start, usage_start)) AS DATE),
                       {", ".join(names)}, resource_tags, raw, ?
                FROM ({select_sql(layout)})
                """,
                [layout.format, now],
            ).fetchall()[0][0]
            staged += int(added)
            folder = _period_folder(layout.path)
            if not added and folder:
                empty_folders.append(folder)
            report("importing", i + 1, len(layouts))
        if staged == 0:
            raise NoCodeBuildRowsError(
                f"{location}: {len(layouts)} file(s), no line item for CodeBuild",
                hint="line_item_product_code = 'CodeBuild'; is CodeBuild used in these periods?",
            )
        unknown = apply_mapping(con, "bill_line_items", f"imported_at = '{now.isoformat()}'")
        inferred = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT usage_type FROM bill_line_items "
                "WHERE mapping_inferred AND imported_at = ? ORDER BY 1",
                [now],
            ).fetchall()
        ]
        periods, open_periods, replaced = replace_periods(
            con,
            batch=now,
            sources=("cur2", "cur"),
            import_source="/".join(formats),
            location=location,
            files=len(layouts),
        )
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # nothing to roll back once committed
            con.execute("ROLLBACK")
        raise
    have = {p.strftime("%Y-%m") for p in periods}
    return ImportSummary(
        location=location,
        format="/".join(formats),
        files=len(layouts),
        line_items=int(staged),
        periods=periods,
        open_periods=open_periods,
        replaced_line_items=replaced,
        unknown_usage_types=unknown,
        inferred_usage_types=inferred,
        folders_without_codebuild=sorted(set(empty_folders) - have),
    )


def _s3_download(
    uri: str, target: Path, *, profile: str | None, client: Any, progress: Progress
) -> int:
    """Download the data files (and legacy manifests) under an s3:// prefix into `target`."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if client is None:
        import boto3

        session = boto3.Session(profile_name=profile) if profile else boto3.Session()
        client = session.client("s3")
    try:
        keys = [
            obj["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix
            )
            for obj in page.get("Contents", ())
            if obj["Key"].lower().endswith((*_DATA_SUFFIXES, "-manifest.json"))
            and "/metadata/" not in f"/{obj['Key']}"
        ]
        data = [k for k in keys if k.lower().endswith(_DATA_SUFFIXES)]
        if not data:
            raise BillSourceNotFoundError(f"{uri}: no Parquet or CSV files under this prefix")
        for i, key in enumerate(keys):
            local = target / key
            local.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, key, str(local))
            progress("downloading", i + 1, len(keys))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchBucket", "404"):
            raise BillSourceNotFoundError(f"s3://{bucket}: no such bucket") from None
        if code in ("AccessDenied", "403"):
            raise BillSourceNotFoundError(f"s3://{bucket}: access denied") from None
        raise BillSourceNotFoundError(f"{uri}: {code or exc}") from None
    except BotoCoreError as exc:
        raise BillSourceNotFoundError(f"{uri}: {exc}") from None
    return len(data)


def import_bill(
    source: str | os.PathLike[str],
    db: str | os.PathLike[str] | None = None,
    *,
    fmt: str = "auto",
    profile: str | None = None,
    s3_client: Any = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import CodeBuild line items from a local export or an s3:// prefix into the store."""
    from ciwb.store import connect

    location = str(source)
    with tempfile.TemporaryDirectory(prefix="ciwb-bill-") as scratch:
        if location.startswith("s3://"):
            report = progress or (lambda stage, done, total: None)
            _s3_download(
                location, Path(scratch), profile=profile, client=s3_client, progress=report
            )
            root = Path(scratch)
        else:
            root = Path(location)
        files = data_files(root)
        with connect(db) as con:
            con.execute("SET TimeZone = 'UTC'")
            layouts = [inspect_file(con, path, fmt) for path in files]
            if len({layout.format for layout in layouts}) > 1:
                raise NotABillError(
                    f"{location}: mixes CUR 2.0 and legacy CUR files",
                    hint="import each export on its own",
                )
            return import_layouts(con, layouts, location=location, progress=progress)
