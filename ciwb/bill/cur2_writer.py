"""Write line items as an AWS Data Exports "CUR 2.0" export (Parquet, one folder per period).

For the demo's bill and the import benchmark. The columns and types are the CUR 2.0 fixed
schema of the AWS data dictionary (docs.aws.amazon.com/cur/latest/userguide/
table-dictionary-cur2.html: bill, identity, line item, pricing, product and resource-tag
columns; rates are strings there, maps are map<string,string>). Reservation, savings-plan and
split-line-item columns are left out: CodeBuild has none. The layout is the one Data Exports
delivers to S3: `<prefix>/<export>/data/BILLING_PERIOD=YYYY-MM/<export>-00001.snappy.parquet`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["CUR2_SCHEMA", "cur2_table", "period_folder", "write_cur2_period"]

_TS = pa.timestamp("ms", tz="UTC")
_MAP = pa.map_(pa.string(), pa.string())

CUR2_SCHEMA = pa.schema(
    [
        ("bill_bill_type", pa.string()),
        ("bill_billing_entity", pa.string()),
        ("bill_billing_period_end_date", _TS),
        ("bill_billing_period_start_date", _TS),
        ("bill_invoice_id", pa.string()),
        ("bill_invoicing_entity", pa.string()),
        ("bill_payer_account_id", pa.string()),
        ("bill_payer_account_name", pa.string()),
        ("cost_category", _MAP),
        ("discount", _MAP),
        ("discount_bundled_discount", pa.float64()),
        ("discount_total_discount", pa.float64()),
        ("identity_line_item_id", pa.string()),
        ("identity_time_interval", pa.string()),
        ("line_item_availability_zone", pa.string()),
        ("line_item_blended_cost", pa.float64()),
        ("line_item_blended_rate", pa.string()),
        ("line_item_currency_code", pa.string()),
        ("line_item_legal_entity", pa.string()),
        ("line_item_line_item_description", pa.string()),
        ("line_item_line_item_type", pa.string()),
        ("line_item_net_unblended_cost", pa.float64()),
        ("line_item_net_unblended_rate", pa.string()),
        ("line_item_normalization_factor", pa.float64()),
        ("line_item_normalized_usage_amount", pa.float64()),
        ("line_item_operation", pa.string()),
        ("line_item_product_code", pa.string()),
        ("line_item_resource_id", pa.string()),
        ("line_item_tax_type", pa.string()),
        ("line_item_unblended_cost", pa.float64()),
        ("line_item_unblended_rate", pa.string()),
        ("line_item_usage_account_id", pa.string()),
        ("line_item_usage_account_name", pa.string()),
        ("line_item_usage_amount", pa.float64()),
        ("line_item_usage_end_date", _TS),
        ("line_item_usage_start_date", _TS),
        ("line_item_usage_type", pa.string()),
        ("pricing_currency", pa.string()),
        ("pricing_lease_contract_length", pa.string()),
        ("pricing_offering_class", pa.string()),
        ("pricing_public_on_demand_cost", pa.float64()),
        ("pricing_public_on_demand_rate", pa.string()),
        ("pricing_purchase_option", pa.string()),
        ("pricing_rate_code", pa.string()),
        ("pricing_rate_id", pa.string()),
        ("pricing_term", pa.string()),
        ("pricing_unit", pa.string()),
        ("product", _MAP),
        ("product_comment", pa.string()),
        ("product_fee_code", pa.string()),
        ("product_fee_description", pa.string()),
        ("product_from_location", pa.string()),
        ("product_from_location_type", pa.string()),
        ("product_from_region_code", pa.string()),
        ("product_instance_family", pa.string()),
        ("product_instance_type", pa.string()),
        ("product_instanceSKU", pa.string()),
        ("product_location", pa.string()),
        ("product_location_type", pa.string()),
        ("product_operation", pa.string()),
        ("product_pricing_unit", pa.string()),
        ("product_product_family", pa.string()),
        ("product_region_code", pa.string()),
        ("product_servicecode", pa.string()),
        ("product_sku", pa.string()),
        ("product_to_location", pa.string()),
        ("product_to_location_type", pa.string()),
        ("product_to_region_code", pa.string()),
        ("product_usagetype", pa.string()),
        ("resource_tags", _MAP),
    ]
)


def _row(item: Mapping[str, Any]) -> dict[str, Any]:
    row = {name: item.get(name) for name in CUR2_SCHEMA.names}
    for name in ("cost_category", "discount", "product", "resource_tags"):
        value = row[name]
        row[name] = list(value.items()) if isinstance(value, Mapping) else (value or [])
    return row


def cur2_table(items: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Line items (dicts keyed by CUR 2.0 column name; missing columns are null) → Arrow."""
    return pa.Table.from_pylist([_row(i) for i in items], schema=CUR2_SCHEMA)


def period_folder(root: Path, export: str, period: date) -> Path:
    return root / export / "data" / f"BILLING_PERIOD={period:%Y-%m}"


def write_cur2_period(
    root: Path,
    export: str,
    period: date,
    items: Iterable[Mapping[str, Any]] | pa.Table,
    *,
    part: int = 1,
) -> Path:
    """Write one Parquet part of one billing period; returns its path."""
    folder = period_folder(root, export, period)
    folder.mkdir(parents=True, exist_ok=True)
    table = items if isinstance(items, pa.Table) else cur2_table(items)
    path = folder / f"{export}-{part:05d}.snappy.parquet"
    pq.write_table(table, path, compression="snappy")
    return path
