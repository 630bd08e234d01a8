"""The 2026 shapes in the demo: Stubber-valid, and what was planted is what the analyses find."""

from __future__ import annotations

from datetime import datetime

import boto3
import polars as pl
import pytest
from botocore.stub import Stubber

from ciwb.analytics.fleets import fleet_sizing, fleet_utilisation, recommended_capacity
from ciwb.analytics.retries import auto_retry_summary
from ciwb.analytics.runners import runner_overhead
from ciwb.cost import FleetRate, build_costs, fleet_costs, runner_job_costs
from ciwb.demo import PlantedFacts, generate, load_demo
from ciwb.demo.generator import iter_chunks
from ciwb.store import Selection


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    db = tmp_path_factory.mktemp("fleets-demo") / "demo.duckdb"
    summary = load_demo(db, builds=8_000, seed=11)
    return db, PlantedFacts.read(summary.planted_path).modern


def _window(fleet):
    return Selection(
        datetime.fromisoformat(fleet["window_start"]), datetime.fromisoformat(fleet["window_end"])
    )


def test_new_shapes_validate_against_botocore():
    history = generate(builds=2_000, seed=5)
    stubber = Stubber(
        boto3.client(
            "codebuild",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
    )
    modern = [b for b in history.builds if "autoRetryConfig" in b or "fleet" in b["environment"]]
    assert modern and history.fleets
    for chunk in iter_chunks(history.builds, 100):
        stubber.add_response("batch_get_builds", {"builds": chunk})
    stubber.add_response("batch_get_projects", {"projects": history.projects})
    stubber.add_response("batch_get_fleets", {"fleets": history.fleets})


def test_planted_fleet_utilisation_and_idle_cost_are_found(demo):
    db, planted = demo
    fleet = planted["fleet"]
    row = fleet_utilisation(db, _window(fleet)).row(0, named=True)
    assert row["fleet"] == fleet["name"] and row["base_capacity"] == fleet["base_capacity"]
    assert row["projects"] == ", ".join(sorted(fleet["projects"]))
    assert row["utilisation"] == pytest.approx(fleet["utilisation"], rel=0.01)
    assert row["overflow_builds"] == pytest.approx(fleet["overflow_builds"], abs=2)
    costs = fleet_costs(
        db, _window(fleet), fleet_rate=FleetRate(fleet["rate_per_instance_minute"])
    ).row(0, named=True)
    assert costs["idle_instance_h"] == pytest.approx(fleet["idle_instance_h"], rel=0.01)
    assert costs["idle_cost"] == pytest.approx(fleet["idle_cost"], rel=0.01)
    assert costs["fleet_cost"] == pytest.approx(fleet["fleet_cost"], rel=1e-6)
    assert costs["overflow_cost"] > 0  # overflow builds priced on demand


def test_sizing_what_if_gives_a_capacity_whose_simulated_p95_meets_the_target(demo):
    db, planted = demo
    fleet = planted["fleet"]
    target = fleet["target_p95_queue_s"]
    sizing = fleet_sizing(db, _window(fleet), target_p95_s=target)
    k = recommended_capacity(sizing)[fleet["name"]]
    assert k is not None
    chosen = sizing.filter(sizing["capacity"] == k).row(0, named=True)
    assert chosen["p95_queue_s"] <= target
    if k > 1:
        assert sizing.filter(sizing["capacity"] == k - 1)["p95_queue_s"][0] > target
    # the planted fleet overflows, so queueing every build on it needs more than its base
    assert k > fleet["base_capacity"]


def test_flaky_build_project_is_found_through_its_retry_chains(demo):
    db, planted = demo
    retry = planted["auto_retry"]
    summary = auto_retry_summary(db)
    top = summary.row(0, named=True)
    assert top["project_name"] == retry["project"]
    assert top["chains"] == retry["chains"]
    assert top["retries"] == retry["retries"]
    assert top["passed_on_retry"] == retry["flaky_chains"]
    assert summary.filter(summary["passed_on_retry"] > 0).height == 1


def test_runner_overhead_per_build_is_close_to_the_planted_one(demo):
    db, planted = demo
    runner = planted["runner"]
    rows = runner_overhead(db)
    assert set(rows["project_name"]) == {runner["project"]}
    assert set(rows["runner_kind"]) == {runner["kind"]}
    assert rows.height == runner["builds"]
    assert rows["overhead_lower_s"].median() == pytest.approx(runner["median_overhead_s"], rel=0.02)
    jobs = runner_job_costs(db)
    assert jobs["runner_job_id"].null_count() == 0
    per_workflow = dict(jobs.group_by("runner_workflow").agg(pl.col("builds").sum()).iter_rows())
    assert per_workflow == runner["builds_per_workflow"]


def test_attribute_based_compute_is_priced_as_its_covering_size(demo):
    db, planted = demo
    abc = planted["attribute_based"]
    costs = build_costs(db, Selection(projects=[abc["project"]]))
    priced = costs.filter(costs["unpriced_reason"].is_null())
    assert priced.height == costs.height > 0
    assert set(priced["price_compute_type"]) == {abc["priced_as"]}
    assert set(priced["compute_type"]) == {"ATTRIBUTE_BASED_COMPUTE"}


def test_cost_report_findings_name_the_fleet_the_flaky_project_and_the_runner(demo):
    from ciwb.report.findings import findings_for

    db, planted = demo
    fleet = planted["fleet"]
    found = findings_for(
        "cost_report", db=db, fleet_rate=FleetRate(fleet["rate_per_instance_minute"])
    )
    by_kind = {}
    for f in found:
        by_kind.setdefault(f.kind, []).append(f)
    (idle,) = by_kind["fleet_idle"]
    assert idle.subject == fleet["name"] and idle.usd_per_month_high > 0
    assert [f.subject for f in by_kind["flaky_build"]] == [planted["auto_retry"]["project"]]
    assert [f.subject for f in by_kind["runner_overhead"]] == [planted["runner"]["project"]]
    assert by_kind["fleet_sizing"][0].action.startswith("set baseCapacity to")
