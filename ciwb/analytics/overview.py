"""What is in the selection: per project (and architecture) counts and typical durations."""

from __future__ import annotations

import polars as pl

from ciwb.store import DbLike, Selection, fetch_frame

__all__ = ["arch_comparison", "projects_overview"]


def projects_overview(
    db: DbLike = None,
    selection: Selection | None = None,
) -> pl.DataFrame:
    """Per project: builds, success rate, p50/p95 duration, compute, arch, first/last build."""
    where, params = (selection or Selection()).where("b")
    sql = f"""
        SELECT project_name, region,
               count(*) AS builds,
               avg(CASE WHEN status = 'SUCCEEDED' THEN 1.0 ELSE 0.0 END) AS success_rate,
               quantile_cont(total_s, 0.5) FILTER (WHERE status = 'SUCCEEDED') AS p50_s,
               quantile_cont(total_s, 0.95) FILTER (WHERE status = 'SUCCEEDED') AS p95_s,
               sum(total_s) / 3600 AS build_hours,
               mode(compute_type) AS compute_type,
               string_agg(DISTINCT arch, ',' ORDER BY arch) AS arch,
               mode(cache_type) AS cache_type,
               min(start_time) AS first_build, max(start_time) AS last_build
        FROM builds b
        WHERE {where} AND b.build_complete
        GROUP BY project_name, region
        ORDER BY builds DESC, project_name
    """
    return fetch_frame(db, sql, params)


def arch_comparison(
    db: DbLike = None,
    selection: Selection | None = None,
) -> pl.DataFrame:
    """Per project × arch × compute type: successful builds and their p50/p95 seconds.

    Projects built on both arm64 and x86_64 get `p50_vs_x86` (arm64 p50 over x86_64 p50
    of the same project and compute size). Observed history, not a controlled experiment:
    the two may have run different code; paired replays are the stronger evidence.
    """
    where, params = (selection or Selection()).where("b")
    sql = f"""
        WITH per_arch AS (
            SELECT project_name, arch,
                   regexp_extract(compute_type, '([A-Z0-9]+)$', 1) AS size,
                   compute_type, count(*) AS builds,
                   quantile_cont(total_s, 0.5) AS p50_s,
                   quantile_cont(total_s, 0.95) AS p95_s,
                   quantile_cont(build_s, 0.5) AS build_phase_p50_s
            FROM build_facts b
            WHERE {where} AND b.status = 'SUCCEEDED'
            GROUP BY ALL
        )
        SELECT a.*, a.p50_s / x.p50_s AS p50_vs_x86
        FROM per_arch a
        LEFT JOIN per_arch x
          ON x.project_name = a.project_name AND x.size = a.size AND x.arch = 'x86_64'
        ORDER BY a.project_name, a.size, a.arch
    """
    return fetch_frame(db, sql, params)
