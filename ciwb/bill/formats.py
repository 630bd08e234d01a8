"""The two CUR layouts, recognised by their columns, read into one line-item shape.

Column names follow the AWS data dictionaries (docs.aws.amazon.com/cur/latest/userguide/):
- CUR 2.0 / Data Exports ("table-dictionary-cur2-*.html"): snake_case, e.g.
  `line_item_usage_type`, `bill_billing_period_start_date`, with map columns `product`,
  `resource_tags`, `discount`, `cost_category`.
- Legacy CUR ("data-dictionary.html"): `category/Name` headers in CSV (`lineItem/UsageType`,
  `bill/BillingPeriodStartDate`, `resourceTags/user:Project`); in Parquet (Athena integration)
  the same names in snake case (`line_item_usage_type`, `resource_tags_user_project`).
Every source column is kept in `raw` under its source name; the named columns use CUR 2.0 names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ciwb.errors import NotABillError

__all__ = ["CORE_COLUMNS", "FORMATS", "FileLayout", "inspect_file", "normalise_name", "select_sql"]

FORMATS = ("auto", "cur2", "cur")

# Named column of bill_line_items → (CUR 2.0 source column, SQL type).
CORE_COLUMNS: dict[str, tuple[str, str]] = {
    "line_item_id": ("identity_line_item_id", "VARCHAR"),
    "payer_account_id": ("bill_payer_account_id", "VARCHAR"),
    "usage_account_id": ("line_item_usage_account_id", "VARCHAR"),
    "line_item_type": ("line_item_line_item_type", "VARCHAR"),
    "product_code": ("line_item_product_code", "VARCHAR"),
    "usage_type": ("line_item_usage_type", "VARCHAR"),
    "operation": ("line_item_operation", "VARCHAR"),
    "resource_id": ("line_item_resource_id", "VARCHAR"),
    "region": ("product_region_code", "VARCHAR"),
    "usage_start": ("line_item_usage_start_date", "TIMESTAMP"),
    "usage_end": ("line_item_usage_end_date", "TIMESTAMP"),
    "usage_amount": ("line_item_usage_amount", "DOUBLE"),
    "pricing_unit": ("pricing_unit", "VARCHAR"),
    "unblended_rate": ("line_item_unblended_rate", "DOUBLE"),
    "unblended_cost": ("line_item_unblended_cost", "DOUBLE"),
    "net_unblended_cost": ("line_item_net_unblended_cost", "DOUBLE"),
    "public_on_demand_cost": ("pricing_public_on_demand_cost", "DOUBLE"),
    "currency": ("line_item_currency_code", "VARCHAR"),
    "description": ("line_item_line_item_description", "VARCHAR"),
    "invoice_id": ("bill_invoice_id", "VARCHAR"),
    "period_start": ("bill_billing_period_start_date", "TIMESTAMP"),
}
# Columns whose presence makes a file a CUR of either kind.
_REQUIRED = ("line_item_usage_type", "line_item_product_code", "line_item_unblended_cost")


def normalise_name(name: str) -> str:
    """`lineItem/UsageType` → `line_item_usage_type`; `product/regionCode` → `product_region_code`.

    Snake-case names pass unchanged, so one lookup serves both layouts.
    """
    if "/" not in name:
        return name.lower()
    parts = []
    for part in name.split("/", 1):
        parts.append(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", part).lower())
    return "_".join(parts)


@dataclass(frozen=True)
class FileLayout:
    path: Path
    reader: str  # read_parquet | read_csv
    format: str  # cur2 | cur
    columns: dict[str, str]  # source name → DuckDB type
    by_name: dict[str, str]  # normalised name → source name


def _reader(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "read_parquet"
    if name.endswith((".csv", ".csv.gz", ".csv.gzip")):
        return "read_csv"
    raise NotABillError(f"{path}: not a Parquet or CSV file")


def _from(reader: str, path: Path) -> str:
    quoted = str(path).replace("'", "''")
    if reader == "read_parquet":
        return f"read_parquet('{quoted}', hive_partitioning = false)"
    return f"read_csv('{quoted}', header = true, all_varchar = true, hive_partitioning = false)"


def inspect_file(con: duckdb.DuckDBPyConnection, path: Path, fmt: str = "auto") -> FileLayout:
    """Read a file's columns and say which CUR layout it is; NotABillError when neither."""
    reader = _reader(path)
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {_from(reader, path)}").fetchall()
    except duckdb.Error as exc:
        raise NotABillError(f"{path}: cannot be read ({str(exc).splitlines()[0]})") from None
    columns = {str(row[0]): str(row[1]) for row in described}
    by_name: dict[str, str] = {}
    for name in columns:
        by_name.setdefault(normalise_name(name), name)
    missing = [c for c in _REQUIRED if c not in by_name]
    if missing:
        raise NotABillError(
            f"{path}: not a CUR or Data Exports file (no {', '.join(missing)} column)",
            hint="export CUR 2.0 with Data Exports or a legacy Cost and Usage Report",
        )
    legacy = any("/" in name for name in columns) or "product" not in columns
    detected = "cur" if legacy else "cur2"
    if fmt not in FORMATS:
        raise NotABillError(f"unknown format {fmt!r}", hint="use auto, cur2 or cur")
    if fmt != "auto" and fmt != detected:
        raise NotABillError(f"{path}: looks like {detected}, not {fmt}", hint="try --format auto")
    return FileLayout(path, reader, detected, columns, by_name)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _cast(layout: FileLayout, source: str, sql_type: str) -> str:
    original = layout.by_name.get(source)
    if original is None:
        return f"CAST(NULL AS {sql_type})"
    col = f"src.{_ident(original)}"
    if sql_type == "TIMESTAMP" and layout.columns[original] == "VARCHAR":
        # CSV timestamps are ISO 8601 in UTC with a Z: 2024-05-01T00:00:00Z.
        return f"TRY_CAST(replace({col}, 'Z', '') AS TIMESTAMP)"
    if sql_type == "VARCHAR":
        return f"nullif(CAST({col} AS VARCHAR), '')"
    return f"TRY_CAST({col} AS {sql_type})"


def _tags(layout: FileLayout) -> str:
    if "resource_tags" in layout.columns:
        kind = layout.columns["resource_tags"]
        if kind.startswith("MAP"):
            return "to_json(src.resource_tags)"
        return "TRY_CAST(nullif(src.resource_tags, '') AS JSON)"
    tagged = [
        name
        for name in layout.columns
        if name.startswith("resourceTags/") or name.startswith("resource_tags_")
    ]
    if not tagged:
        return "CAST(NULL AS JSON)"
    pairs = ", ".join(
        f"'{name.split('/', 1)[-1].removeprefix('resource_tags_')}', src.{_ident(name)}"
        for name in tagged
    )
    return f"json_object({pairs})"


# Older legacy exports carry the region code only as product/region.
_FALLBACKS = {"region": "product_region"}


def select_sql(layout: FileLayout, where: str = "") -> str:
    """SELECT of the named columns plus `resource_tags` and `raw` from one file."""
    cols = []
    for name, (src, typ) in CORE_COLUMNS.items():
        expr = _cast(layout, src, typ)
        if name in _FALLBACKS and _FALLBACKS[name] in layout.by_name:
            expr = f"coalesce({expr}, {_cast(layout, _FALLBACKS[name], typ)})"
        cols.append(f"{expr} AS {name}")
    cols.append(f"{_tags(layout)} AS resource_tags")
    cols.append("to_json(src) AS raw")
    product = layout.by_name["line_item_product_code"]
    return (
        f"SELECT {', '.join(cols)} FROM {_from(layout.reader, layout.path)} src "
        f"WHERE src.{_ident(product)} = 'CodeBuild' {where}"
    )
