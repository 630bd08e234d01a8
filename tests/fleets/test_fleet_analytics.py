"""Fleet utilisation, sizing, queue SLOs, auto-retry and runner overhead on hand-built stores."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ciwb.analytics.fleets import fleet_sizing, fleet_utilisation, recommended_capacity
from ciwb.analytics.queueing import queue_time_slos
from ciwb.analytics.retries import auto_retry_summary, retry_chains
from ciwb.analytics.runners import runner_overhead, runner_overhead_summary
from ciwb.store import Selection
from support.fleet_records import ACCOUNT, REGION, T0, build, fleet

from .test_fleet_costs import HOUR, _store


def test_utilisation_of_two_instances_for_ten_hours_with_six_busy(db_path):
    builds = [
        build("svc", i + 1, T0 + timedelta(hours=i), run_s=HOUR + 1, fleet="shared")
        for i in range(6)
    ]
    _store(db_path, builds, [fleet(capacity=2, overflow="QUEUE")])
    row = fleet_utilisation(db_path, Selection(T0, T0 + timedelta(hours=10))).row(0, named=True)
    assert row["provisioned_instance_min"] == pytest.approx(20 * 60)
    assert row["busy_instance_min"] == pytest.approx(6 * 60)
    assert row["idle_instance_min"] == pytest.approx(14 * 60)
    assert row["utilisation"] == pytest.approx(0.30)
    # the wait for an instance is SUBMITTED (1 s) + QUEUED (0 s): nobody queued
    assert (row["builds"], row["overflow_builds"], row["queued_p95_s"]) == (6, 0, 1.0)


def test_sizing_replays_the_fleets_own_arrivals(db_path):
    builds = [build("svc", i + 1, T0, run_s=601, fleet="solo") for i in range(3)]
    _store(db_path, builds, [fleet("solo", capacity=1, overflow="QUEUE")])
    sizing = fleet_sizing(db_path, Selection(until=T0 + timedelta(hours=1)), max_capacity=3)
    # waits at k=1: 0, 600, 1200; k=2: 0, 0, 600; k=3: none.
    assert sizing["p99_queue_s"].to_list() == pytest.approx([1188.0, 588.0, 0.0])
    assert sizing["overflow_builds_if_on_demand"].to_list() == [2, 1, 0]
    assert recommended_capacity(sizing) == {"solo": 3}
    assert recommended_capacity(fleet_sizing(db_path, max_capacity=3, target_p95_s=600)) == {
        "solo": 2
    }


def test_queue_time_slos_by_compute_type(db_path):
    # waits (QUEUED + PROVISIONING 10 s): 10, 20, 30, 40, 110
    builds = [
        build("svc", i + 1, T0 + timedelta(hours=i), queued_s=q)
        for i, q in enumerate((0, 10, 20, 30, 100))
    ]
    _store(db_path, builds)
    row = queue_time_slos(db_path, by="compute").row(0, named=True)
    assert row["builds"] == 5
    assert row["p50_wait_s"] == pytest.approx(30.0)
    assert row["p95_wait_s"] == pytest.approx(40 + 0.8 * 70)
    assert row["p99_wait_s"] == pytest.approx(40 + 0.96 * 70)
    by_fleet = queue_time_slos(db_path, by="fleet")
    assert by_fleet["fleet"].to_list() == ["on-demand"]
    hours = queue_time_slos(db_path, by="hour_of_week")
    assert hours["hour_of_week"].to_list() == [8, 9, 10, 11, 12]  # T0 is a Monday 08:00


def _chain(project, n0, start, statuses, resolved="a" * 40):
    arn = (
        f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build/{project}:{{:08x}}-0000-4000-8000-000000000000"
    )
    arns = [arn.format(n0 + i) for i in range(len(statuses))]
    return [
        build(
            project,
            n0 + i,
            start + timedelta(minutes=10 * i),
            status=s,
            resolved=resolved,
            retry={
                "autoRetryLimit": 2,
                "autoRetryNumber": i,
                **({"previousAutoRetry": arns[i - 1]} if i else {}),
                **({"nextAutoRetry": arns[i + 1]} if i < len(statuses) - 1 else {}),
            },
        )
        for i, s in enumerate(statuses)
    ]


def test_auto_retry_finds_chains_that_fail_then_pass(db_path):
    builds = (
        _chain("flaky", 1, T0, ["FAILED", "SUCCEEDED"])
        + _chain("flaky", 10, T0 + timedelta(hours=1), ["SUCCEEDED"])
        + _chain("broken", 20, T0, ["FAILED", "FAILED", "FAILED"])
    )
    _store(db_path, builds)
    chains = retry_chains(db_path)
    assert chains.height == 3
    summary = {r["project_name"]: r for r in auto_retry_summary(db_path).to_dicts()}
    assert summary["flaky"]["chains"] == 2 and summary["flaky"]["retries"] == 1
    assert summary["flaky"]["pass_on_retry_rate"] == 1.0
    assert summary["broken"]["retries"] == 2 and summary["broken"]["pass_on_retry_rate"] == 0.0


def test_runner_overhead_is_time_billed_before_build(db_path):
    variables = [
        {"name": "CODEBUILD_WEBHOOK_LABEL", "value": "codebuild-gha-1-1", "type": "PLAINTEXT"},
        {"name": "CODEBUILD_WEBHOOK_RUN_ID", "value": "1", "type": "PLAINTEXT"},
        {"name": "CODEBUILD_WEBHOOK_JOB_ID", "value": "11", "type": "PLAINTEXT"},
    ]
    _store(db_path, [build("gha", 1, T0, queued_s=5, variables=variables), build("plain", 1, T0)])
    rows = runner_overhead(db_path)
    assert rows["project_name"].to_list() == ["gha"]
    row = rows.row(0, named=True)
    # PROVISIONING (10 s) before BUILD; upper bound adds SUBMITTED (1 s) and QUEUED (5 s).
    assert (row["overhead_lower_s"], row["overhead_upper_s"]) == (10.0, 16.0)
    assert row["runner_kind"] == "GITHUB_ACTIONS" and row["runner_job_id"] == "11"
    assert runner_overhead_summary(db_path)["median_overhead_s"].to_list() == [10.0]


def test_flaky_build_tests_are_those_that_failed_then_passed_in_a_chain(db_path):
    from ciwb.analytics.retries import flaky_build_tests
    from ciwb.codebuild.normalise import NormalisedBatch, normalise_report, normalise_test_case
    from ciwb.store import connect
    from ciwb.store.writes import write_batch

    chain = _chain("flaky", 1, T0, ["FAILED", "SUCCEEDED"])
    batch = NormalisedBatch()
    for record in chain:
        batch.add_build(record, origin="aws")
    group = f"arn:aws:codebuild:{REGION}:{ACCOUNT}:report-group/flaky-unit"
    for i, (record, statuses) in enumerate(
        zip(
            chain,
            (
                {"test_pay": "FAILED", "test_ok": "SUCCEEDED"},
                {"test_pay": "SUCCEEDED", "test_ok": "SUCCEEDED"},
            ),
            strict=True,
        )
    ):
        report_arn = f"{group}:r{i}"
        batch.reports.append(
            normalise_report(
                {
                    "arn": report_arn,
                    "reportGroupArn": group,
                    "type": "TEST",
                    "status": "FAILED",
                    "executionId": record["arn"],
                    "created": record["endTime"],
                }
            )
        )
        for name, status in statuses.items():
            batch.test_cases.append(
                normalise_test_case(
                    {
                        "reportArn": report_arn,
                        "testSuiteName": "unit",
                        "name": name,
                        "status": status,
                    },
                    build_arn=record["arn"],
                )
            )
    with connect(db_path) as con:
        write_batch(con, batch)
    found = flaky_build_tests(db_path)
    assert found.select("project_name", "suite", "test_name", "flaky_chains").rows() == [
        ("flaky", "unit", "test_pay", 1)
    ]
