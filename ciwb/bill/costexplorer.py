"""CodeBuild cost from Cost Explorer `GetCostAndUsage`, for users without a CUR export.

One request per range: service "AWS CodeBuild", DAILY, grouped by USAGE_TYPE and
LINKED_ACCOUNT (two group-bys is the API's maximum), metrics UnblendedCost, NetUnblendedCost,
UsageQuantity; paged with NextPageToken. Each group-day becomes a Usage line item; when the net
cost is lower, the difference becomes a Discount line item of the same usage type (Cost
Explorer has no line-item type to say what it was). A day marked `Estimated` makes its period
open. The region comes from the usage-type prefix (USE1- → us-east-1).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from ciwb.bill.importer import ImportSummary, apply_mapping, new_batch, replace_periods
from ciwb.errors import BillError, NoCodeBuildRowsError

__all__ = ["CE_SERVICE", "CostExplorerDay", "fetch_cost_explorer", "parse_results"]

CE_SERVICE = "AWS CodeBuild"
CE_ENDPOINT_REGION = "us-east-1"
METRICS = ("UnblendedCost", "NetUnblendedCost", "UsageQuantity")


@dataclass(frozen=True)
class CostExplorerDay:
    day: date
    usage_type: str
    account_id: str
    unblended_cost: float
    net_unblended_cost: float
    usage_quantity: float
    unit: str
    currency: str
    estimated: bool
    raw: dict[str, Any] = field(compare=False)


def _request(start: date, end: date, token: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "DAILY",
        "Filter": {"Dimensions": {"Key": "SERVICE", "Values": [CE_SERVICE]}},
        "Metrics": list(METRICS),
        "GroupBy": [
            {"Type": "DIMENSION", "Key": "USAGE_TYPE"},
            {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"},
        ],
    }
    if token:
        params["NextPageToken"] = token
    return params


def parse_results(pages: list[dict[str, Any]]) -> list[CostExplorerDay]:
    """GetCostAndUsage pages → one record per day, usage type and linked account."""
    days: list[CostExplorerDay] = []
    for page in pages:
        for result in page.get("ResultsByTime", ()):
            day = date.fromisoformat(result["TimePeriod"]["Start"])
            for group in result.get("Groups", ()):
                usage_type, account = (list(group["Keys"]) + ["", ""])[:2]
                metrics = group.get("Metrics", {})

                def amount(name: str, metrics: dict[str, Any] = metrics) -> tuple[float, str]:
                    item = metrics.get(name, {})
                    return float(item.get("Amount", 0) or 0), str(item.get("Unit", ""))

                unblended, currency = amount("UnblendedCost")
                net, _ = amount("NetUnblendedCost")
                quantity, unit = amount("UsageQuantity")
                days.append(
                    CostExplorerDay(
                        day=day,
                        usage_type=usage_type,
                        account_id=account,
                        unblended_cost=unblended,
                        net_unblended_cost=net if "NetUnblendedCost" in metrics else unblended,
                        usage_quantity=quantity,
                        unit=unit,
                        currency=currency or "USD",
                        estimated=bool(result.get("Estimated", False)),
                        raw={"TimePeriod": result["TimePeriod"], **group},
                    )
                )
    return days


_STAGE_SCHEMA = pa.schema(
    [
        ("billing_period", pa.date32()),
        ("usage_account_id", pa.string()),
        ("line_item_type", pa.string()),
        ("usage_type", pa.string()),
        ("usage_start", pa.timestamp("us")),
        ("usage_end", pa.timestamp("us")),
        ("usage_amount", pa.float64()),
        ("pricing_unit", pa.string()),
        ("unblended_cost", pa.float64()),
        ("net_unblended_cost", pa.float64()),
        ("currency", pa.string()),
        ("invoice_id", pa.string()),
        ("raw", pa.string()),
    ]
)


def _rows(days: list[CostExplorerDay]) -> list[dict[str, Any]]:
    rows = []
    for d in days:
        start = datetime(d.day.year, d.day.month, d.day.day)
        base = {
            "billing_period": d.day.replace(day=1),
            "usage_account_id": d.account_id,
            "usage_type": d.usage_type,
            "usage_start": start,
            "usage_end": start + timedelta(days=1),
            "currency": d.currency,
            # Cost Explorer has no invoice id; an estimated day leaves its period open.
            "invoice_id": None if d.estimated else "cost-explorer",
            "raw": json.dumps(d.raw, default=str),
        }
        rows.append(
            {
                **base,
                "line_item_type": "Usage",
                "usage_amount": d.usage_quantity,
                "pricing_unit": d.unit,
                "unblended_cost": d.unblended_cost,
                "net_unblended_cost": d.net_unblended_cost,
            }
        )
        if abs(d.net_unblended_cost - d.unblended_cost) > 1e-12:
            rows.append(
                {
                    **base,
                    "line_item_type": "Discount",
                    "usage_amount": 0.0,
                    "pricing_unit": d.unit,
                    "unblended_cost": d.net_unblended_cost - d.unblended_cost,
                    "net_unblended_cost": 0.0,
                }
            )
    return rows


def fetch_cost_explorer(
    db: str | os.PathLike[str] | None = None,
    *,
    since: date | str | None = None,
    until: date | str | None = None,
    profile: str | None = None,
    client: Any = None,
) -> ImportSummary:
    """Fetch daily CodeBuild cost and usage from Cost Explorer into the store."""
    from botocore.exceptions import BotoCoreError, ClientError

    from ciwb.store import connect

    def day(value: date | str, option: str) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise BillError(f"{option} {value!r} is not a date", hint="use YYYY-MM-DD") from None

    today = datetime.now(UTC).date()
    end = day(until, "--until") if until else today
    if since is None:
        start = today.replace(day=1)
        for _ in range(2):  # this month and the two before
            start = (start - timedelta(days=1)).replace(day=1)
    else:
        start = day(since, "--since")
    # Whole periods only: a fetch replaces the periods it touches.
    start = start.replace(day=1)
    if start >= end:
        raise BillError(f"--since {start} is not before {end}")
    if client is None:
        import boto3

        session = boto3.Session(profile_name=profile) if profile else boto3.Session()
        client = session.client("ce", region_name=CE_ENDPOINT_REGION)
    pages: list[dict[str, Any]] = []
    token: str | None = None
    try:
        while True:
            page = client.get_cost_and_usage(**_request(start, end, token))
            pages.append(page)
            token = page.get("NextPageToken")
            if not token:
                break
    except (BotoCoreError, ClientError) as exc:
        raise BillError(f"Cost Explorer: {str(exc).splitlines()[0]}") from None
    days = [d for d in parse_results(pages) if d.usage_quantity or d.unblended_cost]
    location = f"cost-explorer:{start}..{end}"
    if not days:
        raise NoCodeBuildRowsError(f"{location}: Cost Explorer reports no {CE_SERVICE} usage")
    rows = _rows(days)
    now = new_batch()
    with connect(db) as con:
        con.register("_ciwb_ce_rows", pa.Table.from_pylist(rows, schema=_STAGE_SCHEMA))
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(
                """
                INSERT INTO bill_line_items (
                    source, billing_period, usage_account_id, line_item_type, product_code,
                    usage_type, usage_start, usage_end, usage_amount, pricing_unit,
                    unblended_rate, unblended_cost, net_unblended_cost, currency, invoice_id,
                    raw, imported_at)
                SELECT ?, billing_period, usage_account_id, line_item_type, 'CodeBuild',
                       usage_type, usage_start, usage_end, usage_amount, pricing_unit,
                       CASE WHEN usage_amount > 0 THEN unblended_cost / usage_amount END,
                       unblended_cost, net_unblended_cost, currency, invoice_id,
                       CAST(raw AS JSON), CAST(? AS TIMESTAMP)
                FROM _ciwb_ce_rows
                """,
                ["cost_explorer", now],
            )
            unknown = apply_mapping(con, "bill_line_items", f"imported_at = '{now.isoformat()}'")
            periods, open_periods, replaced = replace_periods(
                con,
                batch=now,
                sources=("cost_explorer",),
                import_source="cost_explorer",
                location=location,
                files=len(pages),
            )
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        finally:
            con.unregister("_ciwb_ce_rows")
    return ImportSummary(
        location=location,
        format="cost_explorer",
        files=len(pages),
        line_items=len(rows),
        periods=periods,
        open_periods=open_periods,
        replaced_line_items=replaced,
        unknown_usage_types=unknown,
    )
