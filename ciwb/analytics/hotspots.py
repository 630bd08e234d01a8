"""Command hotspots: the buildspec commands that take the most time in total.

Per-command timings come from `build_commands`, parsed from CloudWatch build logs or
written by replays (`source` says which), both in CodeBuild's `[Container]` log format.
"""

from __future__ import annotations

import polars as pl

from ciwb.store import DbLike, Selection, fetch_frame

__all__ = ["command_hotspots"]


def command_hotspots(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    limit: int = 20,
) -> pl.DataFrame:
    """The `limit` slowest commands by total seconds, per project and phase.

    `share` is the command's part of all command seconds in the selection.
    """
    where, params = (selection or Selection()).where("b")
    sql = f"""
        WITH timed AS (
            SELECT b.project_name, c.phase_type, c.command, c.duration_s, c.build_arn
            FROM build_commands c JOIN builds b USING (build_arn)
            WHERE {where} AND c.duration_s IS NOT NULL
        )
        SELECT project_name, phase_type, command,
               count(*) AS runs,
               count(DISTINCT build_arn) AS builds,
               sum(duration_s) AS total_s,
               avg(duration_s) AS mean_s,
               quantile_cont(duration_s, 0.95) AS p95_s,
               sum(duration_s) / (SELECT sum(duration_s) FROM timed) AS share
        FROM timed
        GROUP BY ALL
        ORDER BY total_s DESC, command
        LIMIT ?
    """
    return fetch_frame(db, sql, [*params, limit])
