"""Flaky tests: the ones that both pass and fail on the same code.

Evidence, per test (project, suite, name), over a window of builds:
- pass-on-retry: source versions (`builds.resolved_source_version`) on which the test
  both FAILED and SUCCEEDED — the code did not change, the outcome did;
- flip rate: status changes between consecutive runs (in build start order) over
  runs − 1;
- a minimum number of runs, so a test seen twice is not judged.
Ranked by the builds they failed, which is what they cost the team.
"""

from __future__ import annotations

import polars as pl

from ciwb.store import DbLike, Selection, fetch_frame

__all__ = ["flaky_tests"]


def flaky_tests(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    window_days: int | None = 30,
    min_runs: int = 10,
    min_flip_rate: float = 0.0,
    min_retry_versions: int = 2,
    include_stable: bool = False,
) -> pl.DataFrame:
    """Tests with pass-on-retry evidence, ranked by builds failed.

    `window_days` counts back from the newest test run in the selection (not from today,
    so an old snapshot gives the same answer tomorrow); None uses the whole selection.
    A test is `flaky` when it has ≥ `min_runs` runs, ≥ `min_retry_versions` source
    versions on which it both passed and failed (one could be a fix pushed under the same
    version, or a broken dependency that recovered), and a flip rate ≥ `min_flip_rate`. `include_stable` keeps the other tests
    (with `flaky` false) for context.
    """
    where, params = (selection or Selection()).where("b")
    window = "TRUE"
    if window_days is not None:
        window = (
            f"r.start_time >= (SELECT max(start_time) FROM runs) - INTERVAL {int(window_days)} DAY"
        )
    sql = f"""
        WITH runs AS (
            SELECT b.project_name, coalesce(tc.test_suite_name, '') AS suite, tc.name AS test_name,
                   b.build_arn, b.start_time, b.resolved_source_version AS source_version,
                   tc.status
            FROM test_cases tc
            JOIN reports rp USING (report_arn)
            JOIN builds b ON b.build_arn = coalesce(rp.build_arn, tc.build_arn)
            WHERE {where} AND tc.status IN ('SUCCEEDED', 'FAILED')
        ),
        windowed AS (
            SELECT r.*,
                   lag(r.status) OVER (
                       PARTITION BY r.project_name, r.suite, r.test_name
                       ORDER BY r.start_time, r.build_arn
                   ) AS previous_status
            FROM runs r WHERE {window}
        ),
        per_version AS (
            SELECT project_name, suite, test_name, source_version,
                   bool_or(status = 'FAILED') AND bool_or(status = 'SUCCEEDED') AS mixed
            FROM windowed WHERE source_version IS NOT NULL
            GROUP BY ALL
        ),
        per_test AS (
            SELECT project_name, suite, test_name,
                   count(*) AS runs,
                   count(*) FILTER (WHERE status = 'FAILED') AS failures,
                   count(DISTINCT build_arn) FILTER (WHERE status = 'FAILED') AS builds_failed,
                   count(*) FILTER (WHERE previous_status IS NOT NULL
                                      AND previous_status <> status) AS flips,
                   min(start_time) AS first_run, max(start_time) AS last_run
            FROM windowed GROUP BY ALL
        )
        SELECT t.project_name, t.suite, t.test_name, t.runs, t.failures, t.builds_failed,
               coalesce(v.retry_versions, 0) AS pass_on_retry_versions,
               t.failures / t.runs AS failure_rate,
               t.flips / greatest(t.runs - 1, 1) AS flip_rate,
               t.runs >= ? AND coalesce(v.retry_versions, 0) >= ?
                   AND t.flips / greatest(t.runs - 1, 1) >= ? AS flaky,
               t.first_run, t.last_run
        FROM per_test t
        LEFT JOIN (
            SELECT project_name, suite, test_name, count(*) FILTER (WHERE mixed) AS retry_versions
            FROM per_version GROUP BY ALL
        ) v USING (project_name, suite, test_name)
        ORDER BY flaky DESC, t.builds_failed DESC, flip_rate DESC, t.test_name
    """
    frame = fetch_frame(db, sql, [*params, min_runs, min_retry_versions, min_flip_rate])
    if not include_stable:
        frame = frame.filter(pl.col("flaky"))
    return frame
