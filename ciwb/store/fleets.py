"""What each reserved-capacity fleet in the store did over a window: provisioned, busy, overflow.

Read by both `ciwb.analytics.fleets` (utilisation, queueing) and `ciwb.cost.fleets` (idle
cost), which must not know each other. Only a fleet's current state is stored (BatchGetFleets
has no history), so CHOICE: a fleet is taken to have run `baseCapacity` instances from its
`created` time (or the window's start, if later) to the window's end; scaling above the base
is not replayed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from ciwb.codebuild.fleets import FLEET_BUILDS_SQL, FleetJob, infer_overflow
from ciwb.store.session import reuse

__all__ = ["FleetBuild", "FleetUsage", "fleet_usage", "overflowed_builds"]


@dataclass(frozen=True)
class FleetBuild:
    build_arn: str
    project_name: str
    status: str
    start_time: datetime
    instance_start: datetime
    end_time: datetime
    arrival_s: float
    service_s: float
    overflow: bool


@dataclass
class FleetUsage:
    """One fleet over [window_start, window_end)."""

    fleet_arn: str
    name: str
    region: str
    account_id: str
    environment_type: str | None
    compute_type: str | None
    instance_type: str | None
    base_capacity: int
    overflow_behavior: str | None
    window_start: datetime
    window_end: datetime
    builds: list[FleetBuild] = field(default_factory=list)

    @property
    def provisioned_instance_s(self) -> float:
        return self.base_capacity * max((self.window_end - self.window_start).total_seconds(), 0)

    @property
    def busy_instance_s(self) -> float:
        """Instance-seconds of builds that ran on the fleet, clipped to the window."""
        busy = 0.0
        for b in self.builds:
            if b.overflow:
                continue
            start = max(b.instance_start, self.window_start)
            end = min(b.end_time, self.window_end)
            busy += max((end - start).total_seconds(), 0.0)
        return busy


def _fleet_jobs(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    # Every fleet build, read (and each fleet replayed, `_overflow`) once per shared
    # connection: the overflow marks, the costs and the sizing all start from them.
    return reuse(con, "ciwb.store.fleets: fleet builds", lambda: _read_fleet_jobs(con))


def _read_fleet_jobs(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    rows = con.execute(FLEET_BUILDS_SQL + " ORDER BY b.fleet_arn, b.start_time").fetchall()
    by_fleet: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_fleet.setdefault(row[0], []).append(row)
    return by_fleet


def _overflow_keys(rows: list[tuple[Any, ...]], capacity: int, behaviour: str | None) -> set[str]:
    # rows: FLEET_BUILDS_SQL columns; a build asks for an instance at its PROVISIONING start.
    jobs = [FleetJob(r[1], r[8], r[9]) for r in rows]
    return infer_overflow(jobs, capacity, behaviour)


def _overflow(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """Per stored fleet: the ARNs of its builds inferred to have overflowed."""

    def replay() -> dict[str, set[str]]:
        jobs = _fleet_jobs(con)
        return {
            arn: _overflow_keys(jobs.get(arn, []), capacity, behaviour)
            for arn, capacity, behaviour in con.execute(
                "SELECT fleet_arn, coalesce(base_capacity, 0), overflow_behavior FROM fleets"
            ).fetchall()
        }

    return reuse(con, "ciwb.store.fleets: overflow", replay)


def overflowed_builds(con: duckdb.DuckDBPyConnection) -> set[str]:
    """ARNs of fleet builds inferred to have overflowed to on-demand (see infer_overflow)."""
    return set().union(*_overflow(con).values())


def fleet_usage(
    con: duckdb.DuckDBPyConnection,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[FleetUsage]:
    """Every stored fleet with its builds (start within the window) and overflow marks.

    The window ends at `until`, else at the newest build end in the fleet's region (the
    store's horizon there); it starts at the later of the fleet's `created` and `since`.
    """
    horizon = dict(
        con.execute("SELECT region, max(end_time) FROM builds GROUP BY region").fetchall()
    )
    jobs = _fleet_jobs(con)
    overflows = _overflow(con)
    out: list[FleetUsage] = []
    for (
        arn,
        name,
        region,
        account,
        env,
        compute,
        instance,
        capacity,
        behaviour,
        created,
    ) in con.execute(
        "SELECT fleet_arn, name, region, account_id, environment_type, compute_type,"
        " compute_instance_type, coalesce(base_capacity, 0), overflow_behavior, created"
        " FROM fleets ORDER BY region, name"
    ).fetchall():
        rows = jobs.get(arn, [])
        first = min((r[4] for r in rows), default=None)
        candidates = [t for t in (created or first, since) if t is not None]
        start = max(candidates) if candidates else None
        end = until or horizon.get(region)
        if start is None or end is None:
            continue
        end = max(end, start)
        overflow = overflows[arn]
        usage = FleetUsage(
            arn, name, region, account, env, compute, instance, capacity, behaviour, start, end
        )
        for r in rows:
            if not start <= r[4] < end:
                continue
            usage.builds.append(
                FleetBuild(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[9], r[1] in overflow)
            )
        out.append(usage)
    return out
