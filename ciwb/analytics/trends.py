"""Build duration over time: daily/weekly percentiles and change points.

Change points are found on each project's series of *daily medians* of successful build
durations (a median per day shrugs off single slow builds). Binary segmentation picks the
split that best separates the series into two means; a permutation test (shuffle the
days, recompute the best split) says how often noise alone would give a split as good.
A change is reported only when that is rare (`p_value <= alpha`) *and* the step is big
enough to matter (`min_change_pct`), then each side is searched again. This is what
keeps ordinary day-to-day noise from raising alerts.
"""

from __future__ import annotations

import polars as pl

from ciwb.stats import detect_change_points
from ciwb.store import DbLike, Selection, fetch_frame

__all__ = ["duration_regressions", "duration_trends"]

_TRUNC = {"day": "day", "week": "week"}


def duration_trends(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    period: str = "day",
    successful_only: bool = True,
) -> pl.DataFrame:
    """p50/p95 build duration per project per day or ISO week (`period`)."""
    if period not in _TRUNC:
        raise ValueError(f"period must be one of {sorted(_TRUNC)}, not {period!r}")
    where, params = (selection or Selection()).where("b")
    if successful_only:
        where += " AND b.status = 'SUCCEEDED'"
    sql = f"""
        SELECT project_name,
               CAST(date_trunc('{_TRUNC[period]}', start_time) AS DATE) AS period_start,
               count(*) AS builds,
               quantile_cont(total_s, 0.5) AS p50_s,
               quantile_cont(total_s, 0.95) AS p95_s
        FROM builds b
        WHERE {where} AND b.build_complete AND b.total_s IS NOT NULL
        GROUP BY ALL ORDER BY project_name, period_start
    """
    return fetch_frame(db, sql, params)


def duration_regressions(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    min_builds_per_day: int = 3,
    min_segment_days: int = 4,
    alpha: float = 0.01,
    min_change_pct: float = 10.0,
    permutations: int = 999,
    seed: int = 0,
) -> pl.DataFrame:
    """Change points in each project's daily median duration of successful builds.

    One row per change: the date the new level starts, the median before and after,
    the size (seconds and %), the direction and the confidence (1 − permutation p-value).
    Days with fewer than `min_builds_per_day` builds are left out of the series.
    """
    daily = duration_trends(db, selection, period="day").filter(
        pl.col("builds") >= min_builds_per_day
    )
    rows: list[dict[str, object]] = []
    for (project,), group in daily.sort("period_start").group_by(
        "project_name", maintain_order=True
    ):
        dates = group["period_start"].to_list()
        medians = group["p50_s"].to_numpy()
        for cp in detect_change_points(
            medians,
            min_segment=min_segment_days,
            alpha=alpha,
            min_change_pct=min_change_pct,
            permutations=permutations,
            seed=seed,
        ):
            rows.append(
                {
                    "project_name": project,
                    "change_date": dates[cp.index],
                    "before_s": cp.before,
                    "after_s": cp.after,
                    "change_s": cp.after - cp.before,
                    "change_pct": (cp.after - cp.before) / cp.before * 100,
                    "direction": "slower" if cp.after > cp.before else "faster",
                    "p_value": cp.p_value,
                    "confidence": 1 - cp.p_value,
                }
            )
    schema = {
        "project_name": pl.Utf8,
        "change_date": pl.Date,
        "before_s": pl.Float64,
        "after_s": pl.Float64,
        "change_s": pl.Float64,
        "change_pct": pl.Float64,
        "direction": pl.Utf8,
        "p_value": pl.Float64,
        "confidence": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)
