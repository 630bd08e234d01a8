"""Bottleneck report findings: where wall time goes, what got slower and when, what fails."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl

from ciwb import analytics
from ciwb.report import format as fmt
from ciwb.report.findings._memo import memo
from ciwb.report.findings.base import Finding, register

__all__ = ["bottleneck_findings"]

REPORT = "bottleneck_report"


def phases(db: Any, selection: Any) -> Iterator[Finding]:
    breakdown = memo(analytics.phase_breakdown, db, selection)
    if breakdown.is_empty():
        return
    by_phase = (
        breakdown.group_by("phase_type")
        .agg(pl.col("total_s").sum())
        .with_columns((pl.col("total_s") / pl.col("total_s").sum()).alias("share"))
        .sort("total_s", descending=True)
    )
    top = by_phase.head(3).to_dicts()
    lead = top[0]
    projects = (
        breakdown.filter(pl.col("phase_type") == lead["phase_type"])
        .sort("total_s", descending=True)
        .head(3)["project_name"]
        .to_list()
    )
    yield Finding(
        report=REPORT,
        title=(
            f"{lead['phase_type']} holds {fmt.share(lead['share'])} of all wall time "
            f"({fmt.duration(lead['total_s'])})"
        ),
        evidence=(
            "then "
            + ", ".join(f"{r['phase_type']} {fmt.share(r['share'])}" for r in top[1:])
            + f"; most of it in {', '.join(projects)}"
        ),
        strength="strong",
        action=(
            f"Start with {lead['phase_type']} in {projects[0]}: see the command hotspots below"
        ),
        kind="phase_time",
        subject=lead["phase_type"],
    )
    waiting = breakdown.filter(pl.col("waiting") & (pl.col("phase_type") != "SUBMITTED"))
    if not waiting.is_empty():
        worst = waiting.sort("p95_s", descending=True).row(0, named=True)
        if (worst["p95_s"] or 0) >= 60:
            yield Finding(
                report=REPORT,
                title=(
                    f"{worst['project_name']} waits {fmt.duration(worst['p95_s'])} in "
                    f"{worst['phase_type']} at p95"
                ),
                evidence=f"median {fmt.duration(worst['p50_s'])} over {worst['builds']:,} builds",
                strength="moderate",
                action=(
                    "Long queues point at the concurrent-build limit or a small fleet; long "
                    "provisioning at a large custom image"
                ),
                kind="waiting",
                subject=worst["project_name"],
            )


def regressions(db: Any, selection: Any) -> Iterator[Finding]:
    found = memo(analytics.duration_regressions, db, selection)
    slower = found.filter(pl.col("direction") == "slower").sort("change_pct", descending=True)
    for r in slower.to_dicts():
        yield Finding(
            report=REPORT,
            title=(
                f"{r['project_name']} got {r['change_pct']:.1f} % slower from {r['change_date']}"
                f" ({fmt.duration(r['before_s'])} → {fmt.duration(r['after_s'])} median)"
            ),
            evidence=(
                f"change point in the daily median, {fmt.share(r['confidence'])} confidence "
                f"(permutation test, p = {r['p_value']:.3f})"
            ),
            strength="strong" if r["confidence"] >= 0.99 else "moderate",
            action=f"Look at what merged in {r['project_name']} on {r['change_date']}",
            kind="regression",
            subject=r["project_name"],
            figures={
                "change_date": str(r["change_date"]),
                "change_pct": r["change_pct"],
                "before_s": r["before_s"],
                "after_s": r["after_s"],
                "confidence": r["confidence"],
            },
        )
    faster = found.filter(pl.col("direction") == "faster")
    for r in faster.to_dicts():
        yield Finding(
            report=REPORT,
            title=(
                f"{r['project_name']} got {abs(r['change_pct']):.1f} % faster from "
                f"{r['change_date']}"
            ),
            evidence=f"{fmt.duration(r['before_s'])} → {fmt.duration(r['after_s'])} median",
            strength="moderate",
            action="Nothing to fix; worth knowing what helped",
            kind="improvement",
            subject=r["project_name"],
        )
    if found.is_empty():
        yield Finding(
            report=REPORT,
            title="No project got measurably slower in this window",
            evidence="no change point of at least 10 % in any project's daily median",
            strength="moderate",
            action="Nothing to do",
            kind="regression",
        )


def failures(db: Any, selection: Any) -> Iterator[Finding]:
    rates = memo(analytics.failure_rates, db, selection)
    for r in rates.sort("failures", descending=True).head(3).to_dicts():
        yield Finding(
            report=REPORT,
            title=(
                f"{r['project_name']} fails {fmt.share(r['failure_rate'])} of builds in "
                f"{r['failed_phase']} ({r['failures']:,} failures)"
            ),
            evidence=f"CodeBuild reason {r['context_code']}, {r['builds']:,} builds",
            strength="strong" if r["failures"] >= 30 else "moderate",
            action="See the failing commands below: one shared script often causes most",
            kind="failure_hotspot",
            subject=r["project_name"],
        )
    causes = memo(analytics.failure_causes, db, selection)
    platform = causes.filter(pl.col("cause") == "platform")
    if not platform.is_empty():
        total = int(platform["failures"].sum())
        yield Finding(
            report=REPORT,
            title=f"{total:,} failed builds were CodeBuild's or the platform's, not the code's",
            evidence=", ".join(
                f"{r['project_name']} {r['failures']:,}"
                for r in platform.sort("failures", descending=True).head(5).to_dicts()
            ),
            strength="moderate",
            action="Raise these with the platform team; retrying them costs money",
            kind="platform_failures",
        )


def flaky(db: Any, selection: Any) -> Iterator[Finding]:
    tests = memo(analytics.flaky_tests, db, selection)
    for r in tests.head(3).to_dicts():
        yield Finding(
            report=REPORT,
            title=(
                f"Flaky test {r['test_name']!s} ({r['project_name']}) failed "
                f"{r['builds_failed']:,} builds"
            ),
            evidence=(
                f"{r['suite']}: passed on retry on {r['pass_on_retry_versions']:,} versions, "
                f"flip rate {fmt.share(r['flip_rate'])} over {r['runs']:,} runs"
            ),
            strength="strong",
            action="Quarantine or fix it: each failure was a retry someone waited for",
            kind="flaky_test",
            subject=f"{r['project_name']}: {r['test_name']}",
        )


@register(REPORT)
def bottleneck_findings(db: Any = None, selection: Any = None, **_: Any) -> list[Finding]:
    return [
        *phases(db, selection),
        *regressions(db, selection),
        *failures(db, selection),
        *flaky(db, selection),
    ]
