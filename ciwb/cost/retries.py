"""Auto-retry and runner builds in money: each retry is its own billed build.

A retry chain (ciwb.codebuild.fleets.RETRY_CHAINS_SQL) costs the sum of its builds. Runner
builds are attributed to the workflow run and job whose identifiers they carry (runner_run_id,
runner_job_id, from CODEBUILD_WEBHOOK_*); builds without them are grouped as unidentified.
"""

from __future__ import annotations

import polars as pl

from ciwb.codebuild.fleets import RETRY_CHAINS_SQL
from ciwb.cost.billing import BillingOptions
from ciwb.cost.estimate import materialise_costs
from ciwb.store import DbLike, Selection, fetch_frame, reading

__all__ = ["retry_chain_costs", "runner_job_costs"]


def retry_chain_costs(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    options: BillingOptions | None = None,
) -> pl.DataFrame:
    """One row per auto-retry chain: its builds, retries, outcome and summed cost bounds.

    `passed_on_retry`: the chain failed at first and a later build of it succeeded on the same
    resolved source version — a flaky *build*.
    """
    with reading(db) as con:
        materialise_costs(con, selection, options=options, name="_ciwb_retry_c")
        return fetch_frame(
            con,
            f"""
            WITH chains AS ({RETRY_CHAINS_SQL})
            SELECT ch.chain_arn, b.project_name,
                   count(*) AS builds,
                   count(*) - 1 AS retries,
                   max(b.auto_retry_limit) AS retry_limit,
                   arg_min(b.status, ch.position) AS first_status,
                   arg_max(b.status, ch.position) AS final_status,
                   count(DISTINCT b.resolved_source_version) AS source_versions,
                   arg_min(b.status, ch.position) <> 'SUCCEEDED'
                       AND arg_max(b.status, ch.position) = 'SUCCEEDED'
                       AND count(DISTINCT b.resolved_source_version) <= 1 AS passed_on_retry,
                   min(b.start_time) AS start_time,
                   sum(c.cost_lower) AS cost_lower,
                   sum(c.cost_upper) AS cost_upper,
                   sum(c.cost_lower) FILTER (WHERE ch.position > 0) AS retry_cost_lower,
                   sum(c.cost_upper) FILTER (WHERE ch.position > 0) AS retry_cost_upper,
                   count(*) FILTER (WHERE c.unpriced_reason IS NOT NULL) AS unpriced_builds
            FROM chains ch
            JOIN builds b USING (build_arn)
            JOIN _ciwb_retry_c c USING (build_arn)
            GROUP BY ch.chain_arn, b.project_name
            ORDER BY start_time, ch.chain_arn
            """,
        )


def runner_job_costs(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    options: BillingOptions | None = None,
) -> pl.DataFrame:
    """Cost of runner builds per runner kind, workflow and job (where identifiers exist)."""
    with reading(db) as con:
        materialise_costs(con, selection, options=options, name="_ciwb_runner_c")
        return fetch_frame(
            con,
            """
            SELECT f.project_name, f.runner_kind, f.runner_workflow, f.runner_run_id,
                   f.runner_job_id, count(*) AS builds,
                   sum(c.billed_lower_s) / 60 AS billed_minutes_lower,
                   sum(c.cost_lower) AS cost_lower, sum(c.cost_upper) AS cost_upper
            FROM build_facts f JOIN _ciwb_runner_c c USING (build_arn)
            WHERE f.runner_kind IS NOT NULL
            GROUP BY ALL
            ORDER BY f.project_name, f.runner_workflow, f.runner_run_id, f.runner_job_id
            """,
        )
