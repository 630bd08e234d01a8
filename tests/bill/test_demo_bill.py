"""The demo's bill: every planted difference is found and named; the bill prices the unpriced."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ciwb.bill import reconcile
from ciwb.cost import BillingOptions, cost_summary
from ciwb.demo import PlantedFacts, load_demo
from ciwb.store import connect


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, PlantedFacts]:
    db = tmp_path_factory.mktemp("demo-bill") / "demo.duckdb"
    summary = load_demo(db, builds=3000, seed=5, bill=True)
    planted = PlantedFacts.read(summary.planted_path)
    assert planted.bill is not None
    return db, planted


def _period(rec, iso: str) -> dict:
    rows = rec.periods.filter(rec.periods["billing_period"] == date.fromisoformat(iso))
    assert rows.height == 1
    return rows.row(0, named=True)


def test_every_planted_difference_is_found(demo):
    db, planted = demo
    bill = planted.bill
    rec = reconcile(db, by="month")
    assert [p.isoformat() for p in rec.periods["billing_period"]] == bill.periods
    assert rec.open_periods == [date.fromisoformat(bill.open_period)]
    assert float(rec.periods["bill_cost"].sum()) == pytest.approx(bill.codebuild_usd)
    # the free tier: 100 minutes of Linux g1.small at $0.005, in one month only
    assert _period(rec, bill.free_tier_month)["free_tier"] == pytest.approx(-bill.free_tier_usd)
    assert float(rec.periods["free_tier"].sum()) == pytest.approx(-bill.free_tier_usd)
    assert bill.free_tier_usd == pytest.approx(100 * 0.005)
    # private pricing: the discount rows, and an effective rate 8 % under list
    assert float(rec.periods["discounts"].sum()) == pytest.approx(bill.discount_usd)
    discounted = rec.rates.filter(rec.rates["vs_list"] < -0.01)
    assert discounted.height > 0
    assert discounted["vs_list"].to_list() == pytest.approx(
        [-bill.discount_rate] * discounted.height
    )
    # the region nobody collected
    nis = rec.not_in_store
    assert set(nis["region"]) == {bill.uncovered_region}
    assert set(nis["reason"]) == {"region not in store"}
    assert float(nis["gross_cost"].sum()) == pytest.approx(bill.uncovered_usd)
    # the fleet's idle hours, and the credit
    assert _period(rec, bill.fleet_month)["fleet_standing"] == pytest.approx(bill.fleet_usd)
    assert _period(rec, bill.credit_month)["credits"] == pytest.approx(bill.credit_usd)
    # and nothing left unexplained
    for value in rec.periods["unexplained"]:
        assert value == pytest.approx(0, abs=1e-6)
    # coverage: what the builds do not explain is exactly the fleet and the uncovered region
    for row in rec.periods.iter_rows(named=True):
        expected = 1 - (row["fleet_standing"] + row["not_in_store"]) / row["gross_cost"]
        assert row["coverage"] == pytest.approx(expected)
        assert row["coverage"] < 1


def test_the_import_kept_only_codebuild(demo):
    db, planted = demo
    with connect(db, read_only=True) as con:
        products = con.execute("SELECT DISTINCT product_code FROM bill_line_items").fetchall()
    assert products == [("CodeBuild",)]
    assert planted.bill.other_service_line_items > 0


def test_the_bill_prices_the_unpriced_demo_builds(demo):
    db, planted = demo
    listed = cost_summary(db, options=BillingOptions(prices="list"))
    billed = cost_summary(db)
    assert listed.unpriced_builds > 0
    # what the seed leaves unpriced (arm1.2xlarge has no list price) the bill prices
    assert any("BUILD_GENERAL1_2XLARGE" in reason for reason in listed.unpriced_reasons)
    assert billed.unpriced_builds == 0
    assert billed.priced_builds == billed.builds
    assert any("bill" in line for line in billed.assumptions)


def test_the_findings_name_every_planted_difference(demo):
    from ciwb.report.findings import findings_for

    db, planted = demo
    found = findings_for("reconciliation", db=db)
    kinds = [f.kind for f in found]
    for kind in (
        "coverage",
        "not-in-store",
        "fleet-standing",
        "effective-rate",
        "free-tier",
        "credits",
        "priced-from-bill",
    ):
        assert kind in kinds, kinds
    assert "unexplained" not in kinds
    # ranked by money: the uncovered region and the idle fleet lead
    assert kinds[:2] == ["not-in-store", "fleet-standing"]
    months = len(planted.bill.periods)
    assert found[0].usd_per_month_high == pytest.approx(planted.bill.uncovered_usd / months)
    assert planted.bill.uncovered_region in found[0].title


def test_the_reconciliation_notebook_runs_findings_first(demo, tmp_path):
    import nbformat

    from ciwb.report import run_reports

    db, _ = demo
    run = run_reports(["reconciliation"], db=db, out=str(tmp_path))
    assert run.failed == []
    (executed,) = tmp_path.glob("reconciliation-*.ipynb")
    nb = nbformat.read(executed, as_version=4)
    headings = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown"]
    assert headings[1] == "## Findings"
    shown = "".join(
        str(o.get("data", {}).get(kind, ""))
        for c in nb.cells
        for o in c.get("outputs", [])
        for kind in ("text/markdown", "text/html")  # findings render as HTML cards
    )
    assert "has no builds in the store (region not in store)" in shown


def test_the_demo_bill_goes_down_to_the_project(demo):
    db, _ = demo
    rec = reconcile(db, by="month")
    projects = rec.projects
    assert projects.height > 0
    with connect(db, read_only=True) as con:
        names = {r[0] for r in con.execute("SELECT DISTINCT project_name FROM builds").fetchall()}
    assert set(projects["project_name"]) <= names
    matched = projects.filter(projects["builds"] > 0)
    assert (matched["billed_units"] == matched["implied_units"]).all()
