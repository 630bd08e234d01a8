"""What-if: right-size each project's compute type, in the manner of AWS Compute Optimizer.

Per project, over its last N builds on its current compute type: the P95 (configurable) of
each build's CPUUtilizedPercent and MemoryUtilizedPercent (per-build `p95_value`, or
`max_value`), scaled to vCPUs and GB of the current shape, plus headroom, is the capacity
needed. Findings:
- OVER_PROVISIONED: a smaller shape of the same environment holds that need (downsizing
  must be safe for nearly every build, hence the high percentile plus headroom);
- UNDER_PROVISIONED: the typical build (median over builds of its mean utilisation) runs
  the shape at or above `saturation` (85%) on CPU or memory; the recommendation is the
  smallest shape holding the need, at least one size up;
- OPTIMIZED otherwise (a busy but unsaturated shape shows as a higher performance risk);
- INSUFFICIENT_DATA below `min_builds` builds with metrics. Performance risk grades the projected peak utilisation on the recommended
shape. Saving assumes durations do not change (per-minute billing keeps billed minutes).
CloudWatch only reports utilisation for builds over one minute (reference, "CloudWatch").
"""

from __future__ import annotations

from typing import Any

import polars as pl

from ciwb.codebuild.shapes import SIZES, shape_of
from ciwb.cost.billing import BillingOptions
from ciwb.cost.estimate import materialise_costs
from ciwb.cost.prices import UNIT_SECONDS
from ciwb.cost.whatif import WhatIf, months_covered, register_whatif
from ciwb.store import DbLike, Selection, fetch_frame, reading

__all__ = ["FINDINGS", "performance_risk", "recommend_shape", "rightsize"]

FINDINGS = ("OVER_PROVISIONED", "UNDER_PROVISIONED", "OPTIMIZED", "INSUFFICIENT_DATA")
_RISK_LEVELS = ((40.0, "VERY_LOW"), (60.0, "LOW"), (80.0, "MEDIUM"), (float("inf"), "HIGH"))


def performance_risk(projected_peak_pct: float) -> str:
    """Grade of the projected P95 utilisation (the busier of CPU and memory) on a shape."""
    return next(level for bound, level in _RISK_LEVELS if projected_peak_pct < bound)


def recommend_shape(
    environment_type: str, required_vcpu: float, required_memory_gb: float
) -> tuple[str | None, bool]:
    """Smallest compute type of the environment holding the need; (largest, False) if none."""
    shapes = [shape_of(environment_type, f"BUILD_GENERAL1_{size}") for size in SIZES]
    known = [s for s in shapes if s is not None and s.vcpu is not None]
    for shape in known:
        if shape.vcpu >= required_vcpu and shape.memory_gb >= required_memory_gb:
            return shape.compute_type, True
    return (known[-1].compute_type if known else None), False


_METRICS_SQL = """
WITH latest AS (
    SELECT project_name, arg_max(environment_type, start_time) AS environment_type,
           arg_max(compute_type, start_time) AS compute_type,
           arg_max(region, start_time) AS region
    FROM builds WHERE build_complete AND fleet_arn IS NULL GROUP BY project_name
),
recent AS (
    SELECT b.build_arn, b.project_name,
           row_number() OVER (PARTITION BY b.project_name ORDER BY b.start_time DESC) AS rn
    FROM builds b JOIN latest l
      ON l.project_name = b.project_name AND l.environment_type = b.environment_type
     AND l.compute_type = b.compute_type
    WHERE b.build_complete AND b.fleet_arn IS NULL
      AND b.build_arn IN (SELECT build_arn FROM build_metrics
                          WHERE metric_name IN ('CPUUtilizedPercent', 'MemoryUtilizedPercent'))
)
SELECT l.project_name, l.region, l.environment_type, l.compute_type,
       count(DISTINCT r.build_arn) AS builds_with_metrics,
       quantile_cont(m.{stat}_value, {q}) FILTER (WHERE m.metric_name = 'CPUUtilizedPercent')
           AS cpu_pct,
       quantile_cont(m.{stat}_value, {q}) FILTER (WHERE m.metric_name = 'MemoryUtilizedPercent')
           AS memory_pct,
       median(m.mean_value) FILTER (WHERE m.metric_name = 'CPUUtilizedPercent')
           AS cpu_typical_pct,
       median(m.mean_value) FILTER (WHERE m.metric_name = 'MemoryUtilizedPercent')
           AS memory_typical_pct,
       max(m.{stat}_value) FILTER (WHERE m.metric_name = 'CPUUtilizedPercent') AS cpu_max_pct,
       max(m.{stat}_value) FILTER (WHERE m.metric_name = 'MemoryUtilizedPercent')
           AS memory_max_pct
FROM latest l
JOIN recent r ON r.project_name = l.project_name AND r.rn <= {last_n}
JOIN build_metrics m ON m.build_arn = r.build_arn
WHERE m.metric_name IN ('CPUUtilizedPercent', 'MemoryUtilizedPercent')
GROUP BY ALL ORDER BY l.project_name
"""


@register_whatif("rightsize")
def rightsize(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    percentile: float = 0.95,
    statistic: str = "p95",
    last_n: int = 50,
    headroom: float = 0.2,
    saturation: float = 0.85,
    min_builds: int = 5,
    options: BillingOptions | None = None,
) -> WhatIf:
    """Per project: utilisation, recommended compute type, finding, risk and monthly saving."""
    if statistic not in ("p95", "max", "mean"):
        raise ValueError("statistic must be p95, max or mean")
    with reading(db) as con:
        prices = materialise_costs(con, selection, options=options)
        months = months_covered(con)
        usage = fetch_frame(
            con, _METRICS_SQL.format(stat=statistic, q=float(percentile), last_n=int(last_n))
        )
        billed = fetch_frame(
            con,
            """
            SELECT project_name, environment_type, compute_type,
                   count(*) AS builds,
                   count(*) FILTER (WHERE unpriced_reason IS NOT NULL) AS unpriced_builds,
                   sum(billed_lower_s) AS billed_lower_s, sum(billed_upper_s) AS billed_upper_s,
                   sum(cost_lower) AS cost_lower, sum(cost_upper) AS cost_upper
            FROM _ciwb_c WHERE fleet_arn IS NULL GROUP BY ALL
            """,
        )
    price = {(p.region, p.environment_type, p.compute_type): p for p in prices}
    # Utilisation is read over each project's latest builds whatever the window, so only
    # the selection's projects and region narrow it.
    if selection is not None and selection.projects:
        usage = usage.filter(pl.col("project_name").is_in(selection.projects))
    if selection is not None and selection.region:
        usage = usage.filter(pl.col("region") == selection.region)
    rows: list[dict[str, Any]] = []
    unpriced = 0
    for u in usage.to_dicts():
        shape = shape_of(u["environment_type"], u["compute_type"])
        row: dict[str, Any] = dict(u)
        row.update(vcpu=shape.vcpu if shape else None, memory_gb=shape.memory_gb if shape else None)
        if shape is None or shape.vcpu is None or u["cpu_pct"] is None or u["memory_pct"] is None:
            row.update(finding="INSUFFICIENT_DATA", performance_risk=None)
            rows.append(row)
            continue
        need_vcpu = u["cpu_pct"] / 100 * shape.vcpu * (1 + headroom)
        need_gb = u["memory_pct"] / 100 * shape.memory_gb * (1 + headroom)
        fit, _ = recommend_shape(u["environment_type"], need_vcpu, need_gb)
        order = {f"BUILD_GENERAL1_{size}": i for i, size in enumerate(SIZES)}
        current = order[u["compute_type"]]
        typical = max(u["cpu_typical_pct"] or 0.0, u["memory_typical_pct"] or 0.0)
        if u["builds_with_metrics"] < min_builds:
            finding, recommended = "INSUFFICIENT_DATA", u["compute_type"]
        elif typical >= saturation * 100:
            finding = "UNDER_PROVISIONED"
            up = SIZES[min(current + 1, len(SIZES) - 1)]
            recommended = fit if fit and order[fit] > current else f"BUILD_GENERAL1_{up}"
        elif fit and order[fit] < current:
            finding, recommended = "OVER_PROVISIONED", fit
        else:
            finding, recommended = "OPTIMIZED", u["compute_type"]
        rec = shape_of(u["environment_type"], recommended)
        assert rec is not None and rec.vcpu is not None
        peak = max(
            u["cpu_pct"] * shape.vcpu / rec.vcpu, u["memory_pct"] * shape.memory_gb / rec.memory_gb
        )
        row.update(
            required_vcpu=need_vcpu,
            required_memory_gb=need_gb,
            recommended_compute_type=recommended if finding != "INSUFFICIENT_DATA" else None,
            recommended_vcpu=rec.vcpu,
            recommended_memory_gb=rec.memory_gb,
            finding=finding,
            projected_peak_pct=peak,
            performance_risk=performance_risk(peak),
        )
        mine = billed.filter(
            (pl.col("project_name") == u["project_name"])
            & (pl.col("environment_type") == u["environment_type"])
            & (pl.col("compute_type") == u["compute_type"])
        )
        if mine.height and finding != "INSUFFICIENT_DATA":
            b = mine.row(0, named=True)
            now = price.get((u["region"], u["environment_type"], u["compute_type"]))
            new = price.get((u["region"], u["environment_type"], recommended))
            row.update(
                builds_costed=b["builds"],
                cost_month_lower=(b["cost_lower"] or 0) / months if now else None,
                cost_month_upper=(b["cost_upper"] or 0) / months if now else None,
            )
            if recommended == u["compute_type"] and now:
                row.update(
                    recommended_cost_month_lower=row["cost_month_lower"],
                    recommended_cost_month_upper=row["cost_month_upper"],
                    saving_month_lower=0.0,
                    saving_month_upper=0.0,
                )
            elif now and new and b["billed_lower_s"] is not None:
                unit = UNIT_SECONDS[new.unit]
                row.update(
                    recommended_cost_month_lower=b["billed_lower_s"] / unit * new.price / months,
                    recommended_cost_month_upper=b["billed_upper_s"] / unit * new.price / months,
                )
                row["saving_month_lower"] = (
                    row["cost_month_lower"] - row["recommended_cost_month_lower"]
                )
                row["saving_month_upper"] = (
                    row["cost_month_upper"] - row["recommended_cost_month_upper"]
                )
            else:
                unpriced += b["builds"]
        rows.append(row)
    table = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()
    return WhatIf(
        kind="rightsize",
        assumption=(
            f"capacity needed = P{percentile * 100:g} over the last {last_n} builds of each "
            f"build's {statistic} CPU/memory utilisation × current shape × (1 + {headroom:g} "
            "headroom); the smallest shape of the same environment that holds it; build "
            f"durations unchanged by the move; under-provisioned when the median build's mean "
            f"CPU or memory utilisation is at least {saturation:.0%}"
        ),
        evidence="CloudWatch CPUUtilizedPercent and MemoryUtilizedPercent per build "
        "(table build_metrics); column builds_with_metrics",
        uncertainty=f"fewer than {min_builds} builds → INSUFFICIENT_DATA; performance_risk "
        "grades the projected peak on the recommended shape (VERY_LOW <40%, LOW <60%, "
        "MEDIUM <80%, HIGH); CPU-bound builds may slow down on fewer vCPUs",
        table=table,
        unpriced_builds=unpriced,
        columns=(
            "project_name",
            "compute_type",
            "builds_with_metrics",
            "cpu_typical_pct",
            "cpu_pct",
            "memory_pct",
            "recommended_compute_type",
            "finding",
            "performance_risk",
            "saving_month_lower",
            "saving_month_upper",
        ),
    )
