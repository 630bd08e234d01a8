"""Managed runner builds (GitHub Actions, GitHub Enterprise, GitLab, Buildkite): overhead.

A workflow job runs as one build of a runner project; the runner itself runs in BUILD (AWS
user guide, "Self-hosted GitHub Actions runners in AWS CodeBuild"). AWS is silent on which
phases a runner build reports and on when the job's first step starts inside BUILD.
CHOICE: runner builds report the usual phases, and the job's first command is taken to start
when BUILD starts (the runner's own registration inside BUILD is invisible to CodeBuild), so
overhead = time billed before BUILD: from the PROVISIONING start (lower bound, queue not billed)
or from the build's start (upper bound). Cost per workflow and job: ciwb.cost.retries.
"""

from __future__ import annotations

import polars as pl

from ciwb.store import DbLike, Selection, fetch_frame

__all__ = ["runner_overhead", "runner_overhead_summary"]


def runner_overhead(db: DbLike = None, selection: Selection | None = None) -> pl.DataFrame:
    """One row per runner build: kind, workflow/run/job ids, overhead bounds, BUILD seconds."""
    where, params = (selection or Selection()).where("f")
    return fetch_frame(
        db,
        f"""
        WITH marks AS (
            SELECT build_arn,
                   min(start_time) FILTER (WHERE phase_type = 'PROVISIONING') AS provisioning,
                   min(start_time) FILTER (WHERE phase_type = 'BUILD') AS build_start
            FROM build_phases GROUP BY build_arn
        )
        SELECT f.build_arn, f.project_name, f.runner_kind, f.runner_workflow,
               f.runner_run_id, f.runner_job_id, f.status, f.start_time,
               date_diff('millisecond', m.provisioning, m.build_start) / 1e3 AS overhead_lower_s,
               date_diff('millisecond', f.start_time, m.build_start) / 1e3 AS overhead_upper_s,
               f.build_s, f.total_s
        FROM build_facts f JOIN marks m USING (build_arn)
        WHERE {where} AND f.runner_kind IS NOT NULL AND f.build_complete
          AND m.build_start IS NOT NULL
        ORDER BY f.start_time, f.build_arn
        """,
        params,
    )


def runner_overhead_summary(db: DbLike = None, selection: Selection | None = None) -> pl.DataFrame:
    """Per runner project: builds, median and p95 overhead, overhead share of billed time."""
    per_build = runner_overhead(db, selection)
    if per_build.is_empty():
        return per_build.select("project_name", "runner_kind")
    return (
        per_build.group_by("project_name", "runner_kind")
        .agg(
            pl.len().alias("builds"),
            pl.col("overhead_lower_s").median().alias("median_overhead_s"),
            pl.col("overhead_lower_s").quantile(0.95, "linear").alias("p95_overhead_s"),
            (
                pl.col("overhead_lower_s").sum()
                / (pl.col("overhead_lower_s") + pl.col("build_s")).sum()
            ).alias("overhead_share"),
        )
        .sort("project_name")
    )
