"""Each analytics function on a tiny real store whose answer is known by construction."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from ciwb import analytics
from ciwb.store import Selection, connect


def test_phase_breakdown_percentiles_and_shares(store, day):
    for i, seconds in enumerate([10, 20, 30, 40]):
        store.build("api", day(0, i * 60), store.phases(seconds))
    failed = store.phases(1000)
    failed[6] = ("BUILD", 1000, "FAILED", "COMMAND_EXECUTION_ERROR", "exit 1")
    store.build("api", day(0, 500), failed, status="FAILED")
    db = store.write()

    ok = analytics.phase_breakdown(db)
    build = ok.filter(pl.col("phase_type") == "BUILD").row(0, named=True)
    assert build["builds"] == 4
    assert build["p50_s"] == pytest.approx(25.0)
    assert build["p90_s"] == pytest.approx(37.0)
    assert build["p99_s"] == pytest.approx(39.7)
    wall = 4 * sum(s for _, s in store.phases(0)) + 100
    assert build["share_of_wall"] == pytest.approx(100 / wall)
    waiting = set(ok.filter(pl.col("waiting"))["phase_type"])
    assert waiting == {"SUBMITTED", "QUEUED", "PROVISIONING"}
    assert ok["phase_type"].to_list()[:3] == ["SUBMITTED", "QUEUED", "PROVISIONING"]
    # A project's shares add up to the whole wall time (phases are back to back here).
    assert ok["share_of_wall"].sum() == pytest.approx(1.0)

    everything = analytics.phase_breakdown(db, successful_only=False)
    assert everything.filter(pl.col("phase_type") == "BUILD")["builds"][0] == 5
    assert analytics.phase_breakdown(db, Selection(projects=["nope"])).is_empty()


def test_duration_trends_and_regression_date(store, day):
    rng = np.random.default_rng(2)
    for d in range(28):
        for k in range(4):
            base = 300 if d < 17 else 420
            store.build("web", day(d, 60 * k), [("BUILD", base + rng.normal(0, 15))])
            store.build("steady", day(d, 60 * k), [("BUILD", 300 + rng.normal(0, 15))])
    db = store.write()

    weekly = analytics.duration_trends(db, Selection(projects="web"), period="week")
    assert weekly.height == 4 and set(weekly["builds"]) == {28}
    daily = analytics.duration_trends(db, period="day")
    assert daily.height == 56

    found = analytics.duration_regressions(db)
    assert found["project_name"].to_list() == ["web"]
    row = found.row(0, named=True)
    assert row["change_date"] == day(17).date()
    assert row["direction"] == "slower"
    assert row["change_s"] == pytest.approx(120, abs=15)
    assert row["confidence"] > 0.99


def test_failures_rates_causes_and_commands(store, day):
    def failing(phase, code, message="", status="FAILED"):
        phases = store.phases(30)
        index = [p[0] for p in phases].index(phase)
        phases[index] = (phase, 5, status, code, message)
        return phases[: index + 1], status

    cases = {
        "code": failing("BUILD", "COMMAND_EXECUTION_ERROR", "Error while executing command"),
        "disk": failing("BUILD", "COMMAND_EXECUTION_ERROR", "write: No space left on device"),
        "fault": failing("PROVISIONING", "BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE", status="FAULT"),
        "timeout": failing("BUILD", "BUILD_TIMED_OUT", status="TIMED_OUT"),
        "source": failing("DOWNLOAD_SOURCE", "CLIENT_ERROR", "repository not found"),
        "yaml": failing("DOWNLOAD_SOURCE", "YAML_FILE_ERROR", "bad buildspec"),
        "deploy": failing(
            "POST_BUILD",
            "COMMAND_EXECUTION_ERROR",
            "Error while executing command: make deploy. Reason: exit status 2",
        ),
    }
    arns = {}
    for i, (name, (phases, status)) in enumerate(cases.items()):
        arns[name] = store.build("api", day(0, i), phases, status=status)["arn"]
    ok = [store.build("api", day(1, i), store.phases(30)) for i in range(4)]
    store.commands(ok[0], [("BUILD", "npm test", 20, 0), ("BUILD", "make lint", 2, 0)])
    store.commands(ok[1], [("BUILD", "npm test", 20, 1)])
    store.commands(ok[2], [("BUILD", "npm test", 20, 1), ("BUILD", "make lint", 2, 2)])
    db = store.write()

    causes = dict(analytics.classify_failures(db).select("build_arn", "cause").iter_rows())
    assert {name: causes[arn] for name, arn in arns.items()} == {
        "code": "code",
        "disk": "platform",
        "fault": "platform",
        "timeout": "timeout",
        "source": "platform",
        "yaml": "code",
        "deploy": "code",
    }

    rates = analytics.failure_rates(db)
    assert rates["failures"].sum() == 7
    build_cmd = rates.filter(
        (pl.col("failed_phase") == "BUILD") & (pl.col("context_code") == "COMMAND_EXECUTION_ERROR")
    ).row(0, named=True)
    assert build_cmd["failures"] == 2 and build_cmd["failure_rate"] == pytest.approx(2 / 11)

    summary = analytics.failure_causes(db)
    platform = summary.filter(pl.col("cause") == "platform").row(0, named=True)
    assert platform["failures"] == 3 and platform["share"] == pytest.approx(3 / 7)

    commands = analytics.failing_commands(db)
    assert commands["command"].to_list() == ["npm test", "make deploy", "make lint"]
    assert commands.row(0, named=True)["failure_rate"] == pytest.approx(2 / 3)
    # A build without command logs still names its failing command in the phase context.
    deploy = commands.row(1, named=True)
    assert (deploy["source"], deploy["runs"], deploy["phase_type"]) == (
        "phase context",
        None,
        "POST_BUILD",
    )


def test_flaky_tests_need_pass_on_retry_and_enough_runs(store, day):
    for i in range(12):
        version = f"v{i // 2}"  # every version built twice (a retry)
        broken = "FAILED" if version == "v5" else "SUCCEEDED"
        flaky = "FAILED" if i % 4 == 1 else "SUCCEEDED"
        b = store.build("api", day(0, 10 * i), [("BUILD", 30)], source_version=version)
        store.tests(
            b,
            [
                ("unit", "test_flaky", flaky),
                ("unit", "test_broken_by_v5", broken),
                ("unit", "test_ok", "SUCCEEDED"),
            ],
        )
    rare = store.build("api", day(0, 500), [("BUILD", 30)], source_version="v9")
    store.tests(rare, [("unit", "test_seen_twice", "FAILED")])
    again = store.build("api", day(0, 510), [("BUILD", 30)], source_version="v9")
    store.tests(again, [("unit", "test_seen_twice", "SUCCEEDED")])
    db = store.write()

    flaky = analytics.flaky_tests(db, min_runs=5)
    assert flaky["test_name"].to_list() == ["test_flaky"]
    row = flaky.row(0, named=True)
    assert row["builds_failed"] == 3
    assert row["pass_on_retry_versions"] == 3
    assert row["flip_rate"] == pytest.approx(6 / 11)

    everything = analytics.flaky_tests(db, min_runs=2, min_retry_versions=1, include_stable=True)
    by_name = {r["test_name"]: r for r in everything.iter_rows(named=True)}
    assert by_name["test_seen_twice"]["flaky"]  # enough runs once min_runs allows it
    assert not by_name["test_broken_by_v5"]["flaky"]  # failed twice on v5, never passed on it
    assert by_name["test_broken_by_v5"]["builds_failed"] == 2


def test_cache_hits_and_idle_expiry_cliff(store, day):
    rng = np.random.default_rng(3)
    t = day(0)
    for _ in range(80):
        gap_min = float(rng.choice([2, 5, 8, 12, 14, 16, 20, 40, 90]))
        t = t + timedelta(minutes=gap_min)
        hit = gap_min < 15
        install = (6 if hit else 70) + rng.uniform(0, 3)
        phases = store.phases(60, install_s=install)
        b = store.build("cached", t, phases, cache_type="LOCAL")
        t = b["endTime"]
        store.build("uncached", t, phases)
    db = store.write()

    builds = analytics.cache_builds(db)
    assert set(builds["project_name"]) == {"cached"}  # NO_CACHE projects are not judged
    assert builds.filter(pl.col("gap_min").is_not_null())["hit"].null_count() == 0
    truth = builds["gap_min"] < 15
    inferred = builds.filter(truth.is_not_null())
    mismatched = inferred.filter(pl.col("hit") != (pl.col("gap_min") < 15))
    assert mismatched.is_empty(), mismatched.to_dicts()

    (expiry,) = analytics.cache_idle_expiry(db, min_builds=20).iter_rows(named=True)
    assert 14 < expiry["expiry_min"] < 16
    assert expiry["cliff"] == pytest.approx(1.0)

    by_gap = analytics.cache_hit_rate_by_gap(db, edges_min=[0, 15, 60])
    assert by_gap["hit_rate"].to_list() == [1.0, 0.0, 0.0]


def test_batch_critical_path_and_exclusive_time(store, day):
    store.batch_build(
        "mono",
        day(0),
        {
            "a": ([], 0, 100),
            "b": (["a"], 110, 50),
            "c": (["a"], 110, 200),
            "d": (["b", "c"], 320, 30),
        },
    )
    db = store.write()
    paths = analytics.batch_critical_paths(db).sort("identifier")
    chain = paths.filter(pl.col("on_critical_path")).sort("path_position")["identifier"]
    assert chain.to_list() == ["a", "c", "d"]
    exclusive = dict(paths.select("identifier", "exclusive_s").iter_rows())
    assert exclusive == pytest.approx({"a": 100, "b": 0, "c": 150, "d": 30})
    wait = dict(paths.select("identifier", "wait_s").iter_rows())
    assert wait == pytest.approx({"a": 0, "b": 10, "c": 10, "d": 10})

    summary = analytics.critical_path_summary(db)
    assert summary.filter(pl.col("identifier") == "b")["critical_share"][0] == 0.0
    assert summary["batches"].unique().to_list() == [1]


def test_command_hotspots_rank_by_total_time(store, day):
    for i in range(3):
        b = store.build("api", day(0, i), [("BUILD", 100)])
        store.commands(
            b,
            [
                ("INSTALL", "npm ci", 30, 0),
                ("BUILD", "npm test", 10, 0),
                ("BUILD", "webpack", 50 if i == 0 else 1, 0),
            ],
        )
    db = store.write()
    hot = analytics.command_hotspots(db, limit=2)
    assert hot["command"].to_list() == ["npm ci", "webpack"]
    assert hot["total_s"].to_list() == pytest.approx([90, 52])
    assert hot.row(0, named=True)["share"] == pytest.approx(90 / 172)


def test_warm_vs_cold_from_replay_experiments(store):
    db = store.write()
    runs = [
        # (run, cell cache, temperature, emulated, status, seconds)
        ("r1", "local", "cold", False, "SUCCEEDED", 300.0),
        ("r2", "local", "cold", False, "SUCCEEDED", 320.0),
        ("r3", "local", "warm", False, "SUCCEEDED", 100.0),
        ("r4", "local", "warm", False, "SUCCEEDED", 120.0),
        ("r5", "local", "warm", False, "FAILED", 5.0),  # a failed run is no timing
        ("r6", "s3", "cold", True, "SUCCEEDED", 900.0),
        ("r7", "s3", "warm", True, "SUCCEEDED", 450.0),
    ]
    with connect(db) as con:
        for run_id, cache, temperature, emulated, status, seconds in runs:
            con.execute(
                "INSERT INTO experiment_runs (run_id, experiment_id, cell, arch, compute, cache,"
                " temperature, emulated, status, total_s) VALUES (?, 'e1', ?, 'arm64', 'small',"
                " ?, ?, ?, ?, ?)",
                [run_id, f"arm64/{cache}", cache, temperature, emulated, status, seconds],
            )
    cells = {r["cache"]: r for r in analytics.cache_warm_vs_cold(db).iter_rows(named=True)}
    local = cells["local"]
    assert (local["cold_runs"], local["warm_runs"]) == (2, 2)
    assert local["saved_s"] == pytest.approx(200.0)
    assert local["speedup"] == pytest.approx(310 / 110)
    assert not local["emulated"] and cells["s3"]["emulated"]
