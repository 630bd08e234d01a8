"""Graviton report findings: a verdict per project — switch, keep or unknown — and the
experiment that would settle an unknown."""

from __future__ import annotations

from typing import Any

import polars as pl

from ciwb.report import format as fmt
from ciwb.report.findings.base import Finding, register
from ciwb.report.findings.cost import ARM_EXPERIMENT, _compute, _size, whatif

__all__ = ["graviton_findings"]

REPORT = "graviton_vs_x86"


@register(REPORT)
def graviton_findings(db: Any = None, selection: Any = None, **_: Any) -> list[Finding]:
    from ciwb.cost import arm64_verdict

    table: pl.DataFrame = whatif("arm64", db, selection).table
    found: list[Finding] = []
    if "speed_factor" not in table.columns:
        table = table.clear()
    for r in table.to_dicts():
        project, even = r["project_name"], r.get("break_even_factor")
        experiment = ARM_EXPERIMENT.format(project=project, size=_size(r["compute_type"]))
        if fmt.is_missing(r.get("speed_factor")):
            found.append(
                Finding(
                    report=REPORT,
                    title=f"{project}: unknown — no paired arm64/x86 evidence",
                    evidence=(
                        f"on {_compute(r['compute_type'])}; arm64 pays off if it takes less than "
                        f"{fmt.number(even, 'an unknown factor (no arm price)')} × the x86 time"
                    ),
                    strength="weak",
                    action="Replay it on both architectures to decide",
                    kind="verdict_unknown",
                    subject=project,
                    command=experiment,
                )
            )
            continue
        low, high = r.get("saving_month_low"), r.get("saving_month_high")
        decided = arm64_verdict(r["factor_low"], r["factor_high"], even)
        switch, keep = decided == "switch", decided == "keep"
        verdict = "keep x86_64" if keep else decided
        found.append(
            Finding(
                report=REPORT,
                title=(
                    f"{project}: {verdict} — arm64 takes {r['speed_factor']:.2f} × the x86 time"
                ),
                evidence=(
                    f"{r['evidence']}; 95 % interval {r['factor_low']:.2f}–{r['factor_high']:.2f}"
                    f" against a break-even of {fmt.number(even, 'unknown')} ×"
                ),
                strength="strong" if str(r["evidence"]).startswith("replay") else "moderate",
                action=(
                    f"Run {project} on arm64"
                    if switch
                    else f"Keep {project} on x86_64"
                    if keep
                    else "The interval straddles break-even: replay to narrow it"
                ),
                usd_per_month_low=low if switch else None,
                usd_per_month_high=high if switch else None,
                kind=f"verdict_{verdict.split()[0]}",
                subject=project,
                figures={
                    "speed_factor": r["speed_factor"],
                    "factor_low": r["factor_low"],
                    "factor_high": r["factor_high"],
                    "break_even_factor": even,
                },
                command=None if switch or keep else experiment,
            )
        )
    if not found:
        found.append(
            Finding(
                report=REPORT,
                title="No x86_64 project to compare: nothing to decide",
                evidence="every project in the selection already runs on arm64 or Lambda",
                strength="moderate",
                action="Nothing to do",
                kind="nothing",
            )
        )
    return found
