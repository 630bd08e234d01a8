"""Cost report findings: the what-ifs ranked by what they save, and what is left unpriced.

Each what-if (right-size, arm64, cache, reserved capacity, Lambda) becomes findings with a
monthly saving as a low–high range, the evidence behind it and the next step. A what-if
with nothing worth doing says so in one finding rather than staying silent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl

from ciwb.report import format as fmt
from ciwb.report.findings._memo import memo
from ciwb.report.findings.base import Finding, register
from ciwb.report.tables import ENVIRONMENTS

__all__ = ["cost_findings", "whatif"]

REPORT = "cost_report"
ARM_EXPERIMENT = (
    "ciwb replay experiment <checkout of {project}> --arch amd64,arm64 --compute {size}"
)


def whatif(kind: str, db: Any, selection: Any = None) -> Any:
    """The what-if `kind` for this selection, computed once per report run."""
    from ciwb.cost import run_whatif

    return memo(run_whatif, kind, db, selection)


def summary(db: Any, selection: Any = None, by: str = "project") -> Any:
    from ciwb.cost import cost_summary

    return memo(cost_summary, db, selection, by=by)


def _size(compute_type: str | None) -> str:
    return (compute_type or "BUILD_GENERAL1_SMALL").removeprefix("BUILD_GENERAL1_").lower()


def _compute(compute_type: str | None, environment: str | None = "LINUX_CONTAINER") -> str:
    from ciwb.report.tables import compute_name as words

    return words(compute_type or "?", environment)


def rightsize(db: Any, selection: Any) -> Iterator[Finding]:
    table: pl.DataFrame = whatif("rightsize", db, selection).table
    if table.is_empty() or "saving_month_upper" not in table.columns:
        return
    over = table.filter(pl.col("finding") == "OVER_PROVISIONED")
    for r in over.sort("saving_month_upper", descending=True, nulls_last=True).to_dicts():
        low, high = r.get("saving_month_lower"), r.get("saving_month_upper")
        priced = not fmt.is_missing(high)
        env = r.get("environment_type")
        yield Finding(
            report=REPORT,
            title=(
                f"Right-size {r['project_name']}: {_compute(r['compute_type'], env)} → "
                f"{_compute(r['recommended_compute_type'], env)}"
            ),
            evidence=(
                f"p95 use over {r['builds_with_metrics']:,} builds with metrics: CPU "
                f"{fmt.share(r['cpu_pct'], of=100)}, memory {fmt.share(r['memory_pct'], of=100)} "
                f"of {_compute(r['compute_type'], env)}; risk if resized: "
                f"{str(r.get('performance_risk') or 'unknown').lower()}"
                + ("" if priced else "; unpriced: no price for its compute type")
            ),
            strength="strong" if (r["builds_with_metrics"] or 0) >= 30 else "moderate",
            action=(
                f"Set {r['project_name']}'s compute type to {r['recommended_compute_type']}"
                f" ({_compute(r['recommended_compute_type'], env)})"
                + ("" if priced else "; run `ciwb pricing refresh` to price the saving")
            ),
            usd_per_month_low=low if priced else None,
            usd_per_month_high=high if priced else None,
            kind="rightsize",
            subject=r["project_name"],
            command="ciwb cost whatif rightsize",
            figures={
                "compute_type": r["compute_type"],
                "recommended_compute_type": r["recommended_compute_type"],
                "cpu_pct": r["cpu_pct"],
                "memory_pct": r["memory_pct"],
            },
        )
    under = table.filter(pl.col("finding") == "UNDER_PROVISIONED")
    for r in under.to_dicts():
        yield Finding(
            report=REPORT,
            title=(
                f"{r['project_name']} is short of resources on "
                f"{_compute(r['compute_type'], r.get('environment_type'))}"
            ),
            evidence=(
                f"p95 CPU {fmt.share(r['cpu_pct'], of=100)}, memory "
                f"{fmt.share(r['memory_pct'], of=100)}: builds are slowed by the compute type"
            ),
            strength="moderate",
            action=(
                f"Try {r['recommended_compute_type'] or 'the next size up'}: faster builds may "
                "cost no more per build"
            ),
            kind="underprovisioned",
            subject=r["project_name"],
        )
    if over.is_empty() and under.is_empty():
        yield Finding(
            report=REPORT,
            title="Every project's compute type fits its use: nothing to right-size",
            evidence=f"{table.height} projects with CPU and memory metrics, none over-provisioned",
            strength="moderate",
            action="Nothing to do",
            kind="rightsize",
        )


def arm64(db: Any, selection: Any) -> Iterator[Finding]:
    table: pl.DataFrame = whatif("arm64", db, selection).table
    if table.is_empty() or "speed_factor" not in table.columns:
        return
    from ciwb.cost import arm64_verdict

    measured = table.filter(pl.col("speed_factor").is_not_null())
    for r in measured.sort("saving_month_high", descending=True, nulls_last=True).to_dicts():
        factor = r["speed_factor"]
        even = r.get("break_even_factor")
        verdict = arm64_verdict(r["factor_low"], r["factor_high"], even)
        pays = verdict == "switch"
        low, high = r.get("saving_month_low"), r.get("saving_month_high")
        project = r["project_name"]
        yield Finding(
            report=REPORT,
            title=(
                f"arm64 for {project}: builds take {factor:.2f} × the x86 time"
                + {
                    "switch": "",
                    "keep": " — slower than the price difference pays for",
                    "unknown": " — too close to break-even to call",
                }[verdict]
            ),
            evidence=(
                f"{r['evidence']}; factor 95 % interval {r['factor_low']:.2f}–"
                f"{r['factor_high']:.2f}, break-even {fmt.number(even, 'no arm price')} ×"
            ),
            strength="strong" if str(r["evidence"]).startswith("replay") else "moderate",
            action={
                "switch": (
                    f"Run {project} on arm64 ({_compute(r['compute_type'], 'ARM_CONTAINER')})"
                ),
                "keep": f"Keep {project} on x86_64",
                "unknown": (
                    "The interval straddles break-even: replay it on both architectures to "
                    "narrow it"
                    if not fmt.is_missing(even)
                    else "No arm64 price for its compute type here: run `ciwb pricing refresh`"
                ),
            }[verdict],
            usd_per_month_low=low if pays else None,
            usd_per_month_high=high if pays else None,
            kind="arm64",
            subject=project,
            command=(
                ARM_EXPERIMENT.format(project=project, size=_size(r["compute_type"]))
                if verdict == "unknown" and not fmt.is_missing(even)
                else "ciwb cost whatif arm64"
            ),
            figures={
                "speed_factor": factor,
                "factor_low": r["factor_low"],
                "factor_high": r["factor_high"],
                "break_even_factor": even,
                "verdict": verdict,
            },
        )
    unknown = table.filter(pl.col("speed_factor").is_null())
    if unknown.height:
        names = ", ".join(unknown["project_name"].to_list())
        first = unknown.row(0, named=True)
        yield Finding(
            report=REPORT,
            title=f"arm64 is untested for {unknown.height} project(s): the saving is unknown",
            evidence=f"no paired arm64/x86 builds for {names}",
            strength="weak",
            action="Replay each on both architectures to measure its speed factor",
            kind="arm64_unknown",
            subject=names,
            command=ARM_EXPERIMENT.format(
                project=first["project_name"], size=_size(first["compute_type"])
            ),
        )


def cache(db: Any, selection: Any) -> Iterator[Finding]:
    from ciwb import analytics

    table: pl.DataFrame = whatif("cache", db, selection).table
    if table.is_empty():
        return
    expiry = memo(analytics.cache_idle_expiry, db, selection)
    by_project = {r["project_name"]: r for r in table.to_dicts()}
    for r in expiry.sort("cliff", descending=True).to_dicts():
        if (r.get("cliff") or 0) < 0.3:  # idle time hardly matters for this cache
            continue
        row = by_project.get(r["project_name"], {})
        lost = row.get("misses_cost_month")
        delta, d_low, d_high = row.get("delta_s"), row.get("delta_low_s"), row.get("delta_high_s")
        low = high = lost
        if not fmt.is_missing(lost) and delta and d_low and d_high:
            low, high = lost * d_low / delta, lost * d_high / delta
        priced = not fmt.is_missing(lost)
        yield Finding(
            report=REPORT,
            title=(
                f"{r['project_name']}'s {row.get('cache_type', '')} cache expires after "
                f"{r['expiry_min']:.0f} min idle" + (" — what its misses cost" if priced else "")
            ),
            evidence=(
                f"hit rate {fmt.share(r['hit_rate_before'])} within {r['expiry_min']:.0f} min "
                f"of the previous build, {fmt.share(r['hit_rate_after'])} after; "
                f"{fmt.share(r['hit_rate'])} overall over {r['builds']:,} builds; a miss costs "
                f"{fmt.duration(delta)} of INSTALL"
                + ("" if priced else "; unpriced: no price for its compute type")
            ),
            strength="moderate",
            action=(
                "Keep the cache warm with a scheduled build more often than the expiry"
                + (" or move it to S3" if row.get("cache_type") == "LOCAL" else "")
                + "; measure with a replay"
            ),
            usd_per_month_low=low if priced else None,
            usd_per_month_high=high if priced else None,
            kind="cache_expiry",
            subject=r["project_name"],
            figures={
                "expiry_min": r["expiry_min"],
                "hit_rate": r["hit_rate"],
                "hit_rate_before": r["hit_rate_before"],
                "hit_rate_after": r["hit_rate_after"],
            },
            command="ciwb replay experiment <checkout> --cache none,local,s3",
        )


def reserved(db: Any, selection: Any) -> Iterator[Finding]:
    result = whatif("reserved", db, selection)
    table: pl.DataFrame = result.table
    if table.is_empty() or "fleet_size" not in table.columns:
        return
    one = table.filter(pl.col("fleet_size") == 1).sort("utilisation", descending=True)
    if one.is_empty():
        return
    best = one.row(0, named=True)
    yield Finding(
        report=REPORT,
        title=(
            f"Reserved capacity: a fleet of 1 {_compute(best['compute_type'])} "
            f"({ENVIRONMENTS.get(best['environment_type'], best['environment_type'])}) would be busy {fmt.share(best['utilisation'])}"
            " of the time — worth it only below its break-even rate"
        ),
        evidence=(
            f"{best['builds']:,} builds, peak {best['peak_concurrency']} concurrent; the fleet "
            f"would carry {fmt.count(best['carried_minutes'])} build minutes; break-even "
            f"${best['break_even_rate']:.4f} per instance-minute; no fleet price is known"
        ),
        strength="weak",
        action="Compare the break-even rate with the fleet price for your region",
        kind="reserved",
        subject=best["compute_type"],
        command="ciwb cost whatif reserved",
    )


def lambda_compute(db: Any, selection: Any) -> Iterator[Finding]:
    table: pl.DataFrame = whatif("lambda", db, selection).table
    if table.is_empty() or "saving_month_upper" not in table.columns:
        return
    saving = table.filter(pl.col("saving_month_upper") > 0)
    for r in saving.sort("saving_month_upper", descending=True).to_dicts():
        yield Finding(
            report=REPORT,
            title=(
                f"Lambda compute for {r['project_name']} "
                f"({_compute(r['lambda_compute_type'])}) costs less than EC2"
            ),
            evidence=(
                f"{r['eligible_builds']:,} of {r['builds']:,} builds short, unprivileged and "
                f"small enough; {r['too_long']:,} too long, {r['privileged']:,} privileged"
            ),
            strength="moderate",
            action="Try the project on Lambda compute; durations may change with its CPUs",
            usd_per_month_low=r["saving_month_lower"],
            usd_per_month_high=r["saving_month_upper"],
            kind="lambda",
            subject=r["project_name"],
            command="ciwb cost whatif lambda",
        )
    unpriced = table.filter(
        (pl.col("eligible_builds") > 0) & pl.col("saving_month_upper").is_null()
    )
    if unpriced.height:
        yield Finding(
            report=REPORT,
            title=(
                f"Lambda compute would suit {unpriced.height} project(s) whose Lambda size "
                "has no price yet"
            ),
            evidence=", ".join(
                f"{r['project_name']} ({_compute(r['lambda_compute_type'])})"
                for r in unpriced.to_dicts()
            ),
            strength="weak",
            action="Price the Lambda sizes, then re-run the report",
            kind="lambda_unpriced",
            command="ciwb pricing refresh",
        )


def unpriced(db: Any, selection: Any) -> Iterator[Finding]:
    s = summary(db, selection)
    if not s.unpriced_builds:
        return
    reasons = "; ".join(f"{reason} ({n:,} builds)" for reason, n in s.unpriced_reasons.items())
    yield Finding(
        report=REPORT,
        title=(
            f"{s.unpriced_builds:,} of {s.builds:,} builds "
            f"({fmt.share(s.unpriced_builds / max(s.builds, 1))}) are unpriced: totals leave them out"
        ),
        evidence=reasons,
        strength="strong",
        action="Read current prices from the AWS Price List, then re-run the report",
        kind="unpriced",
        command="ciwb pricing refresh --region <region>",
    )


@register(REPORT)
def cost_findings(db: Any = None, selection: Any = None, **_: Any) -> list[Finding]:
    found = [
        *rightsize(db, selection),
        *arm64(db, selection),
        *cache(db, selection),
        *lambda_compute(db, selection),
        *reserved(db, selection),
        *unpriced(db, selection),
    ]
    if not any(f.worth > 0 for f in found):
        found.append(
            Finding(
                report=REPORT,
                title="No what-if saves money in this selection",
                evidence="right-size, arm64, cache, Lambda and reserved capacity were all tried",
                strength="moderate",
                action="Nothing to change; widen the selection or replay experiments for evidence",
                kind="nothing",
            )
        )
    return found
