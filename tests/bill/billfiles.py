"""Billing exports written in the real AWS column layouts (see fixtures/README.md).

`item(...)` is one CUR 2.0 line item keyed by CUR 2.0 column name; `write_cur2` writes a
Data Exports folder, `write_legacy_csv` the same items as a gzipped legacy CUR CSV with
`category/Name` headers.
"""

from __future__ import annotations

import csv
import gzip
import itertools
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ciwb.bill.cur2_writer import write_cur2_period
from ciwb.bill.formats import normalise_name

FIXTURES = Path(__file__).parent / "fixtures"
ACCOUNT = "123456789012"  # support.aws.ACCOUNT, the account support.builds writes
PAYER = "999988887777"
_ids = itertools.count(1)


def legacy_columns() -> list[str]:
    return (FIXTURES / "legacy_cur_columns.txt").read_text().split()


def cur2_columns() -> list[str]:
    return (FIXTURES / "cur2_columns.txt").read_text().split()


def item(
    usage_type: str,
    amount: float,
    cost: float,
    *,
    day: date = date(2025, 3, 3),
    account: str = ACCOUNT,
    region: str | None = "us-east-1",
    line_item_type: str = "Usage",
    product_code: str = "CodeBuild",
    unit: str = "Minutes",
    invoice_id: str | None = "EUINUS25-1234",
    resource_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    period = day.replace(day=1)
    period_end = (period + timedelta(days=32)).replace(day=1)
    rate = cost / amount if amount else 0.0
    return {
        "bill_bill_type": "Anniversary",
        "bill_billing_entity": "AWS",
        "bill_billing_period_start_date": datetime(period.year, period.month, 1, tzinfo=UTC),
        "bill_billing_period_end_date": datetime(period_end.year, period_end.month, 1, tzinfo=UTC),
        "bill_invoice_id": invoice_id,
        "bill_invoicing_entity": "Amazon Web Services, Inc.",
        "bill_payer_account_id": PAYER,
        "identity_line_item_id": f"li-{next(_ids):08d}",
        "identity_time_interval": f"{start:%Y-%m-%dT%H:%M:%SZ}/"
        f"{start + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}",
        "line_item_usage_account_id": account,
        "line_item_line_item_type": line_item_type,
        "line_item_usage_start_date": start,
        "line_item_usage_end_date": start + timedelta(days=1),
        "line_item_product_code": product_code,
        "line_item_usage_type": usage_type,
        "line_item_operation": "StartBuild" if product_code == "CodeBuild" else "RunInstances",
        "line_item_resource_id": resource_id,
        "line_item_usage_amount": amount,
        "line_item_currency_code": "USD",
        "line_item_unblended_rate": f"{rate:.10f}",
        "line_item_unblended_cost": cost,
        "line_item_net_unblended_cost": cost,
        "line_item_line_item_description": description or f"{usage_type} {line_item_type}",
        "pricing_public_on_demand_cost": cost if line_item_type == "Usage" else 0.0,
        "pricing_unit": unit,
        "product": {"product_name": "AWS CodeBuild", "region": region or ""},
        "product_region_code": region,
        "product_servicecode": product_code,
        "product_usagetype": usage_type,
        "resource_tags": dict(tags or {}),
    }


def write_cur2(root: Path, items: Iterable[Mapping[str, Any]], export: str = "cur2") -> Path:
    """One Parquet file per billing period under root/<export>/data/BILLING_PERIOD=…/."""
    by_period: dict[date, list[Mapping[str, Any]]] = {}
    for it in items:
        by_period.setdefault(it["bill_billing_period_start_date"].date(), []).append(it)
    for period, rows in sorted(by_period.items()):
        write_cur2_period(root, export, period, rows)
    return root / export


def _legacy_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def write_legacy_csv(path: Path, items: Iterable[Mapping[str, Any]]) -> Path:
    """A gzipped legacy CUR CSV: the fixture header, values from the CUR 2.0-keyed items."""
    header = legacy_columns()
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for it in items:
            row = []
            for name in header:
                if name.startswith("resourceTags/"):
                    row.append(it.get("resource_tags", {}).get(name.split("/", 1)[1], ""))
                    continue
                key = normalise_name(name)
                row.append(_legacy_value(it.get(key)))
            writer.writerow(row)
    return path
