"""Where build time goes: each phase's share of wall time and its percentiles.

Phase seconds come from phase timestamps (`build_phases.duration_s`), never from AWS's
truncated `durationInSeconds` (docs/reference/codebuild-facts.md, "Phases"). Wall time
is the build's `total_s` (end − start, which includes queueing). SUBMITTED, QUEUED and
PROVISIONING are reported on their own rows, flagged `waiting`: they are CodeBuild's
time, not the buildspec's.
"""

from __future__ import annotations

import polars as pl

from ciwb.codebuild.phases import TIMED_PHASES
from ciwb.store import DbLike, Selection, fetch_frame

__all__ = ["WAIT_PHASES", "phase_breakdown"]

# Phases a build spends waiting for CodeBuild rather than running its own commands.
WAIT_PHASES = ("SUBMITTED", "QUEUED", "PROVISIONING")


def phase_breakdown(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    successful_only: bool = True,
) -> pl.DataFrame:
    """One row per project × phase: builds, total/mean seconds, share of wall, p50–p99.

    `share_of_wall` is the phase's summed seconds over the summed wall time of the same
    builds, so a project's shares add up to ~1 (the gap is time between phases).
    """
    where, params = (selection or Selection()).where("b")
    if successful_only:
        where += " AND b.status = 'SUCCEEDED'"
    sql = f"""
        WITH chosen AS (
            SELECT build_arn, project_name, total_s FROM builds b
            WHERE {where} AND b.build_complete AND b.total_s IS NOT NULL
        ),
        wall AS (
            SELECT project_name, count(*) AS project_builds, sum(total_s) AS wall_s
            FROM chosen GROUP BY project_name
        ),
        per_phase AS (
            SELECT c.project_name, p.phase_type,
                   count(*) AS builds,
                   sum(p.duration_s) AS total_s,
                   -- one holistic aggregate for all four: one sort per group, not four
                   quantile_cont(p.duration_s, [0.50, 0.90, 0.95, 0.99]) AS q
            FROM chosen c JOIN build_phases p USING (build_arn)
            WHERE p.duration_s IS NOT NULL
            GROUP BY c.project_name, p.phase_type
        )
        SELECT pp.project_name, pp.phase_type,
               pp.phase_type IN (SELECT unnest(?::VARCHAR[])) AS waiting,
               pp.builds, pp.total_s, pp.total_s / pp.builds AS mean_s,
               pp.total_s / nullif(w.wall_s, 0) AS share_of_wall,
               pp.q[1] AS p50_s, pp.q[2] AS p90_s, pp.q[3] AS p95_s, pp.q[4] AS p99_s
        FROM per_phase pp JOIN wall w USING (project_name)
        ORDER BY pp.project_name,
                 coalesce(list_position(?::VARCHAR[], pp.phase_type), 99), pp.phase_type
    """
    return fetch_frame(db, sql, [*params, list(WAIT_PHASES), list(TIMED_PHASES)])
