"""The demo's bill: a CUR 2.0 export consistent with the demo builds, with planted differences.

The CodeBuild usage is computed from the stored demo builds by the same rules the
reconciliation uses (ciwb.bill.reconcile.implied_usage), priced at the list price where the
seed has one and at a planted demo rate where it has none (eu-west-1, arm 2xlarge, Lambda
2 GB: the builds the list prices leave unpriced). Then the differences a reconciliation must
find are planted and recorded (PlantedBill): a private-pricing discount on one account, usage
in a region the demo builds do not cover, the free tier in one month, a reserved fleet's idle
hours, and a one-off credit. Rows for other services are mixed in so the CodeBuild filter
matters. The last period has no invoice id yet (open).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from ciwb.bill.cur2_writer import write_cur2_period
from ciwb.bill.reconcile import implied_usage
from ciwb.cost.prices import current_prices
from ciwb.demo.catalogue import ACCOUNTS
from ciwb.demo.planted import PlantedBill

__all__ = ["DEMO_EXPORT", "DEMO_RATES", "demo_bill_dir", "write_demo_bill"]

DEMO_EXPORT = "codebuild-demo"
PAYER = "111122223333"
# Rates (USD per billed unit) the demo's "AWS" charges where the seed has no list price:
# made up for the demo, recorded in the planted facts, learned back by `--prices bill`.
DEMO_RATES = {
    ("eu-west-1", "ARM_CONTAINER", "BUILD_GENERAL1_LARGE"): 0.0165,
    ("eu-west-1", "ARM_CONTAINER", "BUILD_GENERAL1_XLARGE"): 0.033,
    ("us-east-1", "ARM_CONTAINER", "BUILD_GENERAL1_XLARGE"): 0.03,
    ("us-east-1", "ARM_CONTAINER", "BUILD_GENERAL1_2XLARGE"): 0.06,
    ("us-east-1", "ARM_LAMBDA_CONTAINER", "BUILD_LAMBDA_2GB"): 0.00002,
}
DISCOUNT = 0.08  # private pricing on the platform account
UNCOVERED_REGION = "us-west-2"
UNCOVERED_USAGE = "USW2-Build-Min:Linux:g1.medium"
UNCOVERED_RATE = 0.01
FREE_USAGE_SUFFIX = "Build-Min:Linux:g1.small"
FREE_MINUTES = 100
FLEET_USAGE = "USE1-Build-Min:Linux:Reserved:g1.medium"
FLEET_RATE = 0.0102  # per instance-minute
FLEET_DAYS = 10
CREDIT_USD = -25.0


def demo_bill_dir(db: Path) -> Path:
    """data/demo.duckdb → data/demo.bill/ (the export root, as Data Exports writes it to S3)."""
    return db.with_suffix(".bill")


@dataclass
class _Usage:
    account: str
    region: str
    usage_type: str
    day: date
    units: float
    rate: float
    unit: str
    project: str | None = None

    @property
    def resource_id(self) -> str | None:
        """CodeBuild line items name the project ARN when the export includes resource ids."""
        if self.project is None:
            return None
        return f"arn:aws:codebuild:{self.region}:{self.account}:project/{self.project}"


def _ts(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _month_end(period: date) -> date:
    return (period + timedelta(days=32)).replace(day=1)


def _line(
    u: _Usage,
    *,
    period: date,
    open_period: date,
    line_type: str = "Usage",
    cost: float | None = None,
    units: float | None = None,
    rate: float | None = None,
    description: str | None = None,
    product: str = "CodeBuild",
    resource_id: str | None = None,
    ids: Iterator[int],
) -> dict[str, Any]:
    amount = u.units if units is None else units
    unit_rate = u.rate if rate is None else rate
    value = amount * unit_rate if cost is None else cost
    start = _ts(u.day)
    pricing_unit = {"minute": "Minutes", "second": "Seconds"}.get(u.unit, u.unit)
    return {
        "bill_bill_type": "Anniversary",
        "bill_billing_entity": "AWS",
        "bill_billing_period_start_date": _ts(period),
        "bill_billing_period_end_date": _ts(_month_end(period)),
        "bill_invoice_id": None if period == open_period else f"DEMO-{period:%Y%m}",
        "bill_invoicing_entity": "Amazon Web Services, Inc.",
        "bill_payer_account_id": PAYER,
        "bill_payer_account_name": "demo-payer",
        "identity_line_item_id": f"demo-{next(ids):09d}",
        "identity_time_interval": f"{start:%Y-%m-%dT%H:%M:%SZ}/"
        f"{start + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}",
        "line_item_usage_account_id": u.account,
        "line_item_line_item_type": line_type,
        "line_item_usage_start_date": start,
        "line_item_usage_end_date": start + timedelta(days=1),
        "line_item_product_code": product,
        "line_item_usage_type": u.usage_type,
        "line_item_operation": "StartBuild" if product == "CodeBuild" else "Usage",
        "line_item_resource_id": resource_id or u.resource_id,
        "line_item_usage_amount": amount,
        "line_item_currency_code": "USD",
        "line_item_unblended_rate": f"{unit_rate:.10f}",
        "line_item_unblended_cost": value,
        "line_item_net_unblended_cost": value,
        "line_item_blended_cost": value,
        "line_item_line_item_description": description
        or f"${unit_rate:.6f} per {pricing_unit[:-1].lower()} for {u.usage_type}",
        "pricing_public_on_demand_cost": value if line_type == "Usage" else 0.0,
        "pricing_public_on_demand_rate": f"{unit_rate:.10f}",
        "pricing_unit": pricing_unit,
        "pricing_term": "OnDemand",
        "product": {
            "product_name": "AWS CodeBuild" if product == "CodeBuild" else product,
            "region": u.region,
        },
        "product_region_code": u.region,
        "product_servicecode": product,
        "product_usagetype": u.usage_type,
        "resource_tags": {},
    }


def write_demo_bill(
    con: duckdb.DuckDBPyConnection, root: Path, *, seed: int
) -> tuple[Path, PlantedBill]:
    """Write the demo's CUR 2.0 export under `root`; returns the export folder and the facts."""
    rng = random.Random(seed * 7919 + 13)
    usage = implied_usage(con, grain="day", by_project=True)
    # Seed prices are per minute or per second, the units the usage types bill in.
    prices = {
        (p.region, p.environment_type, p.compute_type): p.price
        for p in current_prices(con, prices="list")
    }
    rows: list[_Usage] = []
    demo_rated: dict[str, float] = {}
    for r in usage.iter_rows(named=True):
        key = (r["region"], r["environment_type"], r["compute_type"])
        rate = prices.get(key)
        if rate is None:
            rate = DEMO_RATES.get(key)
            if rate is None:
                continue  # a shape the demo does not price: left out of the bill too
            demo_rated[r["build_usage_type"]] = rate
        rows.append(
            _Usage(
                r["account_id"],
                r["region"],
                r["build_usage_type"],
                r["cell"],
                float(r["implied_units"]),
                rate,
                r["build_unit"],
                r["project_name"],
            )
        )
    periods = sorted({u.day.replace(day=1) for u in rows})
    open_period = periods[-1]
    full = periods[:-1] or periods
    platform, data = ACCOUNTS["platform"], ACCOUNTS["data"]
    ids = iter(range(1, 10**9))
    by_period: dict[date, list[dict[str, Any]]] = {p: [] for p in periods}

    # Free tier: the first 100 minutes of Linux g1.small in the platform account's busiest
    # full month are billed at $0.
    small = [u for u in rows if u.account == platform and u.usage_type.endswith(FREE_USAGE_SUFFIX)]
    minutes_per_month: dict[date, float] = {}
    for u in small:
        minutes_per_month[u.day.replace(day=1)] = (
            minutes_per_month.get(u.day.replace(day=1), 0) + u.units
        )
    candidates = [p for p in full if minutes_per_month.get(p, 0) >= FREE_MINUTES] or list(
        minutes_per_month
    )
    free_month = candidates[len(candidates) // 2] if candidates else periods[0]
    free_left = float(FREE_MINUTES)
    free_usd = 0.0
    discount_usd = 0.0
    for u in sorted(rows, key=lambda x: (x.day, x.account, x.usage_type, x.project or "")):
        period = u.day.replace(day=1)
        out = by_period[period]
        units = u.units
        if (
            free_left > 0
            and period == free_month
            and u.account == platform
            and u.usage_type.endswith(FREE_USAGE_SUFFIX)
        ):
            free = min(free_left, units)
            free_left -= free
            free_usd += free * u.rate
            units -= free
            out.append(
                _line(
                    u,
                    period=period,
                    open_period=open_period,
                    units=free,
                    rate=0.0,
                    description=f"$0.00 per minute for {u.usage_type} under monthly free tier",
                    ids=ids,
                )
            )
            if units <= 0:
                continue
        out.append(_line(u, period=period, open_period=open_period, units=units, ids=ids))
        if u.account == platform:
            cut = -units * u.rate * DISCOUNT
            discount_usd += cut
            out.append(
                _line(
                    u,
                    period=period,
                    open_period=open_period,
                    line_type="PrivateRateDiscount",
                    units=0.0,
                    cost=cut,
                    description=f"{DISCOUNT:.0%} private pricing discount",
                    ids=ids,
                )
            )

    # Usage in a region the demo builds do not cover (no project there is collected).
    uncovered_units = 0.0
    last_day = max(u.day for u in rows)
    for period in periods:
        day = period
        while day < _month_end(period) and day <= last_day:
            units = float(rng.randint(120, 480))
            uncovered_units += units
            by_period[period].append(
                _line(
                    _Usage(
                        data,
                        UNCOVERED_REGION,
                        UNCOVERED_USAGE,
                        day,
                        units,
                        UNCOVERED_RATE,
                        "minute",
                    ),
                    period=period,
                    open_period=open_period,
                    ids=ids,
                )
            )
            day += timedelta(days=1)
    uncovered_usd = uncovered_units * UNCOVERED_RATE

    # A reserved-capacity fleet nobody built on for FLEET_DAYS days: all standing charge.
    fleet_month = full[len(full) // 2]
    fleet_arn = f"arn:aws:codebuild:us-east-1:{platform}:fleet/release-fleet:demo"
    for i in range(FLEET_DAYS):
        day = fleet_month + timedelta(days=i)
        by_period[fleet_month].append(
            _line(
                _Usage(platform, "us-east-1", FLEET_USAGE, day, 24 * 60.0, FLEET_RATE, "minute"),
                period=fleet_month,
                open_period=open_period,
                resource_id=fleet_arn,
                description="reserved capacity fleet, per instance-minute provisioned",
                ids=ids,
            )
        )
    fleet_usd = FLEET_DAYS * 24 * 60 * FLEET_RATE

    # A one-off promotional credit in the first period.
    credit_month = periods[0]
    credit = _line(
        _Usage(platform, "us-east-1", "", credit_month, 0, 0, "minute"),
        period=credit_month,
        open_period=open_period,
        line_type="Credit",
        cost=CREDIT_USD,
        units=0.0,
        description="AWS promotional credit",
        ids=ids,
    )
    credit["line_item_usage_type"] = None
    by_period[credit_month].append(credit)

    # Other services, filtered out on import.
    others = 0
    for period in periods:
        for account in (platform, data):
            for product, usage_type in (
                ("AmazonEC2", "USE1-BoxUsage:m5.large"),
                ("AmazonS3", "USE1-TimedStorage-ByteHrs"),
                ("AmazonCloudWatch", "USE1-DataProcessing-Bytes"),
                ("AWSLambda", "USE1-Lambda-GB-Second"),
            ):
                for d in range(0, 28, 3):
                    day = period + timedelta(days=d)
                    by_period[period].append(
                        _line(
                            _Usage(
                                account,
                                "us-east-1",
                                usage_type,
                                day,
                                rng.uniform(1, 50),
                                rng.uniform(0.01, 0.2),
                                "Hrs",
                            ),
                            period=period,
                            open_period=open_period,
                            product=product,
                            ids=ids,
                        )
                    )
                    others += 1

    export = root / DEMO_EXPORT
    for period, items in by_period.items():
        write_cur2_period(root, DEMO_EXPORT, period, items)
    codebuild_usd = sum(
        i["line_item_unblended_cost"]
        for items in by_period.values()
        for i in items
        if i["line_item_product_code"] == "CodeBuild"
    )
    planted = PlantedBill(
        export=str(export),
        periods=[p.isoformat() for p in periods],
        open_period=open_period.isoformat(),
        codebuild_usd=round(codebuild_usd, 6),
        other_service_line_items=others,
        discount_account=platform,
        discount_line_item_type="PrivateRateDiscount",
        discount_rate=DISCOUNT,
        discount_usd=round(discount_usd, 6),
        uncovered_account=data,
        uncovered_region=UNCOVERED_REGION,
        uncovered_usage_type=UNCOVERED_USAGE,
        uncovered_units=uncovered_units,
        uncovered_usd=round(uncovered_usd, 6),
        free_tier_account=platform,
        free_tier_month=free_month.isoformat(),
        free_tier_usage_suffix=FREE_USAGE_SUFFIX,
        free_tier_minutes=float(FREE_MINUTES) - free_left,
        free_tier_usd=round(free_usd, 6),
        fleet_arn=fleet_arn,
        fleet_usage_type=FLEET_USAGE,
        fleet_month=fleet_month.isoformat(),
        fleet_idle_hours=FLEET_DAYS * 24.0,
        fleet_usd=round(fleet_usd, 6),
        credit_month=credit_month.isoformat(),
        credit_usd=CREDIT_USD,
        demo_rates=demo_rated,
    )
    return export, planted
