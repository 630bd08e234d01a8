"""What reserved-capacity fleets cost: per instance-hour over their life, busy or idle.

A fleet-run build has no price of its own (it is `billed by reserved fleet` in build_costs);
the fleet is priced per instance-minute for `base_capacity` instances over the window, at the
rate of, in order: a `FleetRate` the user gives (`--fleet-rate`), else the price table's
reserved-capacity row for the fleet's instance (`Build-Min:<os>:Reserved:<instance>` usage
types, filed under LINUX_EC2 / ARM_EC2 / WINDOWS_EC2), else *unpriced*. Builds that overflowed
to on-demand are priced on demand in build_costs and reported here beside the fleet.

Also the sizing what-if's costs: k instances for the window against on-demand for every build.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from ciwb.codebuild.fleets import FleetJob, arrival_order, overflowed, percentile, queue_waits
from ciwb.cost.billing import BillingOptions, FleetRate
from ciwb.cost.estimate import materialise_costs
from ciwb.store import DbLike, Selection, reading
from ciwb.store.fleets import FleetUsage, fleet_usage

__all__ = [
    "FleetReport",
    "FleetSizing",
    "fleet_costs",
    "fleet_report",
    "fleet_sizing_costs",
    "reserved_rate",
]

# A fleet's environment → the environment its reserved-capacity price rows are filed under.
_RESERVED_ENVIRONMENT = {
    "LINUX_CONTAINER": "LINUX_EC2",
    "LINUX_EC2": "LINUX_EC2",
    "LINUX_GPU_CONTAINER": "LINUX_EC2",
    "ARM_CONTAINER": "ARM_EC2",
    "ARM_EC2": "ARM_EC2",
    "WINDOWS_SERVER_2019_CONTAINER": "WINDOWS_EC2",
    "WINDOWS_SERVER_2022_CONTAINER": "WINDOWS_EC2",
    "WINDOWS_EC2": "WINDOWS_EC2",
}


def reserved_rate(
    con: duckdb.DuckDBPyConnection, usage: FleetUsage, given: FleetRate | None
) -> tuple[float | None, str]:
    """(price per instance-minute, where it came from) for one fleet; (None, reason) if none.

    Needs `_ciwb_prices` registered (materialise_costs does it).
    """
    if given is not None:
        return given.price_per_instance_minute, f"--fleet-rate ({given.source})"
    env = _RESERVED_ENVIRONMENT.get(usage.environment_type or "")
    for compute in (usage.instance_type, usage.compute_type):
        if env is None or compute is None:
            continue
        row = con.execute(
            "SELECT price * 60 / unit_s, source FROM _ciwb_prices"
            " WHERE region = ? AND environment_type = ? AND compute_type = ?",
            [usage.region, env, compute],
        ).fetchall()
        if row:
            return float(row[0][0]), f"price table: {row[0][1]}"
    return None, (
        f"no reserved-capacity price for {usage.region} {usage.environment_type} "
        f"{usage.instance_type or usage.compute_type}; give --fleet-rate"
    )


def fleet_costs(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    fleet_rate: FleetRate | None = None,
    options: BillingOptions | None = None,
) -> pl.DataFrame:
    """Per fleet: provisioned / busy / idle instance-hours, utilisation, fleet and idle cost,
    and the on-demand cost of its overflow builds. The selection's since/until bound the
    window and its region the fleets (a project filter does not apply to a shared fleet)."""
    selection = selection or Selection()
    with reading(db) as con:
        return _fleet_costs(con, selection, fleet_rate, options)


def _usages(con: duckdb.DuckDBPyConnection, selection: Selection) -> list[FleetUsage]:
    usages = fleet_usage(con, since=selection.since, until=selection.until)
    return [u for u in usages if selection.region in (None, u.region)]


def _fleet_costs(
    con: duckdb.DuckDBPyConnection,
    selection: Selection,
    fleet_rate: FleetRate | None,
    options: BillingOptions | None,
) -> pl.DataFrame:
    window = Selection(selection.since, selection.until, region=selection.region)
    materialise_costs(con, window, options=options, name="_ciwb_fleet_c")
    overflow_cost = dict(
        con.execute(
            "SELECT build_arn, cost_lower FROM _ciwb_fleet_c WHERE fleet_overflow"
        ).fetchall()
    )
    rows = []
    for usage in _usages(con, selection):
        rate, source = reserved_rate(con, usage, fleet_rate)
        provisioned_h = usage.provisioned_instance_s / 3600
        busy_h = usage.busy_instance_s / 3600
        idle_h = max(provisioned_h - busy_h, 0.0)
        overflow = [b for b in usage.builds if b.overflow]
        waits = [
            (b.instance_start - b.start_time).total_seconds()
            for b in usage.builds
            if not b.overflow
        ]
        cost = rate * 60 * provisioned_h if rate is not None else None
        rows.append(
            {
                "fleet_arn": usage.fleet_arn,
                "fleet": usage.name,
                "region": usage.region,
                "base_capacity": usage.base_capacity,
                "overflow_behavior": usage.overflow_behavior,
                "window_start": usage.window_start,
                "window_end": usage.window_end,
                "builds": len(usage.builds),
                "projects": len({b.project_name for b in usage.builds}),
                "overflow_builds": len(overflow),
                "overflow_share": len(overflow) / len(usage.builds) if usage.builds else None,
                "provisioned_instance_h": provisioned_h,
                "busy_instance_h": busy_h,
                "idle_instance_h": idle_h,
                "utilisation": busy_h / provisioned_h if provisioned_h else None,
                "queued_p95_s": percentile(waits, 0.95),
                "rate_per_instance_minute": rate,
                "rate_source": source,
                "fleet_cost": cost,
                "idle_cost": rate * 60 * idle_h if rate is not None else None,
                "overflow_cost": sum(overflow_cost.get(b.build_arn) or 0.0 for b in overflow),
                "unpriced_reason": None if rate is not None else source,
            }
        )
    return pl.DataFrame(rows, schema=_COST_SCHEMA)


_COST_SCHEMA = {
    "fleet_arn": pl.String,
    "fleet": pl.String,
    "region": pl.String,
    "base_capacity": pl.Int64,
    "overflow_behavior": pl.String,
    "window_start": pl.Datetime("us"),
    "window_end": pl.Datetime("us"),
    "builds": pl.Int64,
    "projects": pl.Int64,
    "overflow_builds": pl.Int64,
    "overflow_share": pl.Float64,
    "provisioned_instance_h": pl.Float64,
    "busy_instance_h": pl.Float64,
    "idle_instance_h": pl.Float64,
    "utilisation": pl.Float64,
    "queued_p95_s": pl.Float64,
    "rate_per_instance_minute": pl.Float64,
    "rate_source": pl.String,
    "fleet_cost": pl.Float64,
    "idle_cost": pl.Float64,
    "overflow_cost": pl.Float64,
    "unpriced_reason": pl.String,
}


@dataclass(frozen=True)
class FleetSizing:
    """The sizing what-if for one fleet: a row per k, and the smallest k meeting the target."""

    fleet: str
    target_p95_s: float
    table: pl.DataFrame
    recommended_capacity: int | None
    on_demand_cost: float | None


def fleet_sizing_costs(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    target_p95_s: float = 60.0,
    max_capacity: int = 16,
    fleet_rate: FleetRate | None = None,
    options: BillingOptions | None = None,
) -> list[FleetSizing]:
    """For each fleet, replay its own builds (arrival at start, instance-time from PROVISIONING
    start to end) against k = 1..max_capacity instances that QUEUE, and price each k.

    fleet cost of k = k × window × rate; on-demand = every one of those builds at its
    on-demand price (its environment's row; builds without one are left out and counted).
    The recommended capacity is the smallest k whose simulated p95 queue ≤ the target.
    """
    selection = selection or Selection()
    with reading(db) as con:
        return _sizing(con, target_p95_s, max_capacity, selection, fleet_rate, options)


def _on_demand_costs(con: duckdb.DuckDBPyConnection, arns: list[str]) -> dict[str, float]:
    """What each build would cost on demand: its billed minutes at its environment's price."""
    rows = con.execute(
        """
        SELECT c.build_arn,
               greatest(ceil(c.lower_s / r.granularity_s) * r.granularity_s, r.minimum_s)
                   / pr.unit_s * pr.price
        FROM _ciwb_fleet_c c
        JOIN _ciwb_rules r ON r.environment_type = c.environment_type
        JOIN _ciwb_prices pr ON pr.region = c.region
             AND pr.environment_type = r.price_environment_type
             AND pr.compute_type = c.price_compute_type
        WHERE list_contains(?, c.build_arn)
        """,
        [arns],
    ).fetchall()
    return {arn: float(cost) for arn, cost in rows}


def _sizing(
    con: duckdb.DuckDBPyConnection,
    target: float,
    max_capacity: int,
    selection: Selection,
    fleet_rate: FleetRate | None,
    options: BillingOptions | None,
) -> list[FleetSizing]:
    window = Selection(selection.since, selection.until, region=selection.region)
    materialise_costs(con, window, options=options, name="_ciwb_fleet_c")
    out: list[FleetSizing] = []
    for usage in _usages(con, selection):
        rate, _ = reserved_rate(con, usage, fleet_rate)
        jobs = arrival_order(FleetJob(b.build_arn, b.arrival_s, b.service_s) for b in usage.builds)
        on_demand = _on_demand_costs(con, [j.key for j in jobs])
        on_demand_total = sum(on_demand.values()) if on_demand else None
        window_min = (usage.window_end - usage.window_start).total_seconds() / 60
        rows = []
        recommended = None
        for k in range(1, max_capacity + 1):
            waits = queue_waits(jobs, k)
            p95 = percentile(waits, 0.95)
            overflow = overflowed(jobs, k)
            fleet_cost = rate * k * window_min if rate is not None else None
            overflow_cost = sum(on_demand.get(a, 0.0) for a in overflow)
            rows.append(
                {
                    "capacity": k,
                    "p50_queue_s": percentile(waits, 0.5),
                    "p95_queue_s": p95,
                    "p99_queue_s": percentile(waits, 0.99),
                    "meets_target": p95 is not None and p95 <= target,
                    "overflow_builds_if_on_demand": len(overflow),
                    "fleet_cost": fleet_cost,
                    "fleet_plus_overflow_cost": (
                        fleet_cost + overflow_cost if fleet_cost is not None else None
                    ),
                    "on_demand_cost": on_demand_total,
                }
            )
            if recommended is None and p95 is not None and p95 <= target:
                recommended = k
        out.append(
            FleetSizing(usage.name, target, pl.DataFrame(rows), recommended, on_demand_total)
        )
    return out


@dataclass(frozen=True)
class FleetReport:
    """What `ciwb cost fleets` shows: each fleet's cost and its sizing what-if."""

    costs: pl.DataFrame
    sizings: list[FleetSizing]
    assumptions: list[str]

    def to_dict(self) -> dict[str, object]:
        return {
            "fleets": self.costs.to_dicts(),
            "sizing": [
                {
                    "fleet": s.fleet,
                    "target_p95_s": s.target_p95_s,
                    "recommended_capacity": s.recommended_capacity,
                    "on_demand_cost": s.on_demand_cost,
                    "table": s.table.to_dicts(),
                }
                for s in self.sizings
            ],
            "assumptions": self.assumptions,
        }


def fleet_report(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    fleet_rate: FleetRate | None = None,
    target_p95_s: float = 60.0,
    max_capacity: int = 16,
) -> FleetReport:
    """Fleet costs and the sizing what-if over one selection, with the assumptions made."""
    with reading(db) as con:
        costs = fleet_costs(con, selection, fleet_rate=fleet_rate)
        sizings = fleet_sizing_costs(
            con,
            selection,
            target_p95_s=target_p95_s,
            max_capacity=max_capacity,
            fleet_rate=fleet_rate,
        )
    return FleetReport(
        costs,
        sizings,
        [
            "a fleet runs baseCapacity instances from its creation (or the window's start) to "
            "the window's end; scaling above the base is not replayed",
            "busy = PROVISIONING start to build end of builds that ran on the fleet",
            "an overflowed build keeps the fleet ARN; overflow is inferred by replaying the "
            "fleet's builds against its base capacity",
            "sizing replays the fleet's own arrivals (build start) and instance-times against "
            "k instances, first come first served",
        ],
    )
