"""Explore report findings: a few headline facts about the history."""

from __future__ import annotations

from typing import Any

from ciwb import analytics
from ciwb.report import format as fmt
from ciwb.report.findings._memo import memo
from ciwb.report.findings.base import Finding, register
from ciwb.report.tables import compute_name

__all__ = ["explore_findings"]

REPORT = "explore"


@register(REPORT)
def explore_findings(db: Any = None, selection: Any = None, **_: Any) -> list[Finding]:
    overview = memo(analytics.projects_overview, db, selection)
    if overview.is_empty():
        return [
            Finding(
                report=REPORT,
                title="No builds in this selection",
                evidence="the store has no builds matching the parameters",
                strength="strong",
                action="Widen the selection, or collect history first",
                kind="nothing",
                command="ciwb collect",
            )
        ]
    hours = overview["build_hours"].sum()
    busiest = overview.sort("build_hours", descending=True).row(0, named=True)
    builds = int(overview["builds"].sum())
    ok = (overview["success_rate"] * overview["builds"]).sum() / max(builds, 1)
    worst = overview.sort("success_rate").row(0, named=True)
    slowest = overview.sort("p95_s", descending=True, nulls_last=True).row(0, named=True)
    return [
        Finding(
            report=REPORT,
            title=(
                f"{busiest['project_name']} uses {fmt.share(busiest['build_hours'] / hours)} of "
                f"all build hours ({fmt.number(busiest['build_hours'], digits=0)} of "
                f"{fmt.number(hours, digits=0)} h)"
            ),
            evidence=(
                f"{busiest['builds']:,} builds, mostly on {compute_name(busiest['compute_type'])}"
            ),
            strength="strong",
            action="Savings there count most: open the cost report",
            kind="fact",
            subject=busiest["project_name"],
        ),
        Finding(
            report=REPORT,
            title=(
                f"{fmt.share(ok)} of {builds:,} builds succeeded; {worst['project_name']} least "
                f"often ({fmt.share(worst['success_rate'])})"
            ),
            evidence=f"{overview.height} projects",
            strength="strong",
            action="See why builds fail in the bottleneck report",
            kind="fact",
            subject=worst["project_name"],
        ),
        Finding(
            report=REPORT,
            title=(
                f"Slowest at p95: {slowest['project_name']} ({fmt.duration(slowest['p95_s'])}, "
                f"median {fmt.duration(slowest['p50_s'])})"
            ),
            evidence=f"successful builds of {slowest['project_name']}",
            strength="strong",
            action="See its phases in the bottleneck report",
            kind="fact",
            subject=slowest["project_name"],
        ),
    ]
