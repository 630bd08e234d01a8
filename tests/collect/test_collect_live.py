"""`collect` against moto over HTTP: projects, builds, cursor, ledger, metrics, access denied."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import boto3
import duckdb
import pytest
from collect_history import REGION, build_record, history

from ciwb.collect import CollectOptions, collect


def _options(db_path, **kw):
    base = dict(regions=[REGION], db=db_path, batches=False, reports=False, metrics=False)
    base.update(kw)
    return CollectOptions(**base)


def _q(db_path, sql, *params):
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_first_run_stores_every_build_with_its_phases_and_counts_calls(codebuild_server, db_path):
    projects, builds = history(3, 230)
    codebuild_server.seed(projects, builds)

    summary = collect(_options(db_path))

    assert summary.status == "SUCCEEDED" and summary.exit_code == 0
    stored = dict(_q(db_path, "SELECT project_name, count(*) FROM builds GROUP BY 1"))
    assert stored == {p["name"]: 230 for p in projects}
    # every phase row, with float durations from timestamps beside AWS's truncated ones
    phases = _q(
        db_path, "SELECT count(*), sum(duration_s), sum(reported_duration_s) FROM build_phases"
    )[0]
    assert phases[0] == 690 * 11
    assert phases[1] > phases[2]
    assert _q(db_path, "SELECT DISTINCT account_id FROM builds") == [("123456789012",)]
    arches = dict(_q(db_path, "SELECT project_name, any_value(arch) FROM builds GROUP BY 1"))
    assert arches["svc-000"] == "arm64" and arches["svc-001"] == "x86_64"
    # 3 list pages per project (230 ids, 100 a page) and ⌈690 / 100⌉ BatchGetBuilds
    assert summary.api_calls["codebuild.ListBuildsForProject"] == 9
    assert summary.api_calls["codebuild.BatchGetBuilds"] == math.ceil(690 / 100)
    assert summary.api_calls["codebuild.BatchGetProjects"] == 1


def test_second_run_with_nothing_new_lists_one_page_per_project_and_gets_nothing(
    codebuild_server, db_path
):
    projects, builds = history(4, 150)
    codebuild_server.seed(projects, builds)
    collect(_options(db_path))
    before = _q(db_path, "SELECT build_arn, raw FROM builds ORDER BY 1")

    second = collect(_options(db_path))

    # counted by botocore's before-call event hooks on every client the run made
    assert second.api_calls.get("codebuild.ListBuildsForProject") == 4
    assert "codebuild.BatchGetBuilds" not in second.api_calls
    assert second.builds_fetched == 0
    assert _q(db_path, "SELECT build_arn, raw FROM builds ORDER BY 1") == before
    # the ledger has one row per run, with the calls by operation
    runs = _q(db_path, "SELECT status, api_calls FROM collect_runs ORDER BY started_at")
    assert [r[0] for r in runs] == ["SUCCEEDED", "SUCCEEDED"]
    assert json.loads(runs[1][1])["codebuild.ListBuildsForProject"] == 4
    assert json.loads(runs[0][1])["codebuild.BatchGetBuilds"] == 6


def test_new_builds_are_fetched_and_in_progress_builds_reread_until_complete(
    codebuild_server, db_path
):
    import random

    rng = random.Random(11)
    projects, builds = history(2, 40)
    start = datetime.now(UTC) - timedelta(minutes=30)
    running = build_record("svc-001", 41, start, rng=rng, complete=False)
    builds["svc-001"].append(running)
    codebuild_server.seed(projects, builds)

    collect(_options(db_path))
    row = _q(db_path, "SELECT build_complete, status FROM builds WHERE build_id = ?", running["id"])
    assert row == [(False, "IN_PROGRESS")]
    assert _q(
        db_path, "SELECT in_progress_ids FROM collect_cursors WHERE project_name = 'svc-001'"
    ) == [([running["id"]],)]

    # AWS side: the running build finishes, three new builds start in svc-000
    finished = dict(running, buildComplete=True, buildStatus="SUCCEEDED", currentPhase="COMPLETED")
    finished_full = build_record("svc-001", 41, start, rng=random.Random(11), complete=True)
    finished.update(phases=finished_full["phases"], endTime=finished_full["endTime"])
    codebuild_server.replace_build(finished)
    new = [build_record("svc-000", 41 + i, start + timedelta(minutes=i), rng=rng) for i in range(3)]
    codebuild_server.add_builds(new)

    third = collect(_options(db_path))

    assert third.api_calls["codebuild.BatchGetBuilds"] == 1  # 3 new + 1 re-read, one call
    assert third.builds_fetched == 4
    assert _q(
        db_path, "SELECT build_complete, status FROM builds WHERE build_id = ?", running["id"]
    ) == [(True, "SUCCEEDED")]
    assert _q(db_path, "SELECT count(*) FROM build_phases WHERE build_arn = ?", running["arn"]) == [
        (11,)
    ]
    assert _q(db_path, "SELECT count(*) FROM builds") == [(84,)]
    assert _q(
        db_path, "SELECT in_progress_ids FROM collect_cursors WHERE project_name = 'svc-001'"
    ) == [([],)]

    fourth = collect(_options(db_path))
    assert "codebuild.BatchGetBuilds" not in fourth.api_calls


def test_since_keeps_only_recent_builds_and_an_earlier_since_backfills(codebuild_server, db_path):
    projects, builds = history(1, 300, spacing=timedelta(hours=1))  # 12.5 days, hourly
    codebuild_server.seed(projects, builds)
    now = datetime.now(UTC).replace(tzinfo=None)

    recent = collect(_options(db_path, since=now - timedelta(days=2)))

    oldest = _q(db_path, "SELECT min(start_time), count(*) FROM builds")[0]
    assert oldest[0] >= now - timedelta(days=2)
    assert 40 <= oldest[1] <= 49
    assert recent.api_calls["codebuild.ListBuildsForProject"] == 1  # stopped inside page 1

    collect(_options(db_path, since=now - timedelta(days=30)))
    assert _q(db_path, "SELECT count(*) FROM builds") == [(300,)]


def test_project_globs_select_projects(codebuild_server, db_path):
    projects, builds = history(12, 5)
    codebuild_server.seed(projects, builds)

    summary = collect(_options(db_path, projects=["svc-00*", "svc-011"]))

    names = [r[0] for r in _q(db_path, "SELECT DISTINCT project_name FROM builds ORDER BY 1")]
    assert names == [f"svc-00{i}" for i in range(10)] + ["svc-011"]
    assert summary.api_calls["codebuild.ListBuildsForProject"] == 11


def test_access_denied_on_one_project_is_recorded_and_the_others_go_on(codebuild_server, db_path):
    projects, builds = history(3, 20)
    codebuild_server.seed(projects, builds)
    codebuild_server.denied.add("svc-001")

    summary = collect(_options(db_path))

    assert summary.status == "PARTIAL" and summary.exit_code == 1
    assert [(s["target"], s["code"]) for s in summary.skipped] == [
        ("svc-001", "AccessDeniedException")
    ]
    assert dict(_q(db_path, "SELECT project_name, count(*) FROM builds GROUP BY 1")) == {
        "svc-000": 20,
        "svc-002": 20,
    }
    ledger = _q(db_path, "SELECT status, skipped FROM collect_runs")
    assert ledger[0][0] == "PARTIAL" and "svc-001" in ledger[0][1]
    # no cursor for the denied project: the next run (once allowed) reads it all
    codebuild_server.denied.clear()
    collect(_options(db_path))
    assert _q(db_path, "SELECT count(*) FROM builds") == [(60,)]


def test_metrics_stored_per_build_with_period_from_age_in_500_query_requests(
    codebuild_server, db_path
):
    projects, builds = history(2, 50, spacing=timedelta(hours=2))
    codebuild_server.seed(projects, builds)
    short = [
        b
        for bs in builds.values()
        for b in bs
        if (b["endTime"] - b["startTime"]).total_seconds() < 60
    ]
    cw = boto3.client("cloudwatch", region_name=REGION)
    target = builds["svc-001"][-1]
    dims = [
        {"Name": "BuildId", "Value": target["id"]},
        {"Name": "BuildNumber", "Value": str(target["buildNumber"])},
        {"Name": "ProjectName", "Value": "svc-001"},
    ]
    points = [
        (target["startTime"] + timedelta(minutes=m, seconds=30), 20.0 + 10 * m) for m in range(4)
    ]
    cw.put_metric_data(
        Namespace="AWS/CodeBuild",
        MetricData=[
            {"MetricName": "CPUUtilizedPercent", "Dimensions": dims, "Timestamp": ts, "Value": v}
            for ts, v in points
        ],
    )

    summary = collect(_options(db_path, metrics=True))

    eligible = 100 - len(short)
    assert summary.api_calls["cloudwatch.GetMetricData"] == math.ceil(eligible * 6 / 500)
    assert _q(db_path, "SELECT count(DISTINCT build_arn), count(*) FROM build_metrics") == [
        (eligible, eligible * 6)
    ]
    row = _q(
        db_path,
        "SELECT points, min_value, max_value, mean_value, period_s FROM build_metrics"
        " WHERE build_arn = ? AND metric_name = 'CPUUtilizedPercent'",
        target["arn"],
    )[0]
    assert row == (4, 20.0, 50.0, 35.0, 60)
    again = collect(_options(db_path, metrics=True))
    assert "cloudwatch.GetMetricData" not in again.api_calls


@pytest.mark.parametrize("days, period", [(1, 60), (14, 60), (20, 300), (100, 3600), (500, None)])
def test_metric_period_follows_cloudwatch_retention(days, period):
    from ciwb.collect.metrics import period_for_age

    now = datetime(2026, 1, 1)
    assert period_for_age(now - timedelta(days=days), now) == period
