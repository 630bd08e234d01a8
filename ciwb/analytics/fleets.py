"""Reserved-capacity fleets: how busy they are, who queues behind them, what size they need.

Utilisation is busy instance-minutes (builds that ran on the fleet, PROVISIONING start to end)
over provisioned instance-minutes (base capacity × the window; see ciwb.store.fleets for what
is assumed about capacity). Sizing replays the fleet's own arrivals and instance-times against
k instances (ciwb.codebuild.fleets.simulate) — a queue simulation, not a formula. Costs of
each k are in ciwb.cost.fleets.
"""

from __future__ import annotations

import polars as pl

from ciwb.codebuild.fleets import FleetJob, arrival_order, overflowed, percentile, queue_waits
from ciwb.store import DbLike, Selection, reading
from ciwb.store.fleets import FleetUsage, fleet_usage

__all__ = ["fleet_sizing", "fleet_utilisation", "recommended_capacity"]


def _usages(db: DbLike, selection: Selection | None) -> list[FleetUsage]:
    selection = selection or Selection()
    with reading(db) as con:
        usages = fleet_usage(con, since=selection.since, until=selection.until)
    return [u for u in usages if selection.region in (None, u.region)]


def fleet_utilisation(db: DbLike = None, selection: Selection | None = None) -> pl.DataFrame:
    """Per fleet: provisioned / busy / idle instance-minutes, utilisation, queueing behind the
    fleet (p50/p95 of the wait for an instance) and the share of builds that overflowed."""
    rows = []
    for u in _usages(db, selection):
        on_fleet = [b for b in u.builds if not b.overflow]
        waits = [(b.instance_start - b.start_time).total_seconds() for b in on_fleet]
        provisioned = u.provisioned_instance_s / 60
        busy = u.busy_instance_s / 60
        rows.append(
            {
                "fleet": u.name,
                "region": u.region,
                "base_capacity": u.base_capacity,
                "overflow_behavior": u.overflow_behavior,
                "projects": ", ".join(sorted({b.project_name for b in u.builds})),
                "builds": len(u.builds),
                "overflow_builds": len(u.builds) - len(on_fleet),
                "overflow_share": (len(u.builds) - len(on_fleet)) / len(u.builds)
                if u.builds
                else None,
                "provisioned_instance_min": provisioned,
                "busy_instance_min": busy,
                "idle_instance_min": max(provisioned - busy, 0.0),
                "utilisation": busy / provisioned if provisioned else None,
                "queued_p50_s": percentile(waits, 0.5),
                "queued_p95_s": percentile(waits, 0.95),
                "window_start": u.window_start,
                "window_end": u.window_end,
            }
        )
    return pl.DataFrame(rows, schema=_UTILISATION_SCHEMA)


_UTILISATION_SCHEMA = {
    "fleet": pl.String,
    "region": pl.String,
    "base_capacity": pl.Int64,
    "overflow_behavior": pl.String,
    "projects": pl.String,
    "builds": pl.Int64,
    "overflow_builds": pl.Int64,
    "overflow_share": pl.Float64,
    "provisioned_instance_min": pl.Float64,
    "busy_instance_min": pl.Float64,
    "idle_instance_min": pl.Float64,
    "utilisation": pl.Float64,
    "queued_p50_s": pl.Float64,
    "queued_p95_s": pl.Float64,
    "window_start": pl.Datetime("us"),
    "window_end": pl.Datetime("us"),
}


def fleet_sizing(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    max_capacity: int = 16,
    target_p95_s: float = 60.0,
) -> pl.DataFrame:
    """Per fleet and k = 1..max_capacity: the simulated queue (p50/p95/p99, QUEUE behaviour),
    the builds that would overflow under ON_DEMAND, utilisation at k, and whether the p95
    meets the target."""
    rows = []
    for u in _usages(db, selection):
        jobs = arrival_order(FleetJob(b.build_arn, b.arrival_s, b.service_s) for b in u.builds)
        window_s = max((u.window_end - u.window_start).total_seconds(), 0.0)
        busy_s = sum(j.service_s for j in jobs)
        for k in range(1, max_capacity + 1):
            waits = queue_waits(jobs, k)
            p95 = percentile(waits, 0.95)
            rows.append(
                {
                    "fleet": u.name,
                    "capacity": k,
                    "current": k == u.base_capacity,
                    "builds": len(jobs),
                    "p50_queue_s": percentile(waits, 0.5),
                    "p95_queue_s": p95,
                    "p99_queue_s": percentile(waits, 0.99),
                    "meets_target": p95 is not None and p95 <= target_p95_s,
                    "overflow_builds_if_on_demand": len(overflowed(jobs, k)),
                    "utilisation": busy_s / (k * window_s) if window_s else None,
                }
            )
    return pl.DataFrame(rows, schema=_SIZING_SCHEMA)


_SIZING_SCHEMA = {
    "fleet": pl.String,
    "capacity": pl.Int64,
    "current": pl.Boolean,
    "builds": pl.Int64,
    "p50_queue_s": pl.Float64,
    "p95_queue_s": pl.Float64,
    "p99_queue_s": pl.Float64,
    "meets_target": pl.Boolean,
    "overflow_builds_if_on_demand": pl.Int64,
    "utilisation": pl.Float64,
}


def recommended_capacity(sizing: pl.DataFrame) -> dict[str, int | None]:
    """Fleet → the smallest simulated capacity whose p95 queue met the target (None if none)."""
    out: dict[str, int | None] = {}
    for fleet in sizing["fleet"].unique(maintain_order=True).to_list():
        meets = sizing.filter((pl.col("fleet") == fleet) & pl.col("meets_target"))
        out[fleet] = int(meets["capacity"].min()) if meets.height else None  # type: ignore[arg-type]
    return out
