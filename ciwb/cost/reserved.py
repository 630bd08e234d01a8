"""What-if: a reserved-capacity fleet instead of on-demand, per compute type.

A fleet costs per instance-minute while provisioned, builds or not; builds beyond the fleet
overflow to on-demand and are billed on demand (docs/reference/codebuild-facts.md, "Pricing").
From history, the exact build concurrency over time (a sweep over build spans from the
PROVISIONING start, i.e. instance time) gives, for each fleet size N, the build-minutes the
fleet would carry and the minutes that overflow. Break-even rate = on-demand value of the
carried minutes / (N × minutes in the period): a fleet of N pays off only if its price per
instance-minute is below it. With a fleet rate, the saving and the best N follow.
Reserved prices are not in the seed table: give `fleet_rate` or read the break-even.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from ciwb.cost.billing import BillingOptions, FleetRate
from ciwb.cost.estimate import materialise_costs
from ciwb.cost.whatif import MONTH_DAYS, WhatIf, register_whatif
from ciwb.store import DbLike, Selection, fetch_frame, reading

__all__ = ["hourly_concurrency", "reserved_capacity"]

_POOL = "region, environment_type, compute_type"

_SPANS = f"""
spans AS (
    SELECT {_POOL}, price / unit_s * 60 AS price_per_minute,
           end_time - to_microseconds(CAST(lower_s * 1e6 AS BIGINT)) AS t0, end_time AS t1
    FROM _ciwb_c
    WHERE unpriced_reason IS NULL AND lower_s > 0 AND unit_s = 60
)
"""

_LEVELS = "_ciwb_reserved_levels"

# The concurrency sweep, once: each instant's net change (build starts +1, ends -1, summed,
# so a hand-over at one instant is no peak), the running count from one instant to the next,
# and the seconds spent at each count per pool and hour (the hour a stretch starts in). Every
# fleet size, the hourly mean and the peak are sums over these few rows; the sweep over two
# events per build was once made again for each of them.
_LEVELS_SQL = f"""
CREATE OR REPLACE TEMP TABLE {_LEVELS} AS
WITH {_SPANS},
events AS (
    SELECT {_POOL}, t0 AS t, 1 AS d FROM spans
    UNION ALL SELECT {_POOL}, t1 AS t, -1 AS d FROM spans
),
instants AS (SELECT {_POOL}, t, sum(d) AS d FROM events GROUP BY ALL),
running AS (
    SELECT {_POOL}, t,
           CAST(sum(d) OVER w AS BIGINT) AS c,
           lead(t) OVER w AS t_next
    FROM instants
    WINDOW w AS (PARTITION BY {_POOL} ORDER BY t ROWS UNBOUNDED PRECEDING)
)
SELECT {_POOL}, date_trunc('hour', t) AS hour, c, sum(epoch(t_next) - epoch(t)) AS seconds
FROM running WHERE t_next IS NOT NULL AND c > 0
GROUP BY ALL
"""


def _concurrency_levels(con: Any) -> str:
    """Make the temp table of seconds per pool, hour and concurrency from `_ciwb_c`."""
    con.execute(_LEVELS_SQL)
    return _LEVELS


def _hourly(con: Any, levels: str) -> pl.DataFrame:
    return fetch_frame(
        con,
        f"""
        SELECT {_POOL}, hour,
               sum(c * seconds) / 3600 AS mean_concurrency,
               max(c) AS peak_concurrency
        FROM {levels} GROUP BY ALL ORDER BY ALL
        """,
    )


def hourly_concurrency(con: Any) -> pl.DataFrame:
    """Mean and peak concurrent builds per pool and hour, from the costed builds `_ciwb_c`."""
    return _hourly(con, _concurrency_levels(con))


@register_whatif("reserved")
def reserved_capacity(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    fleet_rate: float | None = None,
    max_fleet: int = 16,
    options: BillingOptions | None = None,
) -> WhatIf:
    """Per compute type and fleet size: carried and overflow minutes, break-even, saving."""
    rate = FleetRate(fleet_rate) if fleet_rate is not None else None
    with reading(db) as con:
        materialise_costs(con, selection, options=options)
        pools = fetch_frame(
            con,
            f"""
            WITH {_SPANS}
            SELECT {_POOL}, count(*) AS builds, max(price_per_minute) AS price_per_minute,
                   (epoch(max(t1)) - epoch(min(t0))) / 60 AS period_minutes
            FROM spans GROUP BY ALL ORDER BY ALL
            """,
        )
        on_demand = fetch_frame(
            con,
            f"""
            SELECT {_POOL}, sum(cost_lower) AS on_demand_cost
            FROM _ciwb_c WHERE unpriced_reason IS NULL AND unit_s = 60 GROUP BY ALL
            """,
        )
        levels = _concurrency_levels(con)
        sizes = fetch_frame(
            con,
            f"""
            SELECT {_POOL}, n AS fleet_size,
                   sum(least(c, n) * seconds) / 60 AS carried_minutes,
                   sum(greatest(c - n, 0) * seconds) / 60 AS overflow_minutes,
                   max(c) AS peak_concurrency
            FROM {levels}, range(1, {int(max_fleet) + 1}) AS sizes(n)
            GROUP BY ALL ORDER BY ALL
            """,
        )
        hourly = _hourly(con, levels)
        unpriced = con.execute(
            "SELECT count(*) FROM _ciwb_c WHERE unpriced_reason IS NOT NULL"
        ).fetchall()[0][0]
    keys = ["region", "environment_type", "compute_type"]
    busy = hourly.group_by(keys).agg(
        pl.col("mean_concurrency").median().alias("median_hourly_concurrency"),
        pl.col("mean_concurrency").quantile(0.95).alias("p95_hourly_concurrency"),
    )
    table = (
        sizes.join(pools, on=keys)
        .join(on_demand, on=keys, how="left")
        .join(busy, on=keys, how="left")
        .with_columns(
            peak_concurrency=pl.col("peak_concurrency").max().over(keys),
        )
        .filter(pl.col("fleet_size") <= pl.col("peak_concurrency"))
        .with_columns(
            utilisation=pl.col("carried_minutes")
            / (pl.col("fleet_size") * pl.col("period_minutes")),
            carried_value=pl.col("carried_minutes") * pl.col("price_per_minute"),
            overflow_cost=pl.col("overflow_minutes") * pl.col("price_per_minute"),
        )
        .with_columns(
            break_even_rate=pl.col("carried_value")
            / (pl.col("fleet_size") * pl.col("period_minutes")),
        )
    )
    if rate is not None:
        table = (
            table.with_columns(
                fleet_cost=pl.col("fleet_size")
                * pl.col("period_minutes")
                * pl.lit(rate.price_per_instance_minute),
            )
            .with_columns(
                saving=pl.col("carried_value") - pl.col("fleet_cost"),
            )
            .with_columns(
                saving_month=pl.col("saving") / (pl.col("period_minutes") / (MONTH_DAYS * 1440)),
                recommended=(pl.col("saving") == pl.col("saving").max().over(keys))
                & (pl.col("saving") > 0),
            )
        )
    notes = [
        f"{r['compute_type']} ({r['environment_type']}, {r['region']}): peak "
        f"{r['peak_concurrency']} concurrent, median busy-hour concurrency "
        f"{r['median_hourly_concurrency']:.2f} → a fleet of "
        f"{max(1, math.ceil(r['median_hourly_concurrency'] or 0))} covers a typical busy hour"
        for r in table.unique(keys, keep="first").sort(keys).to_dicts()
    ]
    return WhatIf(
        kind="reserved",
        assumption=(
            "a fleet of N instances of the same compute type carries every build it has room "
            "for at that instant (overflow runs on demand); fleet provisioned for the whole "
            "period; on-demand value of carried minutes pro rata (per-minute rounding ignored)"
            + (
                f"; fleet rate {rate.price_per_instance_minute} per instance-minute"
                if rate
                else "; no fleet rate given: read break_even_rate"
            )
        ),
        evidence="build spans from PROVISIONING start to end (lower bound) in history; "
        "exact concurrency sweep, hourly mean/peak concurrency in notes",
        uncertainty="history repeats itself: the period's concurrency is assumed to recur; "
        "break_even_rate falls as N grows (each extra instance idles more)",
        table=table.sort([*keys, "fleet_size"]),
        unpriced_builds=int(unpriced),
        columns=(
            "region",
            "environment_type",
            "compute_type",
            "fleet_size",
            "utilisation",
            "carried_minutes",
            "overflow_minutes",
            "break_even_rate",
            "saving_month",
            "recommended",
        ),
        notes=notes,
    )
