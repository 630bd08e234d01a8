"""Queue-time SLOs: p50/p95/p99 of the wait before a build runs (QUEUED + PROVISIONING).

CloudWatch gives only averages of QueuedDuration; percentiles are what an SLO is written in.
Grouped by compute type (environment and compute type), fleet, or hour of week (UTC; 0 =
Monday 00:00).
"""

from __future__ import annotations

import polars as pl

from ciwb.store import DbLike, Selection, fetch_frame

__all__ = ["GROUPS", "queue_time_slos"]

GROUPS = {
    "compute": ("environment_type", "compute_type"),
    "fleet": ("fleet",),
    "hour_of_week": ("hour_of_week",),
}


def queue_time_slos(
    db: DbLike = None, selection: Selection | None = None, *, by: str = "compute"
) -> pl.DataFrame:
    """Per group: builds, p50/p95/p99 and max of queued_s + provisioning_s, in seconds."""
    if by not in GROUPS:
        raise ValueError(f"by must be one of {', '.join(GROUPS)}")
    keys = ", ".join(GROUPS[by])
    where, params = (selection or Selection()).where("f")
    return fetch_frame(
        db,
        f"""
        WITH w AS (
            SELECT f.environment_type, f.compute_type,
                   coalesce(fl.name, CASE WHEN f.fleet_arn IS NULL THEN 'on-demand'
                                          ELSE f.fleet_arn END) AS fleet,
                   CAST((isodow(f.start_time) - 1) * 24 + hour(f.start_time) AS INTEGER)
                       AS hour_of_week,
                   coalesce(f.queued_s, 0) + coalesce(f.provisioning_s, 0) AS wait_s
            FROM build_facts f LEFT JOIN fleets fl USING (fleet_arn)
            WHERE {where} AND f.build_complete AND f.start_time IS NOT NULL
        )
        SELECT {keys}, count(*) AS builds,
               quantile_cont(wait_s, 0.5) AS p50_wait_s,
               quantile_cont(wait_s, 0.95) AS p95_wait_s,
               quantile_cont(wait_s, 0.99) AS p99_wait_s,
               max(wait_s) AS max_wait_s
        FROM w GROUP BY ALL ORDER BY {keys}
        """,
        params,
    )
