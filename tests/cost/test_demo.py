"""The cost model on the demo history: the what-ifs recover what the generator planted.

One 10,000-build demo (ciwb.demo, through the real normalisation path) per module.
"""

from __future__ import annotations

import pytest

from ciwb.cost import build_costs, cost_summary
from ciwb.cost.whatif import run_whatif
from ciwb.demo import PlantedFacts, load_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    db = tmp_path_factory.mktemp("cost-demo") / "demo.duckdb"
    summary = load_demo(db, builds=10_000, seed=11)
    return db, PlantedFacts.read(summary.planted_path)


def by_project(table):
    return {r["project_name"]: r for r in table.to_dicts()}


def test_summary_costs_every_completed_build_or_says_why_not(demo):
    db, planted = demo
    summary = cost_summary(db)
    assert summary.builds + summary.in_progress_builds == planted.builds
    assert summary.in_progress_builds == planted.in_progress_builds
    assert summary.priced_builds + summary.unpriced_builds == summary.builds
    # arm1.2xlarge has no price: unpriced, counted, not zero; the rest of the demo is priced
    assert summary.unpriced_builds > 0
    assert summary.unpriced_builds <= 0.05 * summary.builds
    assert sum(summary.unpriced_reasons.values()) == summary.unpriced_builds
    assert any("ARM_CONTAINER BUILD_GENERAL1_2XLARGE" in r for r in summary.unpriced_reasons)
    for row in summary.table.to_dicts():
        if row["priced_builds"]:
            assert 0 < row["cost_lower"] <= row["cost_upper"]
        else:
            assert row["cost_lower"] is None
    costs = build_costs(db)
    assert costs["cost_upper"].sum() == pytest.approx(summary.cost_upper)


def test_lambda_projects_bill_per_second(demo):
    db, planted = demo
    costs = build_costs(db)
    for project in planted.lambda_projects:
        mine = costs.filter(costs["project_name"] == project)
        assert mine.height > 0
        priced = mine.filter(mine["unpriced_reason"].is_null())
        if priced.height:
            # per-second: billed seconds are whole seconds, mostly not whole minutes
            assert (priced["billed_lower_s"] % 60 != 0).mean() > 0.5
        else:
            assert mine["unpriced_reason"][0].startswith("no price for")


def test_arm64_switch_factor_is_inside_its_interval(demo):
    db, planted = demo
    table = by_project(run_whatif("arm64", db).table)
    assert len(planted.switches) == 2
    for switch in planted.switches:
        row = table[switch.project]
        assert row["evidence"].startswith("history")
        assert f"switch on {switch.date}" in row["evidence"]
        assert row["factor_low"] <= switch.arm_speed_factor <= row["factor_high"]
    # projects never run on arm have no factor, only the price break-even
    never = [p for p, arch in planted.project_arch.items() if arch == "x86_64" and p in table]
    assert never and all(table[p]["speed_factor"] is None for p in never)


def test_rightsize_flags_the_planted_over_and_under_provisioned(demo):
    db, planted = demo
    table = run_whatif("rightsize", db).table
    findings = {r["project_name"]: r["finding"] for r in table.to_dicts()}
    over = {p for p, f in findings.items() if f == "OVER_PROVISIONED"}
    under = {p for p, f in findings.items() if f == "UNDER_PROVISIONED"}
    assert over == set(planted.over_provisioned)
    assert under == set(planted.under_provisioned)
    rows = by_project(table)
    for project in planted.over_provisioned:
        saving = rows[project].get("saving_month_lower")
        assert saving is None or saving > 0  # None only where the region is unpriced


def test_cache_projects_show_their_planted_delta_and_a_positive_saving(demo):
    db, planted = demo
    result = run_whatif("cache", db)
    table = by_project(result.table)
    for cache in planted.caches:
        row = table[cache.project]
        assert row["evidence"].startswith("history: INSTALL bimodal")
        true_delta = cache.install_miss_median_s - cache.install_hit_median_s
        assert row["delta_low_s"] <= true_delta <= row["delta_high_s"]
        if row.get("saving_month") is None:
            assert result.unpriced_builds > 0  # its region/shape has no price
        else:
            assert row["saving_month_low"] > 0
    assert any(table[c.project].get("saving_month") for c in planted.caches)
    uncached = [p for p in table if p not in {c.project for c in planted.caches}]
    assert all(table[p]["evidence"].startswith("unknown") for p in uncached)


def test_reserved_fleet_sizes_are_consistent(demo):
    db, _ = demo
    table = run_whatif("reserved", db, fleet_rate=0.001).table
    for _, pool in table.group_by("region", "environment_type", "compute_type"):
        pool = pool.sort("fleet_size")
        carried = pool["carried_minutes"].to_list()
        assert carried == sorted(carried)  # more instances carry more
        even = pool["break_even_rate"].to_list()
        assert even == sorted(even, reverse=True)  # but each idles more
        last = pool.row(-1, named=True)
        assert last["overflow_minutes"] == pytest.approx(0, abs=1e-6)
        assert pool["recommended"].sum() <= 1


def test_lambda_whatif_excludes_privileged_projects(demo):
    db, _ = demo
    table = by_project(run_whatif("lambda", db).table)
    for project in ("api-service", "legacy-monolith"):  # privileged in the demo catalogue
        assert table[project]["eligible_builds"] == 0
        assert table[project]["privileged"] == table[project]["builds"]
