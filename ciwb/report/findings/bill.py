"""Findings of the reconciliation report: how much of the bill the builds explain, and why not.

Computed from ciwb.bill.reconcile (month grain). Money per month is the mean over the
billing periods present (an open period counts: its figures are what was billed so far).
"""

from __future__ import annotations

import os
from typing import Any

from ciwb.report.findings.base import Finding, register

__all__ = ["REPORT", "bill_findings"]

REPORT = "reconciliation"


def _money(value: float) -> str:
    return f"${value:,.2f}"


@register(REPORT)
def bill_findings(
    db: str | os.PathLike[str] | None = None, selection: Any = None, **_: Any
) -> list[Finding]:
    """Findings from the imported bill; one weak finding saying so when there is none."""
    from ciwb.bill import reconcile
    from ciwb.cost import BillingOptions, cost_summary
    from ciwb.errors import BillError

    db = db if db is not None else getattr(selection, "db", None)
    try:
        rec = reconcile(db, by="month")
    except BillError as exc:
        return [
            Finding(
                report=REPORT,
                kind="no-bill",
                title="No billing data: every cost is an estimate from list prices",
                evidence=str(exc),
                strength="weak",
                action="import a CUR 2.0 export or fetch Cost Explorer data",
                command="ciwb bill import s3://BUCKET/PREFIX  # or: ciwb bill fetch",
            )
        ]
    periods = rec.periods
    months = max(periods.height, 1)
    span = f"{periods['billing_period'].min():%Y-%m} to {periods['billing_period'].max():%Y-%m}"
    found: list[Finding] = []

    def total(col: str) -> float:
        return float(periods[col].fill_null(0).sum())

    gross, bill = total("gross_cost"), total("bill_cost")
    coverage = rec.coverage
    if coverage is not None:
        found.append(
            Finding(
                report=REPORT,
                kind="coverage",
                subject="bill",
                title=f"The stored builds explain {coverage:.1%} of the CodeBuild usage bill",
                evidence=(
                    f"{span}: usage cost {_money(gross)}, of which builds explain "
                    f"{_money(total('explained_cost'))}; bill after discounts and credits "
                    f"{_money(bill)}; per month: "
                    + ", ".join(
                        f"{r['billing_period']:%Y-%m} {r['coverage']:.1%}"
                        for r in periods.iter_rows(named=True)
                        if r["coverage"] is not None
                    )
                ),
                strength="strong" if total("builds") >= 100 else "moderate",
                action="see the findings below for what the rest is",
                command="ciwb bill reconcile --by month",
            )
        )
    nis = rec.not_in_store
    if nis.height:
        import polars as pl

        grouped = nis.group_by("account_id", "region", "usage_type", "reason").agg(
            pl.col("gross_cost").sum().alias("usd")
        )
        for r in grouped.sort("usd", descending=True).iter_rows(named=True):
            per_month = r["usd"] / months
            found.append(
                Finding(
                    report=REPORT,
                    kind="not-in-store",
                    subject=f"{r['account_id']} {r['region']} {r['usage_type']}",
                    title=(
                        f"{_money(per_month)}/month of {r['usage_type']} in account "
                        f"{r['account_id']}, {r['region']}, has no builds in the store "
                        f"({r['reason']})"
                    ),
                    evidence=f"{span}: {_money(r['usd'])} billed with no matching build",
                    strength="strong",
                    action="collect that account and region so its builds are analysed",
                    usd_per_month_low=per_month,
                    usd_per_month_high=per_month,
                    command=f"ciwb collect --region {r['region']}",
                )
            )
    if rec.projects.height:
        missing = rec.projects.filter(
            (rec.projects["builds"] == 0) & (rec.projects["gross_cost"] > 0)
        )
        for name in sorted(set(missing["project_name"])):
            usd = float(missing.filter(missing["project_name"] == name)["gross_cost"].sum())
            found.append(
                Finding(
                    report=REPORT,
                    kind="project-not-in-store",
                    subject=name,
                    title=f"Project {name} is billed {_money(usd / months)}/month but not stored",
                    evidence=f"{span}: {_money(usd)} of line items whose resource id or tag "
                    f"names {name}, and no stored build of it",
                    strength="strong",
                    action="collect the project",
                    usd_per_month_low=usd / months,
                    usd_per_month_high=usd / months,
                    command=f"ciwb collect --project {name}",
                )
            )
    fleet = total("fleet_standing")
    if fleet > 0:
        fleet_cells = rec.cells.filter(rec.cells["category"] == "fleet")
        units = float(fleet_cells["billed_units"].sum())
        found.append(
            Finding(
                report=REPORT,
                kind="fleet-standing",
                subject=", ".join(sorted(set(fleet_cells["usage_type"].drop_nulls()))),
                title=(
                    f"Reserved-capacity fleets cost {_money(fleet / months)}/month for "
                    "capacity no stored build used"
                ),
                evidence=(
                    f"{span}: {units:,.0f} instance-minutes billed, "
                    f"{float(fleet_cells['fleet_used_units'].sum()):,.0f} used by "
                    f"{int(fleet_cells['fleet_builds'].sum()):,} builds; idle: {_money(fleet)}"
                ),
                strength="strong",
                action="scale idle fleets down (or delete them) outside working hours",
                usd_per_month_low=fleet / months,
                usd_per_month_high=fleet / months,
                command="aws codebuild update-fleet --arn FLEET_ARN --base-capacity 0",
            )
        )
    discounts = total("discounts")
    below = rec.rates.filter(rec.rates["vs_list"] < -0.005)
    if discounts < 0 or below.height:
        median = float(below["vs_list"].median()) if below.height else 0.0
        found.append(
            Finding(
                report=REPORT,
                kind="effective-rate",
                subject="rates",
                title=(
                    f"You pay {abs(median):.0%} below list on {below.height} rate(s): "
                    "estimates at list prices overstate cost"
                    if below.height
                    else "Discount line items lower the bill"
                ),
                evidence=(
                    f"{span}: discount line items {_money(discounts)}; effective vs list, "
                    f"median {median:+.1%}"
                ),
                strength="strong",
                action="keep `--prices bill` (the default) so every cost uses the rates you pay",
                command="ciwb cost summary --prices bill",
            )
        )
    free = total("free_tier")
    if free < 0:
        found.append(
            Finding(
                report=REPORT,
                kind="free-tier",
                subject="free tier",
                title=f"The free tier covered {_money(-free)} of build usage",
                evidence=", ".join(
                    f"{r['billing_period']:%Y-%m} {_money(-r['free_tier'])}"
                    for r in periods.iter_rows(named=True)
                    if (r["free_tier"] or 0) < 0
                ),
                strength="strong",
                action="nothing to do; `ciwb cost summary --free-tier` models it",
            )
        )
    credits = total("credits")
    if credits:
        found.append(
            Finding(
                report=REPORT,
                kind="credits",
                subject="credits",
                title=f"Credits and refunds of {_money(credits)} lower the bill once",
                evidence=", ".join(
                    f"{r['billing_period']:%Y-%m} {_money(r['credits'])}"
                    for r in periods.iter_rows(named=True)
                    if r["credits"]
                ),
                strength="strong",
                action="do not plan with them: they are not a rate",
            )
        )
    for usage_type, usd in rec.unknown_usage_types.items():
        found.append(
            Finding(
                report=REPORT,
                kind="unknown-usage-type",
                subject=usage_type,
                title=f"{usage_type} is billed ({_money(usd)}) but ciwb does not know it",
                evidence=f"{span}: no row of data/billing/usage_types.csv matches it",
                strength="moderate",
                action="add the usage type, with its source, to data/billing/usage_types.csv",
            )
        )
    unexplained = total("unexplained")
    if abs(unexplained) > max(0.01, 0.005 * abs(bill)):
        found.append(
            Finding(
                report=REPORT,
                kind="unexplained",
                subject="residual",
                title=f"{_money(unexplained / months)}/month of the bill is unexplained",
                evidence=(
                    f"{span}: residual after free tier, discounts, credits, fleets, usage "
                    f"outside the store and rounding: {_money(unexplained)}"
                ),
                strength="moderate",
                action="look at the day cells with the largest unit gaps",
                usd_per_month_low=abs(unexplained) / months,
                usd_per_month_high=abs(unexplained) / months,
                command="ciwb bill reconcile --by day --json",
            )
        )
    matched = rec.cells.filter(rec.cells["category"] == "matched")
    if matched.height:
        billed = float((matched["billed_units"] + matched["free_units"]).sum())
        upper = float(matched["implied_units"].sum())
        lower = float(matched["implied_units_lower"].sum())
        closer = "upper" if abs(billed - upper) <= abs(billed - lower) else "lower"
        found.append(
            Finding(
                report=REPORT,
                kind="queue-billing",
                subject="billed span",
                title=(
                    "The bill matches the cost model's upper bound: queued time is billed"
                    if closer == "upper"
                    else "The bill matches the lower bound: queued time is not billed"
                ),
                evidence=(
                    f"billed {billed:,.0f} units; builds imply {upper:,.0f} from SUBMITTED, "
                    f"{lower:,.0f} from PROVISIONING"
                ),
                strength="strong" if abs(upper - lower) > 0.01 * max(upper, 1) else "weak",
                action=f"read cost bounds at the {closer} end",
            )
        )
    listed = cost_summary(db, options=BillingOptions(prices="list"))
    billed_prices = cost_summary(db)
    if listed.unpriced_builds > billed_prices.unpriced_builds:
        found.append(
            Finding(
                report=REPORT,
                kind="priced-from-bill",
                subject="prices",
                title=(
                    f"{listed.unpriced_builds - billed_prices.unpriced_builds:,} builds with "
                    "no list price are priced from the bill"
                ),
                evidence=(
                    f"unpriced at list prices: {listed.unpriced_builds:,}; with bill rates: "
                    f"{billed_prices.unpriced_builds:,}"
                ),
                strength="strong",
                action="cost outputs use the bill's rates by default",
                command="ciwb cost summary --prices bill",
            )
        )
    if rec.inferred_usage_types:
        found.append(
            Finding(
                report=REPORT,
                kind="inferred-mapping",
                subject="usage types",
                title=f"{len(rec.inferred_usage_types)} usage-type spellings are inferred",
                evidence=", ".join(rec.inferred_usage_types[:8]),
                strength="weak",
                action="confirm them against your bill; data/billing/usage_types.csv cites each",
            )
        )
    return found
