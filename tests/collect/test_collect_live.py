"""`collect` against moto over HTTP: projects, builds, cursor, ledger, metrics, access denied."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from ciwb.collect import CollectOptions, collect
from support.aws import REGION
from support.builds import build_record
from support.collect_history import DEMO_ACCOUNT, OTHER_ACCOUNT, demo, history
from support.queries import query as _q


def _options(db_path, **kw):
    base = dict(regions=[REGION], db=db_path, batches=False, reports=False, metrics=False)
    base.update(kw)
    return CollectOptions(**base)


def _pages(n: int) -> int:
    return max(1, math.ceil(n / 100))


def test_first_run_stores_every_build_with_its_phases_and_counts_calls(codebuild_server, db_path):
    projects, builds = history(1200)
    codebuild_server.seed(projects, builds)
    total = sum(len(b) for b in builds.values())

    summary = collect(_options(db_path))

    assert summary.status == "SUCCEEDED" and summary.exit_code == 0
    stored = dict(_q(db_path, "SELECT project_name, count(*) FROM builds GROUP BY 1"))
    assert stored == {name: len(b) for name, b in builds.items() if b}
    # every phase row, with float durations from timestamps beside AWS's truncated ones
    phases = _q(
        db_path, "SELECT count(*), sum(duration_s), sum(reported_duration_s) FROM build_phases"
    )[0]
    assert phases[0] == sum(len(r["phases"]) for b in builds.values() for r in b)
    assert phases[1] > phases[2]
    assert _q(db_path, "SELECT DISTINCT account_id FROM builds") == [("123456789012",)]
    arm = {
        r["projectName"]
        for b in builds.values()
        for r in b
        if r["environment"]["type"].startswith("ARM")
    }
    assert (
        arm
        and {
            r[0]
            for r in _q(db_path, "SELECT DISTINCT project_name FROM builds WHERE arch = 'arm64'")
        }
        == arm
    )
    # list pages of 100 ids per project and ⌈builds / 100⌉ BatchGetBuilds across projects
    assert summary.api_calls["codebuild.ListBuildsForProject"] == sum(
        _pages(len(b)) for b in builds.values()
    )
    assert summary.api_calls["codebuild.BatchGetBuilds"] == math.ceil(total / 100)
    assert summary.api_calls["codebuild.BatchGetProjects"] == 1


def test_second_run_with_nothing_new_lists_one_page_per_project_and_gets_nothing(
    codebuild_server, db_path
):
    projects, builds = history(900)
    codebuild_server.seed(projects, builds)
    first = collect(_options(db_path))
    before = _q(db_path, "SELECT build_arn, raw FROM builds ORDER BY 1")

    second = collect(_options(db_path))

    # counted by botocore's before-call event hooks on every client the run made
    assert second.api_calls.get("codebuild.ListBuildsForProject") == len(projects)
    assert "codebuild.BatchGetBuilds" not in second.api_calls
    assert second.builds_fetched == 0
    assert _q(db_path, "SELECT build_arn, raw FROM builds ORDER BY 1") == before
    # the ledger has one row per run, with the calls by operation
    runs = _q(db_path, "SELECT status, api_calls FROM collect_runs ORDER BY started_at")
    assert [r[0] for r in runs] == ["SUCCEEDED", "SUCCEEDED"]
    assert json.loads(runs[1][1])["codebuild.ListBuildsForProject"] == len(projects)
    assert json.loads(runs[0][1]) == first.api_calls


def test_new_builds_are_fetched_and_in_progress_builds_reread_until_complete(
    codebuild_server, db_path
):
    import random

    projects, builds = history(300)
    start = datetime.now(UTC) - timedelta(minutes=30)
    running = build_record("monorepo", 10_001, start, rng=random.Random(11), complete=False)
    builds["monorepo"].append(running)
    codebuild_server.seed(projects, builds)
    total = sum(len(b) for b in builds.values())

    first = collect(_options(db_path))
    assert (first.rows_written["builds"], first.rows_written["build_phases"]) == (
        total,
        sum(len(r["phases"]) for b in builds.values() for r in b),
    )
    row = _q(db_path, "SELECT build_complete, status FROM builds WHERE build_id = ?", running["id"])
    assert row == [(False, "IN_PROGRESS")]
    assert _q(
        db_path, "SELECT in_progress_ids FROM collect_cursors WHERE project_name = 'monorepo'"
    ) == [([running["id"]],)]

    # AWS side: the running build finishes, three new builds start in docs-site
    finished = build_record("monorepo", 10_001, start, rng=random.Random(11), complete=True)
    assert finished["id"] == running["id"]
    codebuild_server.replace_build(finished)
    rng = random.Random(12)
    new = [
        build_record("docs-site", 10_001 + i, start + timedelta(minutes=i), rng=rng)
        for i in range(3)
    ]
    codebuild_server.add_builds(new)

    third = collect(_options(db_path))

    assert third.api_calls["codebuild.BatchGetBuilds"] == 1  # 3 new + 1 re-read, one call
    assert third.builds_fetched == 4
    # the re-read build's row and all 11 of its phases replace the 5 it had, plus the new ones
    assert (third.rows_written["builds"], third.rows_written["build_phases"]) == (
        4,
        len(finished["phases"]) + sum(len(b["phases"]) for b in new),
    )
    assert len(finished["phases"]) == 11 and len(running["phases"]) < 11
    assert _q(
        db_path, "SELECT build_complete, status FROM builds WHERE build_id = ?", running["id"]
    ) == [(True, "SUCCEEDED")]
    assert _q(db_path, "SELECT count(*) FROM build_phases WHERE build_arn = ?", running["arn"]) == [
        (11,)
    ]
    assert _q(db_path, "SELECT count(*) FROM builds") == [(total + 3,)]
    assert _q(
        db_path, "SELECT in_progress_ids FROM collect_cursors WHERE project_name = 'monorepo'"
    ) == [([],)]

    fourth = collect(_options(db_path))
    assert "codebuild.BatchGetBuilds" not in fourth.api_calls


def test_since_keeps_only_recent_builds_and_an_earlier_since_backfills(codebuild_server, db_path):
    projects, builds = history(900, days=12)
    codebuild_server.seed(projects, builds)
    now = datetime.now(UTC).replace(tzinfo=None)
    since = now - timedelta(days=2)
    # boto3 records carry aware UTC datetimes; ciwb's own times are naive UTC
    recent = [r for b in builds.values() for r in b if r["startTime"] >= since.replace(tzinfo=UTC)]

    first = collect(_options(db_path, since=since))

    assert _q(db_path, "SELECT count(*) FROM builds") == [(len(recent),)]
    assert _q(db_path, "SELECT min(start_time) FROM builds")[0][0] >= since
    full_listing = sum(_pages(len(b)) for b in builds.values())
    assert first.api_calls["codebuild.ListBuildsForProject"] < full_listing

    collect(_options(db_path, since=now - timedelta(days=30)))
    assert _q(db_path, "SELECT count(*) FROM builds") == [(sum(map(len, builds.values())),)]


def test_project_globs_select_projects(codebuild_server, db_path):
    projects, builds = history(300)
    codebuild_server.seed(projects, builds)

    summary = collect(_options(db_path, projects=["*-service", "monorepo"]))

    names = [r[0] for r in _q(db_path, "SELECT DISTINCT project_name FROM builds ORDER BY 1")]
    assert names == ["api-service", "auth-service", "monorepo"]
    assert summary.api_calls["codebuild.ListBuildsForProject"] == 3


def test_access_denied_on_one_project_is_recorded_and_the_others_go_on(codebuild_server, db_path):
    projects, builds = history(300)
    codebuild_server.seed(projects, builds)
    codebuild_server.denied.add("payments-core")
    total = sum(len(b) for b in builds.values())

    summary = collect(_options(db_path))

    assert summary.status == "PARTIAL" and summary.exit_code == 1
    assert [(s["target"], s["code"]) for s in summary.skipped] == [
        ("payments-core", "AccessDeniedException")
    ]
    assert _q(
        db_path, "SELECT count(*), count(*) FILTER (project_name = 'payments-core') FROM builds"
    ) == [(total - len(builds["payments-core"]), 0)]
    ledger = _q(db_path, "SELECT status, skipped FROM collect_runs")
    assert ledger[0][0] == "PARTIAL" and "payments-core" in ledger[0][1]
    # no cursor for the denied project: the next run (once allowed) reads it all
    codebuild_server.denied.clear()
    collect(_options(db_path))
    assert _q(db_path, "SELECT count(*) FROM builds") == [(total,)]


def test_metrics_stored_per_build_with_period_from_age_in_500_query_requests(
    codebuild_server, db_path
):
    h = demo(250, days=5)
    projects, builds = history(250, days=5)
    codebuild_server.seed(projects, builds)
    now = datetime.now(UTC).replace(tzinfo=None)
    eligible = [
        r
        for b in builds.values()
        for r in b
        if (r["endTime"] - r["startTime"]).total_seconds() >= 60
        and r["endTime"] <= (now - timedelta(minutes=10)).replace(tzinfo=UTC)
    ]
    # CloudWatch holds the demo's utilisation series for one build
    by_arn: dict[str, list] = {}
    for m in h.metrics:
        by_arn.setdefault(m.build_arn.replace(DEMO_ACCOUNT, "123456789012"), []).append(m)
    target = next(r for r in reversed(eligible) if len(by_arn.get(r["arn"], ())) == 6)
    series = by_arn[target["arn"]]
    dims = [
        {"Name": "BuildId", "Value": target["id"]},
        {"Name": "BuildNumber", "Value": str(target["buildNumber"])},
        {"Name": "ProjectName", "Value": target["projectName"]},
    ]
    cw = boto3.client("cloudwatch", region_name=REGION)
    for m in series:
        cw.put_metric_data(
            Namespace="AWS/CodeBuild",
            MetricData=[
                {"MetricName": m.metric_name, "Dimensions": dims, "Timestamp": ts, "Value": v}
                for ts, v in zip(m.result["Timestamps"], m.result["Values"], strict=True)
            ],
        )

    summary = collect(_options(db_path, metrics=True))

    assert summary.api_calls["cloudwatch.GetMetricData"] == math.ceil(len(eligible) * 6 / 500)
    assert _q(db_path, "SELECT count(DISTINCT build_arn), count(*) FROM build_metrics") == [
        (len(eligible), len(eligible) * 6)
    ]
    cpu = next(m for m in series if m.metric_name == "CPUUtilizedPercent").result["Values"]
    row = _q(
        db_path,
        "SELECT points, min_value, max_value, period_s FROM build_metrics"
        " WHERE build_arn = ? AND metric_name = 'CPUUtilizedPercent'",
        target["arn"],
    )[0]
    assert row == (len(cpu), min(cpu), max(cpu), 60)
    again = collect(_options(db_path, metrics=True))
    assert "cloudwatch.GetMetricData" not in again.api_calls


@pytest.mark.parametrize("days, period", [(1, 60), (14, 60), (20, 300), (100, 3600), (500, None)])
def test_metric_period_follows_cloudwatch_retention(days, period):
    from ciwb.collect.metrics import period_for_age

    now = datetime(2026, 1, 1)
    assert period_for_age(now - timedelta(days=days), now) == period


def test_several_accounts_in_one_run_via_profiles_and_assumed_roles(
    codebuild_server, db_path, tmp_path, monkeypatch
):
    projects, builds = history(600, account=None)  # the demo spreads projects over 2 accounts
    codebuild_server.seed(projects, builds)
    config = tmp_path / "aws-config"
    config.write_text(
        "[profile ops]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
        "region = us-east-1\n\n"
        f"[profile prod]\nrole_arn = arn:aws:iam::{OTHER_ACCOUNT}:role/ciwb-reader\n"
        "source_profile = ops\nregion = us-east-1\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    where: dict[tuple[str, str], int] = {}  # (account, region) → builds
    for p in projects:
        key = (p["arn"].split(":")[4], p["arn"].split(":")[3])
        where[key] = where.get(key, 0) + len(builds[p["name"]])
    regions = sorted({r for _, r in where})
    assert {a for a, _ in where} == {"123456789012", OTHER_ACCOUNT} and len(regions) > 1

    summary = collect(_options(db_path, profiles=["ops", "prod"], regions=regions))

    assert summary.accounts == ["123456789012", OTHER_ACCOUNT]
    assert summary.regions == regions
    assert (
        dict(
            ((a, r), n)
            for a, r, n in _q(
                db_path, "SELECT account_id, region, count(*) FROM builds GROUP BY ALL"
            )
        )
        == where
    )
    per_account = {a: sum(n for (x, _), n in where.items() if x == a) for a, _ in where}

    # --role-arn from the default credentials reaches the other account alone
    other = tmp_path / "other.duckdb"
    collect(
        _options(other, role_arn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/ciwb-reader", regions=regions)
    )
    assert dict(_q(other, "SELECT account_id, count(*) FROM builds GROUP BY 1")) == {
        OTHER_ACCOUNT: per_account[OTHER_ACCOUNT]
    }


def test_regions_are_checked_and_all_regions_expands(aws_env):
    import boto3

    from ciwb.collect.aws import resolve_regions
    from ciwb.errors import CollectAwsError

    session = boto3.Session(region_name=REGION)
    every = resolve_regions(session, [], all_regions=True)
    assert REGION in every and "eu-west-1" in every and len(every) > 10
    assert resolve_regions(session, [], all_regions=False) == [REGION]  # the session's own
    assert resolve_regions(session, ["eu-west-1", "eu-west-1"], False) == ["eu-west-1"]
    with pytest.raises(CollectAwsError, match="unknown region 'us-east-42'"):
        resolve_regions(session, ["us-east-42"], False)


def test_clients_use_adaptive_retries_and_count_calls_by_operation(aws_env):
    from ciwb.collect.aws import CallCounter, open_account

    counter = CallCounter()
    account = open_account(None, role_arn=None, counter=counter, region=REGION)
    client = account.client("codebuild", REGION)

    assert client.meta.config.retries["mode"] == "adaptive"
    assert account.account_id == "123456789012"
    client.list_projects()
    client.list_projects()
    assert counter.calls == {"sts.GetCallerIdentity": 1, "codebuild.ListProjects": 2}
