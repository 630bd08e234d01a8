"""Reserved-capacity fleets and auto-retry chains: how CodeBuild schedules and links builds.

A fleet is `baseCapacity` instances, billed while they exist, busy or idle. A build on a fleet
waits in QUEUED until an instance is free; with `overflowBehavior` ON_DEMAND a build that finds
every instance busy runs on on-demand compute instead (AWS user guide, "Reserved capacity fleet
properties"). `simulate` replays arrivals and instance-times against k instances (first come,
first served, each build on the instance that frees first); the overflow inference and the
sizing what-if both use it.

Auto-retry: each retry is its own build, linked by `autoRetryConfig.previousAutoRetry` /
`nextAutoRetry` (build ARNs); the initial build has `autoRetryNumber` 0. `RETRY_CHAINS_SQL`
gives every linked build its chain (the ARN of the chain's first build).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

__all__ = [
    "FLEET_BUILDS_SQL",
    "RETRY_CHAINS_SQL",
    "FleetJob",
    "Placement",
    "arrival_order",
    "infer_overflow",
    "overflowed",
    "percentile",
    "queue_waits",
    "simulate",
]


@dataclass(frozen=True)
class FleetJob:
    """One build as the fleet saw it: when it asked for an instance and for how long."""

    key: str
    arrival_s: float  # seconds from any fixed origin
    service_s: float  # instance-time: from PROVISIONING start to the build's end


@dataclass(frozen=True)
class Placement:
    key: str
    start_s: float  # when it got an instance (arrival for on-demand)
    wait_s: float  # time queued behind the fleet
    on_demand: bool  # overflowed to on-demand compute


def arrival_order(jobs: Iterable[FleetJob]) -> list[FleetJob]:
    """`jobs` in the order a fleet serves them: by arrival (ties by key)."""
    return sorted(jobs, key=lambda j: (j.arrival_s, j.key))


def _replay(
    ordered: Sequence[FleetJob], instances: int, overflow: str
) -> Iterator[tuple[FleetJob, float, float, bool]]:
    """(job, start_s, wait_s, on_demand) per job of `ordered` (arrival order): `simulate`."""
    if instances <= 0:
        for job in ordered:
            yield job, job.arrival_s, 0.0, True
        return
    free_at = [float("-inf")] * instances  # min-heap of when each instance frees
    for job in ordered:
        earliest = free_at[0]
        if earliest <= job.arrival_s:
            heapq.heapreplace(free_at, job.arrival_s + job.service_s)
            yield job, job.arrival_s, 0.0, False
        elif overflow == "ON_DEMAND":
            yield job, job.arrival_s, 0.0, True
        else:
            heapq.heapreplace(free_at, earliest + job.service_s)
            yield job, earliest, earliest - job.arrival_s, False


def simulate(jobs: Iterable[FleetJob], instances: int, overflow: str = "QUEUE") -> list[Placement]:
    """Replay `jobs` against `instances` fleet instances, in arrival order.

    QUEUE: a build waits for the first instance to free (FIFO). ON_DEMAND: a build that finds
    every instance busy runs on demand at once. An instance freed at t serves a build arriving
    at t. With 0 instances every build is on demand (QUEUE would wait forever).
    """
    return [
        Placement(job.key, start, wait, on_demand)
        for job, start, wait, on_demand in _replay(arrival_order(jobs), instances, overflow)
    ]


def queue_waits(ordered: Sequence[FleetJob], instances: int) -> list[float]:
    """Each build's `wait_s` under QUEUE, as `simulate` gives it, for jobs already in
    `arrival_order`: a sizing sweep replays one fleet at every capacity, and sorting the jobs
    and building a `Placement` per build each time was most of its cost."""
    return [wait for _, _, wait, _ in _replay(ordered, instances, "QUEUE")]


def overflowed(ordered: Sequence[FleetJob], instances: int) -> list[str]:
    """The keys, in arrival order, of the builds that run on demand under ON_DEMAND (as
    `simulate` gives them), for jobs already in `arrival_order`."""
    return [
        job.key for job, _, _, on_demand in _replay(ordered, instances, "ON_DEMAND") if on_demand
    ]


def infer_overflow(jobs: Sequence[FleetJob], instances: int, overflow: str | None) -> set[str]:
    """Builds of a fleet that ran on demand because every instance was busy.

    AWS is silent on whether an overflowed build keeps `environment.fleet.fleetArn`.
    CHOICE: ciwb assumes it does (the build's environment is its project's) and infers
    overflow by replaying the fleet's builds, at their PROVISIONING start, against its base
    capacity: under ON_DEMAND a build that finds all instances busy overflowed. A fleet that
    QUEUEs never overflows. (Were the ARN dropped, such builds would read as on-demand builds
    of the project, which they are priced as anyway.)
    """
    if overflow != "ON_DEMAND":
        return set()
    return {p.key for p in simulate(jobs, instances, "ON_DEMAND") if p.on_demand}


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), `q` in [0, 1]; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


# Every completed build that names a fleet, with the times the fleet saw. Arrival is the
# build's start (SUBMITTED); an instance is taken from the PROVISIONING start to the end
# (CHOICE: queue time is not instance time; a build with no PROVISIONING phase takes its
# instance from its start).
FLEET_BUILDS_SQL = """
WITH prov AS (
    SELECT build_arn, min(start_time) AS provisioning_start
    FROM build_phases WHERE phase_type = 'PROVISIONING' GROUP BY build_arn
)
SELECT b.fleet_arn, b.build_arn, b.project_name, b.status,
       b.start_time, coalesce(p.provisioning_start, b.start_time) AS instance_start,
       b.end_time,
       epoch_us(b.start_time) / 1e6 AS arrival_s,
       epoch_us(coalesce(p.provisioning_start, b.start_time)) / 1e6 AS instance_start_s,
       greatest(epoch_us(b.end_time)
                - epoch_us(coalesce(p.provisioning_start, b.start_time)), 0) / 1e6 AS service_s
FROM builds b LEFT JOIN prov p USING (build_arn)
WHERE b.fleet_arn IS NOT NULL AND b.build_complete
  AND b.start_time IS NOT NULL AND b.end_time IS NOT NULL
"""

# build_arn → chain (the first build's ARN) and position, for builds that carry
# autoRetryConfig. Links are followed from the initial build (autoRetryNumber 0 or no
# previousAutoRetry) through each build whose previousAutoRetry names the one before.
RETRY_CHAINS_SQL = """
WITH RECURSIVE walk(build_arn, chain_arn, position) AS (
    SELECT build_arn, build_arn, 0 FROM builds
    WHERE auto_retry_number IS NOT NULL AND previous_auto_retry IS NULL
    UNION ALL
    SELECT b.build_arn, w.chain_arn, w.position + 1
    FROM builds b JOIN walk w ON b.previous_auto_retry = w.build_arn
)
SELECT build_arn, chain_arn, position FROM walk
"""
