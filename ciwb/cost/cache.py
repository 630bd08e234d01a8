"""What-if: what a build cache saves, from a measured warm-vs-cold delta.

Evidence, in order: native replay experiments (`experiment_runs`: cache `none` or a `cold`
run against a `warm` run with a cache, same project, arch and compute; emulated runs never
count), else hit/miss inferred from history: for a project with a cache configured, INSTALL
durations that split into two well-separated groups (Ashman's D > 3 on log seconds, above
the 2.65 that splitting a single normal gives; each group at least 5% of builds) are read
as warm (fast) and cold (slow) builds.
Saving = delta × builds per month × the project's effective price per billed second
(pro rata: per-minute rounding averages out over many builds). Projects without evidence
are "unknown".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from ciwb.codebuild.build_sql import fact_column
from ciwb.cost.billing import BillingOptions
from ciwb.cost.estimate import materialise_costs
from ciwb.cost.whatif import WhatIf, months_covered, register_whatif, rows_by_project
from ciwb.stats import bootstrap_interval, median_difference, split_warm_cold
from ciwb.store import DbLike, Selection, fetch_frame, reading

__all__ = ["cache_savings"]


_EXPERIMENT_SQL = """
SELECT coalesce(json_extract_string(e.matrix, '$.project'),
                regexp_extract(rtrim(e.source_dir, '/'), '([^/]+)$', 1)) AS project_name,
       coalesce(r.arch, '') || '|' || coalesce(r.compute, '') AS cell,
       CASE WHEN lower(coalesce(r.cache, 'none')) IN ('none', 'no_cache', '')
                 OR lower(coalesce(r.temperature, '')) = 'cold' THEN 'cold'
            WHEN lower(coalesce(r.temperature, '')) = 'warm' THEN 'warm' END AS state,
       r.total_s
FROM experiment_runs r JOIN experiments e USING (experiment_id)
WHERE r.status = 'SUCCEEDED' AND r.total_s > 0 AND NOT coalesce(r.emulated, false)
"""


@register_whatif("cache")
def cache_savings(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    phase: str = "INSTALL",
    min_builds: int = 20,
    resamples: int = 2000,
    confidence: float = 0.95,
    options: BillingOptions | None = None,
) -> WhatIf:
    """Per project: warm and cold seconds, hit rate, and the cache's monthly value."""
    column = fact_column(phase)
    with reading(db) as con:
        materialise_costs(con, selection, options=options)
        months = months_covered(con)
        history = fetch_frame(
            con,
            f"""
            SELECT c.project_name, b.cache_type, b.{column} AS phase_s
            FROM _ciwb_c c JOIN builds b USING (build_arn)
            WHERE c.status = 'SUCCEEDED'
            """,
        )
        per_project = fetch_frame(
            con,
            """
            SELECT project_name, count(*) AS builds,
                   sum(cost_lower) / nullif(sum(billed_lower_s), 0) AS price_per_s,
                   count(*) FILTER (WHERE unpriced_reason IS NOT NULL) AS unpriced_builds
            FROM _ciwb_c GROUP BY project_name ORDER BY project_name
            """,
        )
        cache_types = fetch_frame(
            con,
            "SELECT project_name, arg_max(cache_type, start_time) AS cache_type "
            "FROM builds GROUP BY project_name",
        )
        experiments = fetch_frame(con, _EXPERIMENT_SQL)
    rows: list[dict[str, Any]] = []
    unpriced = 0
    history_of, experiments_of = rows_by_project(history), rows_by_project(experiments)
    # Few projects have experiments; for the others _from_experiments finds no cell (None),
    # so they skip its filters (a few hundred µs a project, thousands of projects).
    with_experiments = set(experiments["project_name"].drop_nulls().to_list())
    for project in per_project.join(cache_types, on="project_name", how="left").to_dicts():
        name = project["project_name"]
        per_month = project["builds"] / months
        row: dict[str, Any] = {
            "project_name": name,
            "cache_type": project["cache_type"],
            "builds_per_month": per_month,
        }
        found = (
            _from_experiments(experiments_of(name), resamples, confidence)
            if name in with_experiments
            else None
        )
        hit_rate: float | None = None
        if found is None and (project["cache_type"] or "NO_CACHE") != "NO_CACHE":
            seconds = history_of(name)["phase_s"].drop_nulls().to_numpy()
            split = split_warm_cold(seconds) if len(seconds) >= min_builds else None
            if split is not None:
                low, high = bootstrap_interval(
                    median_difference,
                    [split.cold, split.warm],
                    resamples=resamples,
                    confidence=confidence,
                )
                hit_rate = len(split.warm) / (len(split.warm) + len(split.cold))
                found = (
                    float(np.median(split.cold)),
                    float(np.median(split.warm)),
                    low,
                    high,
                    f"history: {phase} bimodal (D={split.separation:.1f}), "
                    f"{len(split.warm)} warm below {split.threshold_s:.0f}s, "
                    f"{len(split.cold)} cold",
                )
        if found is None:
            row.update(evidence="unknown: no experiment and no warm/cold split in history")
            rows.append(row)
            continue
        cold_s, warm_s, low, high, evidence = found
        delta = cold_s - warm_s
        price = project["price_per_s"]
        row.update(
            evidence=evidence,
            hit_rate=hit_rate,
            cold_s=cold_s,
            warm_s=warm_s,
            delta_s=delta,
            delta_low_s=low,
            delta_high_s=high,
        )
        if price is None:
            unpriced += project["unpriced_builds"]
            rows.append(row)
            continue
        # Value the cache delivers now (its hits), and what the misses still cost.
        rate = hit_rate if hit_rate is not None else 1.0
        row.update(
            saving_month=rate * per_month * delta * price,
            saving_month_low=rate * per_month * low * price,
            saving_month_high=rate * per_month * high * price,
            misses_cost_month=(1 - rate) * per_month * delta * price,
        )
        rows.append(row)
    return WhatIf(
        kind="cache",
        assumption=(
            f"a warm cache shortens {phase} (history) or the whole build (experiments) by "
            "delta_s = median(cold) − median(warm); saving_month = hit rate (1 for "
            "experiments: every build warm) × builds per month × delta × the project's "
            "effective price per billed second"
        ),
        evidence="per project, column `evidence`: native experiments, or a bimodal "
        f"{phase} duration in history for projects with a cache configured",
        uncertainty=f"{confidence:.0%} bootstrap interval of the median difference "
        "(delta_low_s..delta_high_s → saving_month_low..high); a bimodal phase can have "
        "causes other than the cache",
        table=pl.DataFrame(rows, infer_schema_length=None),
        unpriced_builds=unpriced,
        columns=(
            "project_name",
            "cache_type",
            "evidence",
            "hit_rate",
            "warm_s",
            "cold_s",
            "delta_s",
            "saving_month",
            "saving_month_low",
            "saving_month_high",
        ),
    )


def _from_experiments(
    runs: pl.DataFrame, resamples: int, confidence: float
) -> tuple[float, float, float, float, str] | None:
    cold = runs.filter(pl.col("state") == "cold")
    warm = runs.filter(pl.col("state") == "warm")
    cells = set(cold["cell"].to_list()) & set(warm["cell"].to_list())
    if not cells:
        return None
    cold_s = cold.filter(pl.col("cell").is_in(cells))["total_s"].to_numpy()
    warm_s = warm.filter(pl.col("cell").is_in(cells))["total_s"].to_numpy()
    low, high = bootstrap_interval(
        median_difference, [cold_s, warm_s], resamples=resamples, confidence=confidence
    )
    return (
        float(np.median(cold_s)),
        float(np.median(warm_s)),
        low,
        high,
        f"native experiments: {len(cold_s)} cold vs {len(warm_s)} warm runs",
    )
