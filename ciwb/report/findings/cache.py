"""Cache report findings: hit rates, the idle-expiry cliff, the money lost to misses, and the
projects without a cache."""

from __future__ import annotations

from typing import Any

import polars as pl

from ciwb.report.findings.base import Finding, register
from ciwb.report.findings.cost import cache as cache_expiry
from ciwb.report.findings.cost import whatif

__all__ = ["cache_findings"]

REPORT = "cache_tuning"


@register(REPORT)
def cache_findings(db: Any = None, selection: Any = None, **_: Any) -> list[Finding]:
    found = [Finding(**{**f.as_dict(), "report": REPORT}) for f in cache_expiry(db, selection)]
    table: pl.DataFrame = whatif("cache", db, selection).table
    none = (
        table.filter(pl.col("cache_type") == "NO_CACHE") if "cache_type" in table.columns else table
    )
    if none.height and "builds_per_month" in none.columns:
        busiest = none.sort("builds_per_month", descending=True).head(3)["project_name"]
        found.append(
            Finding(
                report=REPORT,
                title=f"{none.height} project(s) build without a cache: what one is worth is unknown",
                evidence=f"busiest without one: {', '.join(busiest.to_list())}",
                strength="weak",
                action="Measure warm against cold with a replay before adding one",
                kind="no_cache",
                subject=", ".join(none["project_name"].to_list()),
                command="ciwb replay experiment <checkout> --cache none,local",
            )
        )
    if not found:
        found.append(
            Finding(
                report=REPORT,
                title="No cache in this selection shows an idle-expiry cliff",
                evidence="hit rates do not depend on the idle time before a build",
                strength="moderate",
                action="Nothing to do",
                kind="nothing",
            )
        )
    return found
