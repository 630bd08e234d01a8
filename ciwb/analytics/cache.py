"""Cache effect: which builds hit their cache, and why the others missed.

CodeBuild records no cache hit or miss. A cache that works makes DOWNLOAD_SOURCE +
INSTALL bimodal: fast when restored, slow when everything is fetched again. Per
cache-enabled project (`builds.cache_type` other than NO_CACHE) the two modes are split
by `ciwb.stats.split_warm_cold` (Otsu on log seconds, trusted only when the modes are
far apart and both populated — the same split the cache what-if prices), else `hit` is null.

CodeBuild's LOCAL cache lives on the build host and is dropped after a while without
builds (about 15 minutes, per AWS's docs on local caching — unverified here, which is why
it is measured): the hit rate by time since the project's previous build shows that cliff.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from ciwb.stats import split_warm_cold
from ciwb.store import DbLike, Selection, fetch_frame

__all__ = [
    "cache_builds",
    "cache_hit_rate_by_gap",
    "cache_idle_expiry",
    "cache_warm_vs_cold",
]

DEFAULT_GAP_EDGES_MIN: tuple[float, ...] = (0, 5, 10, 13, 15, 17, 20, 30, 60, 240)


def cache_builds(
    db: DbLike = None,
    selection: Selection | None = None,
) -> pl.DataFrame:
    """Successful builds of cache-enabled projects with restore seconds, gap and inferred hit.

    `restore_s` = DOWNLOAD_SOURCE + INSTALL seconds; `gap_min` = minutes from the end of
    the project's previous build (any status) to this build's start; `hit` is inferred
    per project (see module docstring) with the `threshold_s` used.
    """
    where, params = (selection or Selection()).where("b")
    kept = "b.cache_type IS NOT NULL AND b.cache_type <> 'NO_CACHE' AND b.status = 'SUCCEEDED'"
    # The previous build is looked for only in projects with a build kept here: the window
    # sorts every build it covers by string keys (most of this query's time), and the other
    # projects' gaps are never read. Its payload is what the result needs, nothing more.
    sql = f"""
        WITH ordered AS (
            SELECT b.build_arn, b.project_name, b.cache_type, b.start_time,
                   b.status, b.build_complete,
                   lag(b.end_time) OVER (
                       PARTITION BY b.account_id, b.region, b.project_name
                       ORDER BY b.start_time, b.build_arn
                   ) AS previous_end
            FROM builds b
            WHERE {where} AND (b.account_id, b.region, b.project_name) IN (
                SELECT b.account_id, b.region, b.project_name FROM builds b
                WHERE {where} AND {kept} AND b.build_complete
            )
        )
        SELECT o.build_arn, o.project_name, o.cache_type, o.start_time,
               f.download_source_s, f.install_s,
               coalesce(f.download_source_s, 0) + coalesce(f.install_s, 0) AS restore_s,
               -- greatest() skips NULLs in DuckDB, so clamp overlapping builds explicitly
               CASE WHEN o.previous_end IS NOT NULL THEN greatest(
                   date_diff('millisecond', o.previous_end, o.start_time), 0) / 60000.0 END
                   AS gap_min
        FROM ordered o JOIN build_facts f USING (build_arn)
        WHERE o.cache_type IS NOT NULL AND o.cache_type <> 'NO_CACHE'
          AND o.status = 'SUCCEEDED' AND o.build_complete
        ORDER BY o.project_name, o.start_time
    """
    frame = fetch_frame(db, sql, [*params, *params])
    thresholds = {}
    for (project,), group in frame.group_by("project_name"):
        split = split_warm_cold(group["restore_s"].to_numpy())
        thresholds[project] = split.threshold_s if split else None
    threshold = pl.col("project_name").replace_strict(
        thresholds, default=None, return_dtype=pl.Float64
    )
    return frame.with_columns(threshold.alias("threshold_s")).with_columns(
        (pl.col("restore_s") <= pl.col("threshold_s")).alias("hit")
    )


def cache_hit_rate_by_gap(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    edges_min: Sequence[float] = DEFAULT_GAP_EDGES_MIN,
) -> pl.DataFrame:
    """Hit rate per project and bucket of minutes since the previous build."""
    builds = cache_builds(db, selection)
    builds = builds.filter(pl.col("hit").is_not_null() & pl.col("gap_min").is_not_null())
    edges = [float(e) for e in edges_min]
    labels = [f"{a:g}–{b:g} min" for a, b in zip(edges, edges[1:], strict=False)]
    labels.append(f"≥{edges[-1]:g} min")
    lower = pl.lit(None, dtype=pl.Float64)
    for edge in edges:
        lower = pl.when(pl.col("gap_min") >= edge).then(pl.lit(edge)).otherwise(lower)
    label_of = dict(zip(edges, labels, strict=True))
    return (
        builds.with_columns(lower.alias("gap_from_min"))
        .filter(pl.col("gap_from_min").is_not_null())
        .group_by("project_name", "gap_from_min")
        .agg(
            pl.len().alias("builds"),
            pl.col("hit").mean().alias("hit_rate"),
            pl.col("restore_s").median().alias("median_restore_s"),
        )
        .with_columns(
            pl.col("gap_from_min").replace_strict(label_of, return_dtype=pl.Utf8).alias("gap")
        )
        .sort("project_name", "gap_from_min")
    )


def cache_idle_expiry(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    min_builds: int = 30,
) -> pl.DataFrame:
    """Per project, the idle gap (minutes) beyond which the cache stops hitting.

    The cut is the gap that best separates hits from misses: the one maximising
    (hit rate below it) − (hit rate above it). `cliff` is that difference (0…1); a cache
    that expires on idle shows a cliff near 1, a cache that never hits or never misses
    shows none.
    """
    builds = cache_builds(db, selection)
    builds = builds.filter(pl.col("hit").is_not_null() & pl.col("gap_min").is_not_null())
    rows = []
    for (project,), group in builds.sort("gap_min").group_by("project_name", maintain_order=True):
        if group.height < min_builds:
            continue
        gaps = group["gap_min"].to_numpy()
        hits = group["hit"].to_numpy().astype(float)
        n = len(hits)
        below_hits = np.cumsum(hits)[:-1]
        k = np.arange(1, n)
        rate_below = below_hits / k
        rate_above = (hits.sum() - below_hits) / (n - k)
        score = rate_below - rate_above
        # Only cut between distinct gaps.
        score[gaps[1:] == gaps[:-1]] = -np.inf
        best = int(np.argmax(score))
        rows.append(
            {
                "project_name": project,
                "builds": n,
                "hit_rate": float(hits.mean()),
                "expiry_min": float((gaps[best] + gaps[best + 1]) / 2),
                "hit_rate_before": float(rate_below[best]),
                "hit_rate_after": float(rate_above[best]),
                "cliff": float(score[best]),
            }
        )
    schema = {
        "project_name": pl.Utf8,
        "builds": pl.Int64,
        "hit_rate": pl.Float64,
        "expiry_min": pl.Float64,
        "hit_rate_before": pl.Float64,
        "hit_rate_after": pl.Float64,
        "cliff": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def cache_warm_vs_cold(db: DbLike = None) -> pl.DataFrame:
    """Measured warm-vs-cold from replay experiments (`experiment_runs`), per matrix cell.

    Runs marked `emulated` are kept but flagged: their seconds are not native timings
    (docs/design.md, "Replay").
    """
    sql = """
        WITH cells AS (
            SELECT experiment_id, arch, compute, cache, bool_or(coalesce(emulated, FALSE))
                       AS emulated,
                   count(*) FILTER (WHERE temperature = 'cold') AS cold_runs,
                   count(*) FILTER (WHERE temperature = 'warm') AS warm_runs,
                   median(total_s) FILTER (WHERE temperature = 'cold') AS cold_median_s,
                   median(total_s) FILTER (WHERE temperature = 'warm') AS warm_median_s
            FROM experiment_runs
            WHERE status = 'SUCCEEDED' AND total_s IS NOT NULL
            GROUP BY ALL
        )
        SELECT *, cold_median_s - warm_median_s AS saved_s,
               cold_median_s / nullif(warm_median_s, 0) AS speedup
        FROM cells
        WHERE cold_runs > 0 OR warm_runs > 0
        ORDER BY experiment_id, arch, compute, cache
    """
    return fetch_frame(db, sql)
