"""On a seeded demo history (~10,000 builds) the analytics find what the generator planted."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from ciwb import analytics
from ciwb.demo import PlantedFacts, load_demo
from ciwb.store import Selection


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, PlantedFacts]:
    db = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    summary = load_demo(db, builds=10_000, seed=7)
    return db, PlantedFacts.read(summary.planted_path)


def test_regression_found_within_a_day(demo):
    db, planted = demo
    found = analytics.duration_regressions(db, Selection(projects=[planted.regression.project]))
    slower = found.filter(pl.col("direction") == "slower")
    assert slower.height == 1
    row = slower.row(0, named=True)
    assert abs(row["change_date"] - date.fromisoformat(planted.regression.date)) <= timedelta(1)
    assert row["confidence"] >= 0.99


def test_no_regression_alert_on_projects_without_a_planted_change(demo):
    db, planted = demo
    changed = {planted.regression.project} | {s.project for s in planted.switches}
    quiet = [p for p in planted.projects if p not in changed]
    assert analytics.duration_regressions(db, Selection(projects=quiet)).is_empty()


def test_flaky_tests_are_exactly_the_planted_ones(demo):
    db, planted = demo
    found = analytics.flaky_tests(db)
    assert {
        (r["project_name"], r["suite"], r["test_name"]) for r in found.iter_rows(named=True)
    } == {(t.project, t.suite, t.name) for t in planted.flaky_tests}
    assert found["builds_failed"].is_sorted(descending=True)


def test_local_cache_idle_expiry_cliff(demo):
    db, planted = demo
    expiry = {r["project_name"]: r for r in analytics.cache_idle_expiry(db).iter_rows(named=True)}
    for cache in planted.caches:
        found = expiry[cache.project]
        assert abs(found["expiry_min"] - cache.idle_threshold_min) <= 2
        assert found["hit_rate_before"] > 0.8 and found["hit_rate_after"] < 0.3
    by_gap = analytics.cache_hit_rate_by_gap(db, edges_min=[0, 15, 60])
    for cache in planted.caches:
        rates = by_gap.filter(pl.col("project_name") == cache.project)["hit_rate"].to_list()
        assert rates[0] > 0.8 > 0.3 > max(rates[1:])


def test_batch_critical_path_matches_the_planted_graph(demo):
    db, planted = demo
    graph = planted.batch_graph
    summary = analytics.critical_path_summary(db, Selection(projects=[graph.project]))
    assert summary["batches"][0] == graph.batches
    usual = summary.filter(pl.col("critical_share") > 0.5).sort("median_position")
    assert usual["identifier"].to_list() == graph.critical_path


def test_phase_breakdown_and_failures_cover_every_project(demo):
    db, planted = demo
    breakdown = analytics.phase_breakdown(db)
    assert set(breakdown["project_name"]) == set(planted.projects)
    assert (breakdown["p50_s"] <= breakdown["p95_s"]).all()
    assert (breakdown["p95_s"] <= breakdown["p99_s"]).all()
    rates = analytics.failure_rates(db)
    per_phase = rates.group_by("project_name", "failed_phase").agg(pl.col("failures").sum())
    top_phase = per_phase.sort("failures", descending=True).group_by("project_name").first()
    assert dict(top_phase.select("project_name", "failed_phase").iter_rows()) == (
        planted.failure_hotspots
    )
    overall = rates.group_by("project_name").agg(pl.col("failure_rate").sum())
    spec = planted.extra["spec_failure_rates"]
    assert overall.sort("failure_rate")["project_name"][-1] == max(spec, key=spec.get)
