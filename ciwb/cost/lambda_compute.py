"""What-if: run eligible builds on Lambda compute, billed per second.

A build qualifies when it ran under 15 minutes (Lambda compute's limit), without privileged
mode, and its project's memory need fits a Lambda size (1, 2, 4, 8 or 10 GB). Memory is
the build's peak `MemoryUtilized` (MB) or `MemoryUtilizedPercent` × the shape's memory; the
project's size is the smallest that holds its P95 peak plus headroom. Builds without a
memory metric do not qualify ("memory unknown"). Durations are assumed unchanged; Lambda
sizes without a price row leave their builds unpriced (the seed has only 1 GB).
"""

from __future__ import annotations

import pyarrow as pa

from ciwb.codebuild.shapes import LAMBDA_SIZES, SHAPES
from ciwb.cost.billing import BILLING_RULES, BillingOptions
from ciwb.cost.estimate import materialise_costs
from ciwb.cost.whatif import WhatIf, billed_sql, months_covered, register_whatif
from ciwb.store import DbLike, Selection, fetch_frame, reading

__all__ = ["LAMBDA_MAX_SECONDS", "lambda_compute"]

LAMBDA_MAX_SECONDS = 15 * 60


@register_whatif("lambda")
def lambda_compute(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    headroom: float = 0.2,
    percentile: float = 0.95,
    options: BillingOptions | None = None,
) -> WhatIf:
    """Per project: qualifying builds, why others do not qualify, cost now vs on Lambda."""
    rule = next(r for r in BILLING_RULES if "LINUX_LAMBDA_CONTAINER" in r.environment_types)
    shapes = pa.Table.from_pylist([s._asdict() for s in SHAPES])
    sizes = pa.Table.from_pylist(
        [{"compute_type": k, "gb": float(v)} for k, v in LAMBDA_SIZES.items()]
    )
    with reading(db) as con:
        materialise_costs(con, selection, options=options)
        months = months_covered(con)
        con.register("_ciwb_shapes", shapes)
        con.register("_ciwb_lambda_sizes", sizes)

        def billed(seconds: str) -> str:
            return billed_sql(seconds, rule.granularity_s, rule.minimum_s)

        table = fetch_frame(
            con,
            f"""
            WITH mem AS (
                SELECT build_arn,
                       max(max_value) FILTER (WHERE metric_name = 'MemoryUtilized') / 1024
                           AS used_gb,
                       max(max_value) FILTER (WHERE metric_name = 'MemoryUtilizedPercent')
                           AS used_pct
                FROM build_metrics
                WHERE metric_name IN ('MemoryUtilized', 'MemoryUtilizedPercent')
                GROUP BY build_arn
            ),
            b AS (
                SELECT c.*, coalesce(mem.used_gb, mem.used_pct / 100 * s.memory_gb) AS mem_gb
                FROM _ciwb_c c
                LEFT JOIN mem USING (build_arn)
                LEFT JOIN _ciwb_shapes s
                  ON s.environment_type = c.environment_type AND s.compute_type = c.compute_type
                WHERE c.environment_type IN ('LINUX_CONTAINER', 'ARM_CONTAINER')
                  AND c.fleet_arn IS NULL
            ),
            need AS (
                SELECT project_name,
                       quantile_cont(mem_gb, {float(percentile)}) * (1 + {float(headroom)})
                           AS need_gb
                FROM b GROUP BY project_name
            ),
            sized AS (
                SELECT need.*, (SELECT arg_min(z.compute_type, z.gb) FROM _ciwb_lambda_sizes z
                                WHERE z.gb >= need.need_gb) AS lambda_compute_type
                FROM need
            ),
            judged AS (
                SELECT b.*, sized.need_gb, sized.lambda_compute_type,
                       CASE WHEN b.arch = 'arm64' THEN 'ARM_LAMBDA_CONTAINER'
                            ELSE 'LINUX_LAMBDA_CONTAINER' END AS lambda_environment_type,
                       CASE WHEN coalesce(b.privileged_mode, false) THEN 'privileged mode'
                            WHEN b.lower_s >= {LAMBDA_MAX_SECONDS} THEN 'runs 15 min or more'
                            WHEN sized.need_gb IS NULL THEN 'memory unknown'
                            WHEN sized.lambda_compute_type IS NULL THEN 'needs more than 10 GB'
                       END AS not_eligible
                FROM b JOIN sized USING (project_name)
            ),
            priced AS (
                SELECT judged.*, p.price AS lambda_price, p.unit_s AS lambda_unit_s
                FROM judged LEFT JOIN _ciwb_prices p
                  ON p.region = judged.region
                 AND p.environment_type = judged.lambda_environment_type
                 AND p.compute_type = judged.lambda_compute_type
            )
            SELECT project_name,
                   any_value(lambda_compute_type) AS lambda_compute_type,
                   any_value(need_gb) AS memory_need_gb,
                   count(*) AS builds,
                   count(*) FILTER (WHERE not_eligible IS NULL) AS eligible_builds,
                   count(*) FILTER (WHERE not_eligible = 'privileged mode') AS privileged,
                   count(*) FILTER (WHERE not_eligible = 'runs 15 min or more') AS too_long,
                   count(*) FILTER (WHERE not_eligible = 'memory unknown') AS memory_unknown,
                   count(*) FILTER (WHERE not_eligible = 'needs more than 10 GB') AS too_big,
                   count(*) FILTER (WHERE not_eligible IS NULL AND lambda_price IS NULL)
                       AS lambda_unpriced_builds,
                   sum(cost_lower) FILTER (WHERE not_eligible IS NULL AND lambda_price IS NOT NULL)
                       / {months} AS cost_now_month_lower,
                   sum(cost_upper) FILTER (WHERE not_eligible IS NULL AND lambda_price IS NOT NULL)
                       / {months} AS cost_now_month_upper,
                   sum({billed("lower_s")} / lambda_unit_s * lambda_price)
                       FILTER (WHERE not_eligible IS NULL) / {months} AS cost_lambda_month_lower,
                   sum({billed("upper_s")} / lambda_unit_s * lambda_price)
                       FILTER (WHERE not_eligible IS NULL) / {months} AS cost_lambda_month_upper
            FROM priced GROUP BY project_name ORDER BY project_name
            """,
        )
        con.unregister("_ciwb_shapes")
        con.unregister("_ciwb_lambda_sizes")
    table = table.with_columns(
        saving_month_lower=table["cost_now_month_lower"] - table["cost_lambda_month_lower"],
        saving_month_upper=table["cost_now_month_upper"] - table["cost_lambda_month_upper"],
    )
    return WhatIf(
        kind="lambda",
        assumption=(
            "eligible = under 15 minutes, not privileged, P"
            f"{percentile * 100:g} peak memory × (1 + {headroom:g}) fits a Lambda size; "
            "same billed duration, per-second billing, same architecture"
        ),
        evidence="build durations and flags from history; memory from CloudWatch "
        "MemoryUtilized / MemoryUtilizedPercent (build_metrics)",
        uncertainty="Lambda CPU differs from the EC2 shapes, so durations may change; "
        "builds without a memory metric are not counted as eligible; Lambda compute also "
        "lacks features (e.g. local caching) that a build may need",
        table=table,
        unpriced_builds=int(table["lambda_unpriced_builds"].sum()) if table.height else 0,
        columns=(
            "project_name",
            "builds",
            "eligible_builds",
            "lambda_compute_type",
            "too_long",
            "privileged",
            "memory_unknown",
            "cost_now_month_lower",
            "cost_lambda_month_lower",
            "saving_month_lower",
        ),
    )
