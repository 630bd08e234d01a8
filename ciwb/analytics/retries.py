"""Auto-retry: how often builds are retried, and which chains fail then pass (flaky builds).

A chain is an initial build and its retries (ciwb.codebuild.fleets.RETRY_CHAINS_SQL). A chain
that fails and then passes on the same resolved source version is a flaky *build*: nothing in
the code changed. Where test reports exist, the tests that failed in a failed attempt and passed
in the chain's passing build name the likely cause. Costs of chains: ciwb.cost.retries.
"""

from __future__ import annotations

import polars as pl

from ciwb.codebuild.fleets import RETRY_CHAINS_SQL
from ciwb.store import DbLike, Selection, fetch_frame

__all__ = ["auto_retry_summary", "flaky_build_tests", "retry_chains"]


def retry_chains(db: DbLike = None, selection: Selection | None = None) -> pl.DataFrame:
    """One row per chain: project, builds, retries, first/final status, passed_on_retry."""
    where, params = (selection or Selection()).where("b")
    return fetch_frame(
        db,
        f"""
        WITH chains AS ({RETRY_CHAINS_SQL})
        SELECT ch.chain_arn, b.project_name, count(*) AS builds, count(*) - 1 AS retries,
               max(b.auto_retry_limit) AS retry_limit,
               arg_min(b.status, ch.position) AS first_status,
               arg_max(b.status, ch.position) AS final_status,
               arg_min(b.status, ch.position) <> 'SUCCEEDED'
                   AND arg_max(b.status, ch.position) = 'SUCCEEDED'
                   AND count(DISTINCT b.resolved_source_version) <= 1 AS passed_on_retry,
               min(b.start_time) AS start_time
        FROM chains ch JOIN builds b USING (build_arn)
        WHERE {where}
        GROUP BY ch.chain_arn, b.project_name
        ORDER BY start_time, ch.chain_arn
        """,
        params,
    )


def auto_retry_summary(db: DbLike = None, selection: Selection | None = None) -> pl.DataFrame:
    """Per project with auto-retry: chains, retries, retried and flaky chains, pass-on-retry
    rate (flaky chains over chains whose first build failed)."""
    chains = retry_chains(db, selection)
    if chains.is_empty():
        return pl.DataFrame(
            schema={
                "project_name": pl.String,
                "chains": pl.UInt32,
                "retries": pl.Int64,
                "failed_first": pl.UInt32,
                "passed_on_retry": pl.UInt32,
                "pass_on_retry_rate": pl.Float64,
            }
        )
    return (
        chains.group_by("project_name")
        .agg(
            pl.len().alias("chains"),
            pl.col("retries").sum().alias("retries"),
            (pl.col("first_status") != "SUCCEEDED").sum().alias("failed_first"),
            pl.col("passed_on_retry").sum().alias("passed_on_retry"),
        )
        .with_columns(
            (pl.col("passed_on_retry") / pl.col("failed_first")).alias("pass_on_retry_rate")
        )
        .sort("passed_on_retry", "project_name", descending=[True, False])
    )


def flaky_build_tests(db: DbLike = None, selection: Selection | None = None) -> pl.DataFrame:
    """Per flaky chain's test: failed in an earlier attempt, passed in a later one."""
    where, params = (selection or Selection()).where("b")
    return fetch_frame(
        db,
        f"""
        WITH chains AS ({RETRY_CHAINS_SQL}),
        runs AS (
            SELECT ch.chain_arn, ch.position, b.project_name,
                   coalesce(tc.test_suite_name, '') AS suite, tc.name AS test_name, tc.status
            FROM chains ch JOIN builds b USING (build_arn)
            JOIN reports rp ON rp.build_arn = b.build_arn
            JOIN test_cases tc USING (report_arn)
            WHERE {where}
        )
        SELECT project_name, suite, test_name, count(DISTINCT chain_arn) AS flaky_chains
        FROM runs f
        WHERE status = 'FAILED' AND EXISTS (
            SELECT 1 FROM runs p WHERE p.chain_arn = f.chain_arn AND p.suite = f.suite
              AND p.test_name = f.test_name AND p.position > f.position
              AND p.status = 'SUCCEEDED')
        GROUP BY ALL ORDER BY flaky_chains DESC, project_name, suite, test_name
        """,
        params,
    )
