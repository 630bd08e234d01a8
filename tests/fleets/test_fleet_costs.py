"""Hand-computed fleet, overflow, retry-chain and queue-simulation figures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ciwb.codebuild.fleets import FleetJob, infer_overflow, percentile, simulate
from ciwb.codebuild.normalise import NormalisedBatch, normalise_fleet
from ciwb.cost import BillingOptions, FleetRate
from ciwb.cost.estimate import build_costs
from ciwb.cost.fleets import fleet_costs, fleet_sizing_costs
from ciwb.cost.retries import retry_chain_costs
from ciwb.store import Selection, connect
from ciwb.store.writes import write_batch
from support.fleet_records import ACCOUNT, REGION, T0, build, fleet

HOUR = 3600.0


def _store(db_path, builds, fleets=()):
    batch = NormalisedBatch()
    for record in builds:
        batch.add_build(record, origin="aws")
    batch.fleets.extend(normalise_fleet(f) for f in fleets)
    with connect(db_path) as con:
        write_batch(con, batch)


def test_two_instances_ten_hours_six_busy_is_30_percent_and_14_idle(db_path):
    # Six builds of exactly one instance-hour each (PROVISIONING start → end), one an hour.
    builds = [
        build("svc", i + 1, T0 + timedelta(hours=i), run_s=HOUR + 1, fleet="shared")
        for i in range(6)
    ]
    _store(db_path, builds, [fleet(capacity=2, overflow="QUEUE")])
    table = fleet_costs(
        db_path, Selection(T0, T0 + timedelta(hours=10)), fleet_rate=FleetRate(0.01)
    )
    row = table.row(0, named=True)
    assert row["provisioned_instance_h"] == pytest.approx(20.0)
    assert row["busy_instance_h"] == pytest.approx(6.0)
    assert row["utilisation"] == pytest.approx(0.30)
    assert row["idle_instance_h"] == pytest.approx(14.0)
    # 20 instance-hours at $0.01 an instance-minute; 14 of them idle.
    assert row["fleet_cost"] == pytest.approx(12.0)
    assert row["idle_cost"] == pytest.approx(8.4)
    # The builds themselves carry no per-build price.
    costs = build_costs(db_path)
    assert set(costs["unpriced_reason"]) == {"billed by reserved fleet"}


def test_fleet_without_a_rate_is_unpriced(db_path):
    _store(db_path, [build("svc", 1, T0, fleet="shared")], [fleet()])
    row = fleet_costs(db_path, Selection(until=T0 + timedelta(hours=1))).row(0, named=True)
    assert row["fleet_cost"] is None and "give --fleet-rate" in row["unpriced_reason"]


def test_overflow_builds_are_priced_on_demand(db_path):
    # One instance, ON_DEMAND: three builds at once → the first on the fleet, two overflow.
    builds = [build("svc", i + 1, T0, run_s=601, fleet="solo") for i in range(3)]
    _store(db_path, builds, [fleet("solo", capacity=1, overflow="ON_DEMAND")])
    costs = build_costs(db_path).sort("build_arn")
    overflow = costs.filter(costs["fleet_overflow"])
    assert overflow.height == 2
    # 600 s from PROVISIONING start = 10 billed minutes at $0.01 (general1.medium).
    assert overflow["cost_lower"].to_list() == pytest.approx([0.10, 0.10])
    row = fleet_costs(db_path, Selection(until=T0 + timedelta(hours=1))).row(0, named=True)
    assert (row["builds"], row["overflow_builds"]) == (3, 2)
    assert row["overflow_cost"] == pytest.approx(0.20)
    assert row["busy_instance_h"] == pytest.approx(600 / HOUR)


def test_three_build_retry_chain_costs_three_builds(db_path):
    arn = "arn:aws:codebuild:{}:{}:build/{}".format(REGION, ACCOUNT, "{}")
    ids = [f"flaky:{i:08x}-0000-4000-8000-000000000000" for i in (1, 2, 3)]
    arns = [arn.format(i) for i in ids]
    chain = [
        build(
            "flaky",
            n + 1,
            T0 + timedelta(minutes=10 * n),
            run_s=301,
            compute="BUILD_GENERAL1_SMALL",
            status=status,
            retry={
                "autoRetryLimit": 2,
                "autoRetryNumber": n,
                **({"previousAutoRetry": arns[n - 1]} if n else {}),
                **({"nextAutoRetry": arns[n + 1]} if n < 2 else {}),
            },
        )
        for n, status in enumerate(("FAILED", "FAILED", "SUCCEEDED"))
    ]
    assert [b["arn"] for b in chain] == arns
    _store(db_path, chain)
    chains = retry_chain_costs(db_path)
    assert chains.height == 1
    row = chains.row(0, named=True)
    assert (row["builds"], row["retries"], row["first_status"], row["final_status"]) == (
        3,
        2,
        "FAILED",
        "SUCCEEDED",
    )
    assert row["passed_on_retry"] is True
    # Each build bills 5 minutes (PROVISIONING start → end) at $0.005: three builds' worth.
    assert row["cost_lower"] == pytest.approx(3 * 5 * 0.005)
    assert row["retry_cost_lower"] == pytest.approx(2 * 5 * 0.005)


def test_queue_simulation_by_hand():
    # Four builds of 10 s arriving at 0, 0, 0, 5 on k instances, first come first served.
    jobs = [FleetJob("a", 0, 10), FleetJob("b", 0, 10), FleetJob("c", 0, 10), FleetJob("d", 5, 10)]
    one = {p.key: p.wait_s for p in simulate(jobs, 1)}
    assert one == {"a": 0, "b": 10, "c": 20, "d": 25}  # d starts at 30
    two = {p.key: p.wait_s for p in simulate(jobs, 2)}
    assert two == {"a": 0, "b": 0, "c": 10, "d": 5}  # c at 10 on a's, d at 10 on b's
    assert {p.key for p in simulate(jobs, 2, "ON_DEMAND") if p.on_demand} == {"c", "d"}
    assert infer_overflow(jobs, 3, "ON_DEMAND") == {"d"}
    assert infer_overflow(jobs, 1, "QUEUE") == set()
    assert percentile([0, 10, 20, 25], 0.5) == 15.0


def test_sizing_what_if_finds_the_smallest_capacity_meeting_the_target(db_path):
    # Three 10-minute builds submitted together, a fleet of 1 that queues.
    builds = [build("svc", i + 1, T0, run_s=601, fleet="solo") for i in range(3)]
    _store(db_path, builds, [fleet("solo", capacity=1, overflow="QUEUE")])
    (sizing,) = fleet_sizing_costs(
        db_path,
        Selection(until=T0 + timedelta(hours=1)),
        target_p95_s=60,
        max_capacity=3,
        fleet_rate=FleetRate(0.002),
    )
    table = sizing.table
    # instance-time 600 s each; k=1 waits 0/600/1200, k=2 waits 0/0/600, k=3 none.
    assert table["p95_queue_s"].to_list() == pytest.approx([1140.0, 540.0, 0.0])
    assert sizing.recommended_capacity == 3
    # k instances for one hour at $0.002/min; on-demand: three builds × 10 min × $0.01.
    assert table["fleet_cost"].to_list() == pytest.approx([0.12, 0.24, 0.36])
    assert sizing.on_demand_cost == pytest.approx(0.30)
    assert BillingOptions().describe()


def test_a_window_outside_the_fleets_life_gives_no_fleet_finding(db_path):
    from ciwb.report.findings.fleets import fleet_findings

    _store(db_path, [build("svc", 1, T0, fleet="shared")], [fleet()])
    assert list(fleet_findings(db_path, Selection(since="2099-01-01"))) == []
    assert fleet_findings(db_path, Selection(until=T0 + timedelta(hours=1)))
