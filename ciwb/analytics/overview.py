"""What is in the selection: per project (and architecture) counts and typical durations."""

from __future__ import annotations

import polars as pl

from ciwb.store import DbLike, Selection, fetch_frame

__all__ = ["arch_comparison", "projects_overview"]


def _usual(column: str) -> str:
    """Per project and region of `chosen`: the most frequent non-null `column`, ties to the
    first by name."""
    return f"""
        SELECT project_name, region, first({column} ORDER BY n DESC, {column}) AS {column}
        FROM (SELECT project_name, region, {column}, count(*) AS n FROM chosen
              WHERE {column} IS NOT NULL GROUP BY ALL)
        GROUP BY ALL"""


def projects_overview(
    db: DbLike = None,
    selection: Selection | None = None,
) -> pl.DataFrame:
    """Per project: builds, success rate, p50/p95 duration, compute, arch, first/last build."""
    where, params = (selection or Selection()).where("b")
    # The most frequent compute and cache type, ties to the first by name: DuckDB's mode()
    # breaks ties by whichever thread saw a value first, so one store gave one project
    # "medium" on one run and "large" on the next.
    sql = f"""
        WITH chosen AS (
            SELECT * FROM builds b WHERE {where} AND b.build_complete
        ),
        compute AS ({_usual("compute_type")}),
        cache AS ({_usual("cache_type")}),
        per_project AS (
            SELECT project_name, region,
                   count(*) AS builds,
                   avg(CASE WHEN status = 'SUCCEEDED' THEN 1.0 ELSE 0.0 END) AS success_rate,
                   quantile_cont(total_s, 0.5) FILTER (WHERE status = 'SUCCEEDED') AS p50_s,
                   quantile_cont(total_s, 0.95) FILTER (WHERE status = 'SUCCEEDED') AS p95_s,
                   sum(total_s) / 3600 AS build_hours,
                   string_agg(DISTINCT arch, ',' ORDER BY arch) AS arch,
                   min(start_time) AS first_build, max(start_time) AS last_build
            FROM chosen
            GROUP BY project_name, region
        )
        SELECT p.project_name, p.region, p.builds, p.success_rate, p.p50_s, p.p95_s,
               p.build_hours, compute.compute_type, p.arch, cache.cache_type,
               p.first_build, p.last_build
        FROM per_project p
        LEFT JOIN compute ON compute.project_name = p.project_name
             AND compute.region IS NOT DISTINCT FROM p.region
        LEFT JOIN cache ON cache.project_name = p.project_name
             AND cache.region IS NOT DISTINCT FROM p.region
        ORDER BY p.builds DESC, p.project_name
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
