"""Why builds fail: rates by phase and context code, code-vs-platform causes, bad commands.

The failing phase and its context code come from the `build_facts` view (the first phase
whose status is FAILED/FAULT/TIMED_OUT/STOPPED). Context codes and the message text are
what the agent logs as `Phase context status code: <CODE> Message: <text>`
(docs/reference/codebuild-facts.md, "CloudWatch Logs"), so the message doubles as the
log marker that separates an infrastructure hiccup from a broken change.
"""

from __future__ import annotations

import polars as pl

from ciwb.codebuild.phases import COMMAND_PHASES, FAILURE_STATUSES
from ciwb.store import DbLike, Selection, fetch_frame

__all__ = [
    "PLATFORM_MARKERS",
    "classify_failures",
    "failing_commands",
    "failure_causes",
    "failure_rates",
]

# Phases that run no buildspec commands: a failure there is CodeBuild's (or its
# integrations': source provider, S3, image registry), not the change under test.
_PLATFORM_PHASES = ("SUBMITTED", "QUEUED", "PROVISIONING", "UPLOAD_ARTIFACTS", "FINALIZING")
_FAILURE_STATUSES_SQL = ", ".join(f"'{status}'" for status in FAILURE_STATUSES)

# Log/context-message fragments of infrastructure failures (lower case, substring match).
PLATFORM_MARKERS: tuple[str, ...] = (
    "no space left on device",
    "cannot connect to the docker daemon",
    "toomanyrequests",
    "rate exceeded",
    "throttl",
    "requesterror",
    "connection reset",
    "connection timed out",
    "i/o timeout",
    "could not resolve host",
    "temporary failure in name resolution",
    "service unavailable",
    "internal error",
    "insufficient capacity",
    "oomkilled",
    "out of memory",
)


def failure_rates(
    db: DbLike = None,
    selection: Selection | None = None,
) -> pl.DataFrame:
    """Per project × failing phase × context code: failures and their rate over all builds."""
    where, params = (selection or Selection()).where("f")
    sql = f"""
        WITH chosen AS (
            SELECT * FROM build_facts f WHERE {where} AND f.build_complete
        ),
        totals AS (SELECT project_name, count(*) AS project_builds FROM chosen GROUP BY 1)
        SELECT c.project_name,
               coalesce(c.failed_phase, 'UNKNOWN') AS failed_phase,
               coalesce(c.failed_context_code, '') AS context_code,
               count(*) AS failures,
               t.project_builds AS builds,
               count(*) / t.project_builds AS failure_rate
        FROM chosen c JOIN totals t USING (project_name)
        WHERE c.status <> 'SUCCEEDED'
        GROUP BY c.project_name, 2, 3, t.project_builds
        ORDER BY failures DESC, c.project_name
    """
    return fetch_frame(db, sql, params)


def classify_failures(
    db: DbLike = None,
    selection: Selection | None = None,
) -> pl.DataFrame:
    """One row per failed build with `cause` ∈ code | platform | timeout | stopped | unknown.

    Rules, first match wins: a platform marker in the failing phase's message → platform;
    build status FAULT → platform; STOPPED → stopped; TIMED_OUT → timeout; a phase that
    runs no commands → platform; DOWNLOAD_SOURCE → platform (source provider) unless the
    code is YAML_FILE_ERROR; YAML_FILE_ERROR or COMMAND_EXECUTION_ERROR → code; a command
    phase with a non-zero command exit logged → code; else unknown. `reason` says which.
    """
    where, params = (selection or Selection()).where("f")
    markers = list(PLATFORM_MARKERS)
    sql = f"""
        WITH failed AS (
            SELECT f.build_arn, f.project_name, f.start_time, f.status,
                   f.failed_phase, f.failed_context_code
            FROM build_facts f
            WHERE {where} AND f.build_complete AND f.status <> 'SUCCEEDED'
        ),
        messages AS (
            SELECT p.build_arn, arg_min(p.context_message, p.seq) AS context_message
            FROM build_phases p JOIN failed USING (build_arn)
            WHERE p.status IN ({_FAILURE_STATUSES_SQL})
            GROUP BY 1
        ),
        bad_commands AS (
            SELECT c.build_arn, arg_min(c.command, c.seq) AS failed_command
            FROM build_commands c JOIN failed USING (build_arn)
            WHERE c.exit_status IS NOT NULL AND c.exit_status <> 0
            GROUP BY 1
        ),
        marked AS (
            SELECT f.*, m.context_message, bc.failed_command,
                   list_filter(?::VARCHAR[],
                       lambda mk: contains(lower(coalesce(m.context_message, '')), mk))[1]
                       AS platform_marker
            FROM failed f
            LEFT JOIN messages m USING (build_arn)
            LEFT JOIN bad_commands bc USING (build_arn)
        )
        SELECT build_arn, project_name, start_time, status, failed_phase,
               failed_context_code AS context_code, context_message, failed_command,
               CASE
                 WHEN platform_marker IS NOT NULL THEN 'platform'
                 WHEN status = 'FAULT' THEN 'platform'
                 WHEN status = 'STOPPED' THEN 'stopped'
                 WHEN status = 'TIMED_OUT' THEN 'timeout'
                 WHEN failed_phase IN (SELECT unnest(?::VARCHAR[])) THEN 'platform'
                 WHEN failed_phase = 'DOWNLOAD_SOURCE'
                      AND coalesce(failed_context_code, '') <> 'YAML_FILE_ERROR' THEN 'platform'
                 WHEN failed_context_code IN ('YAML_FILE_ERROR', 'COMMAND_EXECUTION_ERROR')
                   THEN 'code'
                 WHEN failed_phase IN (SELECT unnest(?::VARCHAR[]))
                      AND failed_command IS NOT NULL THEN 'code'
                 ELSE 'unknown'
               END AS cause,
               CASE
                 WHEN platform_marker IS NOT NULL THEN 'log marker: ' || platform_marker
                 WHEN status IN ('FAULT', 'STOPPED', 'TIMED_OUT') THEN 'build status ' || status
                 WHEN failed_phase IN (SELECT unnest(?::VARCHAR[]))
                   THEN 'failed in ' || failed_phase || ' (runs no buildspec commands)'
                 WHEN failed_phase = 'DOWNLOAD_SOURCE'
                      AND coalesce(failed_context_code, '') <> 'YAML_FILE_ERROR'
                   THEN 'source download failed'
                 WHEN failed_context_code IS NOT NULL
                   THEN failed_context_code || ' in ' || coalesce(failed_phase, '?')
                 WHEN failed_command IS NOT NULL THEN 'command failed: ' || failed_command
                 ELSE 'no phase context or command log'
               END AS reason
        FROM marked
        ORDER BY start_time
    """
    plat = list(_PLATFORM_PHASES)
    return fetch_frame(db, sql, [*params, markers, plat, list(COMMAND_PHASES), plat])


def failure_causes(
    db: DbLike = None,
    selection: Selection | None = None,
) -> pl.DataFrame:
    """Failed builds per project and cause, with each cause's share of the failures."""
    failed = classify_failures(db, selection)
    return (
        failed.group_by("project_name", "cause")
        .agg(pl.len().alias("failures"))
        .with_columns(
            (pl.col("failures") / pl.col("failures").sum().over("project_name")).alias("share")
        )
        .sort(["project_name", "failures"], descending=[False, True])
    )


def failing_commands(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    limit: int = 20,
) -> pl.DataFrame:
    """The commands that exit non-zero most often, with runs, failure rate and projects.

    From `build_commands` (parsed logs or replays). Builds without command rows still
    name their failing command in the phase context (`Error while executing command: X.
    Reason: exit status N`); those count as failures with unknown runs (`source` says
    which evidence a row rests on).
    """
    where, params = (selection or Selection()).where("b")
    sql = f"""
        WITH logged AS (
            SELECT c.command, c.phase_type, b.project_name, c.exit_status <> 0 AS failed
            FROM build_commands c JOIN builds b USING (build_arn)
            WHERE {where} AND c.exit_status IS NOT NULL
        ),
        from_context AS (
            SELECT regexp_extract(p.context_message,
                       'Error while executing command: (.*)[.] Reason: exit status', 1) AS command,
                   p.phase_type, b.project_name, TRUE AS failed
            FROM build_phases p JOIN builds b USING (build_arn)
            WHERE {where} AND p.context_code = 'COMMAND_EXECUTION_ERROR'
              AND NOT EXISTS (SELECT 1 FROM build_commands c WHERE c.build_arn = p.build_arn)
        ),
        combined AS (
            SELECT *, 'build_commands' AS source FROM logged
            UNION ALL
            SELECT *, 'phase context' AS source FROM from_context WHERE command <> ''
        )
        SELECT command, phase_type,
               count(*) FILTER (WHERE failed) AS failures,
               nullif(count(*) FILTER (WHERE source = 'build_commands'), 0) AS runs,
               count(*) FILTER (WHERE failed AND source = 'build_commands')
                   / nullif(count(*) FILTER (WHERE source = 'build_commands'), 0)
                   AS failure_rate,
               list(DISTINCT project_name ORDER BY project_name) AS projects,
               string_agg(DISTINCT source, ', ' ORDER BY source) AS source
        FROM combined
        GROUP BY command, phase_type
        HAVING failures > 0
        ORDER BY failures DESC, command
        LIMIT ?
    """
    return fetch_frame(db, sql, [*params, *params, limit])
