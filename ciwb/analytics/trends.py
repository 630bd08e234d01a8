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

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from ciwb.analytics._store import BuildFilter, DbLike, TimeLike, query, reading

__all__ = ["ChangePoint", "detect_change_points", "duration_regressions", "duration_trends"]

_TRUNC = {"day": "day", "week": "week"}


def duration_trends(
    db: DbLike = None,
    *,
    period: str = "day",
    successful_only: bool = True,
    since: TimeLike = None,
    until: TimeLike = None,
    projects: Sequence[str] | str | None = None,
    region: str | None = None,
) -> pl.DataFrame:
    """p50/p95 build duration per project per day or ISO week (`period`)."""
    if period not in _TRUNC:
        raise ValueError(f"period must be one of {sorted(_TRUNC)}, not {period!r}")
    where, params = BuildFilter(since, until, projects, region).sql("b")
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
    with reading(db) as con:
        return query(con, sql, params)


@dataclass(frozen=True)
class ChangePoint:
    """A step in a series: `index` is the first element of the new level."""

    index: int
    before: float
    after: float
    p_value: float


def _best_split(x: np.ndarray, min_segment: int) -> tuple[np.ndarray, np.ndarray]:
    """For each row of `x` (series × time), the split maximising between-segment variance.

    Returns (statistic, split index). The statistic n_l·n_r/n·(mean_l − mean_r)² is the
    reduction in squared error from fitting two means instead of one.
    """
    n = x.shape[1]
    csum = np.cumsum(x, axis=1)
    total = csum[:, -1:]
    k = np.arange(min_segment, n - min_segment + 1)  # size of the left segment
    left_mean = csum[:, k - 1] / k
    right_mean = (total - csum[:, k - 1]) / (n - k)
    stat = k * (n - k) / n * (left_mean - right_mean) ** 2
    best = np.argmax(stat, axis=1)
    return stat[np.arange(x.shape[0]), best], k[best]


def detect_change_points(
    values: Sequence[float] | np.ndarray,
    *,
    min_segment: int = 4,
    alpha: float = 0.01,
    min_change_pct: float = 10.0,
    permutations: int = 999,
    seed: int = 0,
) -> list[ChangePoint]:
    """Binary segmentation with a permutation test; returns change points in order."""
    series = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    found: list[ChangePoint] = []

    def search(lo: int, hi: int) -> None:
        segment = series[lo:hi]
        if len(segment) < 2 * min_segment:
            return
        observed, split = _best_split(segment[None, :], min_segment)
        k = int(split[0])
        before = float(np.mean(segment[:k]))
        after = float(np.mean(segment[k:]))
        change_pct = abs(after - before) / max(abs(before), 1e-9) * 100
        if change_pct < min_change_pct:
            return  # too small to matter, significant or not: skip the permutations
        shuffled = rng.permuted(np.broadcast_to(segment, (permutations, len(segment))), axis=1)
        null_stats, _ = _best_split(shuffled, min_segment)
        p_value = (1 + int(np.sum(null_stats >= observed[0]))) / (permutations + 1)
        if p_value > alpha:
            return
        found.append(ChangePoint(lo + k, before, after, p_value))
        search(lo, lo + k)
        search(lo + k, hi)

    search(0, len(series))
    found.sort(key=lambda cp: cp.index)
    # Levels either side of each change, measured between neighbouring change points.
    bounds = [0, *(cp.index for cp in found), len(series)]
    return [
        ChangePoint(
            cp.index,
            float(np.mean(series[bounds[i] : bounds[i + 1]])),
            float(np.mean(series[bounds[i + 1] : bounds[i + 2]])),
            cp.p_value,
        )
        for i, cp in enumerate(found)
    ]


def duration_regressions(
    db: DbLike = None,
    *,
    min_builds_per_day: int = 3,
    min_segment_days: int = 4,
    alpha: float = 0.01,
    min_change_pct: float = 10.0,
    permutations: int = 999,
    seed: int = 0,
    since: TimeLike = None,
    until: TimeLike = None,
    projects: Sequence[str] | str | None = None,
    region: str | None = None,
) -> pl.DataFrame:
    """Change points in each project's daily median duration of successful builds.

    One row per change: the date the new level starts, the median before and after,
    the size (seconds and %), the direction and the confidence (1 − permutation p-value).
    Days with fewer than `min_builds_per_day` builds are left out of the series.
    """
    daily = duration_trends(
        db, period="day", since=since, until=until, projects=projects, region=region
    ).filter(pl.col("builds") >= min_builds_per_day)
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
