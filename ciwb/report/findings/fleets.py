"""Findings for CodeBuild as of 2026: idle fleets, fleet sizing, flaky builds, runner overhead.

Registered for the cost report. Money is per month: a window's figure × 30 / its days.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ciwb.analytics.fleets import fleet_sizing, recommended_capacity
from ciwb.analytics.runners import runner_overhead_summary
from ciwb.cost.billing import FleetRate
from ciwb.cost.fleets import fleet_costs
from ciwb.cost.retries import retry_chain_costs
from ciwb.report.findings.base import Finding, register
from ciwb.store import DbLike, Selection

__all__ = ["fleet_findings", "retry_findings", "runner_findings"]

REPORT = "cost_report"
TARGET_P95_S = 60.0


def _per_month(amount: float | None, days: float) -> float | None:
    return None if amount is None or days <= 0 else amount * 30.0 / days


@register(REPORT)
def fleet_findings(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    fleet_rate: FleetRate | None = None,
    **_: Any,
) -> Iterable[Finding]:
    """An idle fleet's cost, and the base capacity its own builds need (a queue simulation)."""
    costs = fleet_costs(db, selection, fleet_rate=fleet_rate)
    if costs.is_empty():
        return []
    sizing = fleet_sizing(db, selection, target_p95_s=TARGET_P95_S)
    wanted = recommended_capacity(sizing)
    out: list[Finding] = []
    for row in costs.iter_rows(named=True):
        if not row["provisioned_instance_h"]:
            continue  # the selection's window holds none of the fleet's life
        days = (row["window_end"] - row["window_start"]).total_seconds() / 86400
        idle = _per_month(row["idle_cost"], days)
        priced = row["rate_per_instance_minute"] is not None
        out.append(
            Finding(
                report=REPORT,
                title=(
                    f"Fleet {row['fleet']} is busy {row['utilisation']:.0%} of the time it is "
                    "paid for"
                ),
                evidence=(
                    f"{row['base_capacity']} instances over {days:.0f} days: "
                    f"{row['busy_instance_h']:.0f} busy of {row['provisioned_instance_h']:.0f} "
                    f"instance-hours; {row['overflow_builds']} of {row['builds']} builds "
                    "overflowed to on-demand"
                    + ("" if priced else "; no reserved-capacity rate, so not priced")
                ),
                strength="strong" if row["builds"] >= 100 else "moderate",
                action=(
                    "shrink the fleet or let idle hours go (fewer instances at night)"
                    if priced
                    else "give the fleet's rate: ciwb cost ... --fleet-rate PRICE_PER_MINUTE"
                ),
                usd_per_month_low=None,
                usd_per_month_high=idle,
                kind="fleet_idle",
                subject=row["fleet"],
            )
        )
        k = wanted.get(row["fleet"])
        if k is not None and k != row["base_capacity"]:
            rate = row["rate_per_instance_minute"]
            delta = (row["base_capacity"] - k) * 60 * 24 * 30 * rate if rate is not None else None
            out.append(
                Finding(
                    report=REPORT,
                    title=(
                        f"Fleet {row['fleet']}: {k} instances would keep the p95 queue under "
                        f"{TARGET_P95_S:.0f} s (it has {row['base_capacity']})"
                    ),
                    evidence=(
                        f"the fleet's own {row['builds']} builds replayed against 1..16 "
                        f"instances (a queue simulation, first come first served)"
                    ),
                    strength="moderate",
                    action=f"set baseCapacity to {k}",
                    usd_per_month_low=None,
                    usd_per_month_high=delta if delta is not None and delta > 0 else None,
                    kind="fleet_sizing",
                    subject=row["fleet"],
                )
            )
    return out


@register(REPORT)
def retry_findings(
    db: DbLike = None, selection: Selection | None = None, **_: Any
) -> Iterable[Finding]:
    """Projects whose auto-retry hides flaky builds, with what the retries cost."""
    chains = retry_chain_costs(db, selection)
    if chains.is_empty():
        return []
    out: list[Finding] = []
    for project in sorted(set(chains["project_name"])):
        mine = chains.filter(chains["project_name"] == project)
        flaky = int(mine["passed_on_retry"].sum())
        if not flaky:
            continue
        days = max((mine["start_time"].max() - mine["start_time"].min()).total_seconds(), 1) / 86400
        low = mine["retry_cost_lower"].sum()
        high = mine["retry_cost_upper"].sum()
        out.append(
            Finding(
                report=REPORT,
                title=f"{project}: {flaky} builds failed and then passed on auto-retry",
                evidence=(
                    f"{flaky} of {mine.height} retry chains failed, then passed on the same "
                    f"commit; {int(mine['retries'].sum())} retries in all"
                ),
                strength="strong" if flaky >= 10 else "moderate",
                action="fix the flaky step (see the flaky tests); auto-retry only hides it",
                usd_per_month_low=_per_month(low, days),
                usd_per_month_high=_per_month(high, days),
                kind="flaky_build",
                subject=project,
            )
        )
    return out


@register(REPORT)
def runner_findings(
    db: DbLike = None, selection: Selection | None = None, **_: Any
) -> Iterable[Finding]:
    """Runner projects, with the billed time each build spends before the job's first step."""
    summary = runner_overhead_summary(db, selection)
    if summary.is_empty():
        return []
    return [
        Finding(
            report=REPORT,
            title=(
                f"{row['project_name']}: each runner build spends {row['median_overhead_s']:.0f} s "
                "billed before the job starts"
            ),
            evidence=(
                f"median over {row['builds']} {row['runner_kind']} builds; "
                f"{row['overhead_share']:.0%} of their billed time (PROVISIONING to BUILD)"
            ),
            strength="moderate",
            action="a warm fleet or a slimmer image shortens the runner's start-up",
            kind="runner_overhead",
            subject=row["project_name"],
        )
        for row in summary.iter_rows(named=True)
    ]
