"""Reconciliations computed by hand on small real stores and bills."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ciwb.bill import import_bill, reconcile
from ciwb.cost import BillingOptions, cost_summary
from support.builds import T0, build_record
from support.stores import write_store
from tests.bill.billfiles import item, write_cur2

SMALL = "USE1-Build-Min:Linux:g1.small"


def three_61s_builds(db):
    # T0 = 2025-03-03 09:00 UTC; three builds of 61 s each (11 s provisioning + 50 s build)
    write_store(
        db,
        [
            build_record(
                "web", n, start=T0 + timedelta(hours=n), phases={"PROVISIONING": 11, "BUILD": 50}
            )
            for n in range(3)
        ],
    )


def only(frame, **match):
    for key, value in match.items():
        frame = frame.filter(frame[key] == value)
    assert frame.height == 1, frame
    return frame.row(0, named=True)


def test_three_61_second_builds_are_six_billed_minutes(tmp_path, db_path):
    three_61s_builds(db_path)
    # each 61 s → ceil(61/60) = 2 minutes; 3 × 2 = 6 minutes × $0.005 = $0.03
    import_bill(write_cur2(tmp_path / "bill", [item(SMALL, 6, 0.03)]), db_path)
    rec = reconcile(db_path, by="day")
    cell = only(rec.cells, cell=date(2025, 3, 3))
    assert cell["builds"] == 3
    assert cell["implied_units"] == 6
    assert cell["billed_units"] == 6
    assert cell["category"] == "matched"
    assert cell["bill_cost"] == pytest.approx(0.03)
    assert cell["estimate"] == pytest.approx(0.03)
    assert cell["unexplained"] == pytest.approx(0)
    assert rec.coverage == pytest.approx(1.0)


def test_a_discount_shows_as_a_lower_effective_rate(tmp_path, db_path):
    three_61s_builds(db_path)
    # 6 minutes at list $0.005 = $0.03, then a 20 % private-rate discount of −$0.006
    import_bill(
        write_cur2(
            tmp_path / "bill",
            [item(SMALL, 6, 0.03), item(SMALL, 0, -0.006, line_item_type="PrivateRateDiscount")],
        ),
        db_path,
    )
    rec = reconcile(db_path, by="month")
    rate = only(rec.rates, compute_type="BUILD_GENERAL1_SMALL")
    assert rate["effective_rate"] == pytest.approx(0.004)  # $0.024 / 6 min
    assert rate["list_rate"] == pytest.approx(0.005)
    assert rate["vs_list"] == pytest.approx(-0.2)
    month = rec.periods.row(0, named=True)
    assert month["bill_cost"] == pytest.approx(0.024)
    assert month["discounts"] == pytest.approx(-0.006)
    assert month["unexplained"] == pytest.approx(0)
    # the cost model now prices these builds at the bill's rate, or at list on request
    billed = cost_summary(db_path)
    listed = cost_summary(db_path, options=BillingOptions(prices="list"))
    assert billed.cost_upper == pytest.approx(0.024)
    assert listed.cost_upper == pytest.approx(0.03)


def test_an_unknown_usage_type_is_reported_not_dropped(tmp_path, db_path):
    three_61s_builds(db_path)
    import_bill(
        write_cur2(
            tmp_path / "bill", [item(SMALL, 6, 0.03), item("USE1-Build-Min:Linux:g9.huge", 5, 1.0)]
        ),
        db_path,
    )
    rec = reconcile(db_path, by="month")
    assert rec.unknown_usage_types == {"USE1-Build-Min:Linux:g9.huge": pytest.approx(1.0)}
    month = rec.periods.row(0, named=True)
    assert month["bill_cost"] == pytest.approx(1.03)
    assert month["unknown_usage_type"] == pytest.approx(1.0)
    assert month["coverage"] == pytest.approx(0.03 / 1.03)


def test_free_tier_region_not_in_store_credit_and_fleet(tmp_path, db_path):
    three_61s_builds(db_path)
    import_bill(
        write_cur2(
            tmp_path / "bill",
            [
                # 4 of the 6 minutes free (free tier, billed at $0), 2 charged at $0.005
                item(SMALL, 4, 0.0, description="first 100 build-minutes free"),
                item(SMALL, 2, 0.01),
                # 10 ARM minutes in us-west-2, where the store has no builds
                item("USW2-Build-Min:ARM:g1.large", 10, 0.15, region="us-west-2"),
                # a reserved fleet's standing charge
                item(
                    "USE1-Build-Min:Linux:Reserved:t4g.medium",
                    600,
                    0.6,
                    resource_id="arn:aws:codebuild:us-east-1:123456789012:fleet/f1",
                ),
                # a one-off credit, no usage type
                {
                    **item("USE1-Build-Min:Linux:g1.small", 0, -0.05, line_item_type="Credit"),
                    "line_item_usage_type": None,
                },
            ],
        ),
        db_path,
    )
    rec = reconcile(db_path, by="month")
    month = rec.periods.row(0, named=True)
    # bill: 0.01 + 0.15 + 0.6 − 0.05 = 0.71; estimate 6 min × $0.005 = 0.03
    assert month["bill_cost"] == pytest.approx(0.71)
    assert month["estimate"] == pytest.approx(0.03)
    assert month["free_tier"] == pytest.approx(-0.02)  # 4 free minutes × $0.005
    assert month["not_in_store"] == pytest.approx(0.15)
    assert month["fleet_standing"] == pytest.approx(0.6)
    assert month["credits"] == pytest.approx(-0.05)
    assert month["unexplained"] == pytest.approx(0)
    nis = only(rec.not_in_store, region="us-west-2")
    assert nis["reason"] == "region not in store"


def test_unpriced_builds_get_the_bill_rate(tmp_path, db_path):
    # arm1.2xlarge has no list price in the seed: the builds are unpriced until a bill arrives
    write_store(
        db_path,
        [
            build_record(
                "big-arm",
                n,
                start=T0 + timedelta(hours=n),
                phases={"BUILD": 120},
                environment_type="ARM_CONTAINER",
                compute_type="BUILD_GENERAL1_2XLARGE",
            )
            for n in range(2)
        ],
    )
    before = cost_summary(db_path)
    assert before.unpriced_builds == 2
    import_bill(
        write_cur2(tmp_path / "bill", [item("USE1-Build-Min:ARM:g1.2xlarge", 4, 0.064)]),
        db_path,
    )
    after = cost_summary(db_path)
    assert after.unpriced_builds == 0
    assert after.cost_upper == pytest.approx(0.064)  # 2 builds × 2 min × $0.016
    assert any("effective rates from the imported bill" in a for a in after.assumptions)
    rec = reconcile(db_path, by="day")
    assert rec.coverage == pytest.approx(1.0)


def test_resource_ids_take_the_reconciliation_down_to_the_project(tmp_path, db_path):
    three_61s_builds(db_path)  # project "web": 6 billed minutes
    arn = "arn:aws:codebuild:us-east-1:123456789012:project/"
    import_bill(
        write_cur2(
            tmp_path / "bill",
            [
                item(SMALL, 6, 0.03, resource_id=arn + "web"),
                item(SMALL, 4, 0.02, resource_id=arn + "nightly"),  # nobody collected it
            ],
        ),
        db_path,
    )
    rec = reconcile(db_path, by="month")
    web = only(rec.projects, project_name="web")
    assert (web["builds"], web["billed_units"], web["implied_units"]) == (3, 6, 6)
    assert web["estimate"] == pytest.approx(0.03)
    nightly = only(rec.projects, project_name="nightly")
    assert (nightly["builds"], nightly["billed_units"]) == (0, 4)
    assert nightly["gross_cost"] == pytest.approx(0.02)


def test_a_fleet_is_idle_for_what_its_builds_did_not_use(tmp_path, db_path):
    fleet = "arn:aws:codebuild:us-east-1:123456789012:fleet/f1:abc"
    # two builds of 10 minutes each on the fleet: 20 instance-minutes used
    write_store(
        db_path,
        [
            build_record(
                "f", n, start=T0 + timedelta(hours=n), phases={"BUILD": 600}, fleet_arn=fleet
            )
            for n in range(2)
        ],
    )
    # the fleet billed 600 instance-minutes at $0.001 = $0.60
    import_bill(
        write_cur2(
            tmp_path / "bill",
            [item("USE1-Build-Min:Linux:Reserved:g1.medium", 600, 0.6, resource_id=fleet)],
        ),
        db_path,
    )
    rec = reconcile(db_path, by="day")
    cell = only(rec.cells, category="fleet")
    assert (cell["fleet_builds"], cell["fleet_used_units"]) == (2, 20)
    assert cell["explained_cost"] == pytest.approx(0.02)
    assert cell["fleet_standing"] == pytest.approx(0.58)  # 580 idle instance-minutes
    assert cell["unexplained"] == pytest.approx(0)
    assert rec.coverage == pytest.approx(0.02 / 0.6)
