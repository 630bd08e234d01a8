"""On a seeded demo history the reports' findings name what the generator planted, with the
money it is worth, and every report has findings of the one stable shape."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from ciwb.demo import PlantedFacts, load_demo
from ciwb.report.findings import Finding, findings_for, registered_reports
from ciwb.store import Selection

REPORTS = ["bottleneck_report", "cache_tuning", "cost_report", "explore", "graviton_vs_x86"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, PlantedFacts]:
    db = tmp_path_factory.mktemp("findings-demo") / "demo.duckdb"
    summary = load_demo(db, builds=10_000, seed=11)
    return db, PlantedFacts.read(summary.planted_path)


def _money(f: Finding) -> bool:
    return (f.usd_per_month_low or 0) > 0 and (f.usd_per_month_high or 0) >= f.usd_per_month_low


def test_every_report_has_ranked_findings(demo):
    db, _ = demo
    assert set(REPORTS) <= set(registered_reports())
    for report in REPORTS:
        found = findings_for(report, db=db)
        assert found, report
        assert all(f.report == report and f.title and f.action for f in found)
        worth = [f.worth for f in found]
        assert worth == sorted(worth, reverse=True)  # money first
        assert all(f.as_dict()["figures"] is not None for f in found)


def test_cost_findings_name_the_planted_over_provisioned_projects_with_money(demo):
    db, planted = demo
    found = findings_for("cost_report", db=db)
    rightsize = {f.subject: f for f in found if f.kind == "rightsize"}
    for project in planted.over_provisioned:
        assert project in rightsize, project
        assert _money(rightsize[project]), rightsize[project]
        assert project in rightsize[project].title


def test_cost_findings_name_the_planted_arm64_switch_with_its_factor(demo):
    db, planted = demo
    found = {f.subject: f for f in findings_for("cost_report", db=db) if f.kind == "arm64"}
    faster = [s for s in planted.switches if s.arm_speed_factor < 1]
    assert faster
    for switch in faster:
        f = found[switch.project]
        figures = f.figures
        assert figures["factor_low"] <= switch.arm_speed_factor <= figures["factor_high"]
        assert f"{figures['speed_factor']:.2f} ×" in f.title
        assert _money(f)


def test_cost_findings_name_the_planted_cache_idle_expiry_with_money(demo):
    db, planted = demo
    found = {f.subject: f for f in findings_for("cost_report", db=db) if f.kind == "cache_expiry"}
    for cache in planted.caches:
        f = found[cache.project]
        assert abs(f.figures["expiry_min"] - cache.idle_threshold_min) <= 3
        assert f"{f.figures['expiry_min']:.0f} min idle" in f.title
        assert _money(f)


def test_bottleneck_findings_name_the_planted_regression_with_its_date(demo):
    db, planted = demo
    found = [
        f
        for f in findings_for("bottleneck_report", db=db)
        if f.kind == "regression" and f.subject == planted.regression.project
    ]
    assert len(found) == 1
    when = date.fromisoformat(found[0].figures["change_date"])
    assert abs(when - date.fromisoformat(planted.regression.date)) <= timedelta(days=1)
    assert str(when) in found[0].title


def test_graviton_gives_a_verdict_per_project_and_the_experiment_for_unknowns(demo):
    db, planted = demo
    found = findings_for("graviton_vs_x86", db=db)
    verdicts = {f.subject: f.kind for f in found}
    for switch in planted.switches:
        if switch.arm_speed_factor < 1:
            assert verdicts[switch.project] == "verdict_switch"
    unknown = [f for f in found if f.kind == "verdict_unknown"]
    assert unknown and all("ciwb replay experiment" in (f.command or "") for f in unknown)


def test_cost_and_graviton_reports_give_each_project_the_same_arm64_verdict(demo):
    db, _ = demo
    cost = {f.subject: f for f in findings_for("cost_report", db=db) if f.kind == "arm64"}
    graviton = {
        f.subject: f.kind.removeprefix("verdict_")
        for f in findings_for("graviton_vs_x86", db=db)
        if f.kind.startswith("verdict_")
    }
    assert cost
    for project, f in cost.items():
        assert f.figures["verdict"] == graviton[project], project
        if graviton[project] == "switch":
            assert f.action.startswith(f"Run {project} on arm64") and _money(f)
        else:  # no saving is claimed for a project that should not (or may not) switch
            assert f.usd_per_month_high is None and "on arm64 (" not in f.action


@pytest.mark.parametrize(
    ("low", "high", "even", "verdict"),
    [
        (0.70, 0.80, 1.25, "switch"),  # even the slow end beats the price difference
        (1.30, 1.40, 1.25, "keep"),  # even the fast end loses
        (1.10, 1.40, 1.25, "unknown"),  # straddles: more evidence decides, not "keep"
        (0.70, 0.80, None, "unknown"),  # no arm price to compare with
        (None, None, 1.25, "unknown"),  # no factor measured
    ],
)
def test_arm64_verdict_calls_a_straddling_interval_unknown(low, high, even, verdict):
    from ciwb.cost import arm64_verdict

    assert arm64_verdict(low, high, even) == verdict


def test_an_empty_selection_says_there_is_nothing_to_do(demo):
    db, _ = demo
    empty = Selection(since="2099-01-01")
    for report in ("cost_report", "explore", "graviton_vs_x86"):
        found = findings_for(report, db=db, selection=empty)
        assert found and all(f.worth == 0 for f in found), report


def test_the_demo_is_priced(demo):
    from ciwb.cost import cost_summary

    db, _ = demo
    summary = cost_summary(db)
    assert summary.unpriced_builds <= 0.05 * summary.builds
