"""Cost bounds on small real stores, every figure computed by hand in the comments."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ciwb.cli import app
from ciwb.cost import BillingOptions, build_costs, cost_summary, phase_cost_shares
from ciwb.cost.prices import read_price_csv, seed_prices
from ciwb.errors import PricingError
from ciwb.store import Selection
from support.builds import T0, build_record
from support.stores import write_store


def by_project(frame, project):
    rows = frame.filter(frame["project_name"] == project)
    assert rows.height == 1
    return rows.row(0, named=True)


def test_61_seconds_bills_two_minutes_on_ec2_and_61_seconds_on_lambda(db_path):
    write_store(
        db_path,
        [
            build_record("ec2", 1, phases={"PROVISIONING": 11, "BUILD": 50}),
            build_record(
                "lambda",
                1,
                phases={"PROVISIONING": 11, "BUILD": 50},
                environment_type="LINUX_LAMBDA_CONTAINER",
                compute_type="BUILD_LAMBDA_1GB",
            ),
        ],
    )
    costs = build_costs(db_path)
    ec2 = by_project(costs, "ec2")
    # 61 s → ceil(61/60) = 2 minutes × $0.005 = $0.010
    assert ec2["billed_lower_s"] == 120
    assert ec2["cost_lower"] == pytest.approx(0.010)
    assert ec2["cost_upper"] == pytest.approx(0.010)
    lam = by_project(costs, "lambda")
    # 61 s × $0.00002/s = $0.00122
    assert lam["billed_lower_s"] == 61
    assert lam["cost_lower"] == pytest.approx(0.00122)


def test_queue_time_gives_a_lower_and_an_upper_bound(db_path):
    # SUBMITTED 5 + QUEUED 50 before PROVISIONING; 10 + 50 after it.
    write_store(
        db_path,
        [
            build_record(
                "q",
                1,
                phases={"SUBMITTED": 5, "QUEUED": 50, "PROVISIONING": 10, "BUILD": 50},
                compute_type="BUILD_GENERAL1_MEDIUM",
            )
        ],
    )
    row = build_costs(db_path).row(0, named=True)
    assert row["lower_s"] == 60 and row["upper_s"] == 115
    # lower: 60 s → 1 min × $0.01; upper: 115 s → 2 min × $0.01
    assert row["cost_lower"] == pytest.approx(0.01)
    assert row["cost_upper"] == pytest.approx(0.02)


def test_unknown_prices_are_unpriced_and_counted_never_zero(db_path):
    write_store(
        db_path,
        [
            build_record("known", 1, phases={"BUILD": 30, "PROVISIONING": 30}),
            # arm1.xlarge has no source price; eu-west-1 has no seed at all
            build_record(
                "armxl",
                1,
                phases={"BUILD": 60},
                environment_type="ARM_CONTAINER",
                compute_type="BUILD_GENERAL1_XLARGE",
            ),
            build_record("eu", 1, phases={"BUILD": 60}, region="eu-west-1"),
            build_record(
                "fleet",
                1,
                phases={"BUILD": 60},
                fleet_arn="arn:aws:codebuild:us-east-1:123456789012:fleet/f:1",
            ),
        ],
    )
    summary = cost_summary(db_path)
    assert summary.builds == 4
    assert summary.priced_builds == 1
    assert summary.unpriced_builds == 3
    assert summary.unpriced_reasons == {
        "no price for us-east-1 ARM_CONTAINER BUILD_GENERAL1_XLARGE": 1,
        "no price for eu-west-1 LINUX_CONTAINER BUILD_GENERAL1_SMALL": 1,
        "billed by reserved fleet": 1,
    }
    armxl = by_project(summary.table, "armxl")
    assert armxl["cost_lower"] is None and armxl["unpriced_builds"] == 1
    assert summary.cost_upper == pytest.approx(0.005)


def test_free_tier_covers_the_first_100_small_minutes_of_each_month(db_path):
    builds = [
        build_record("p", i, start=T0 + timedelta(minutes=5 * i), phases={"BUILD": 61})
        for i in range(120)
    ]
    # and one medium build, not covered by the small allowance: 61 s → 2 min × $0.01
    builds.append(build_record("m", 1, phases={"BUILD": 61}, compute_type="BUILD_GENERAL1_MEDIUM"))
    write_store(db_path, builds)
    plain = cost_summary(db_path)
    # 120 × 2 min × $0.005 = $1.20, + $0.02
    assert plain.cost_lower == pytest.approx(1.22)
    free = cost_summary(db_path, options=BillingOptions(free_tier=True))
    # (240 − 100) min × $0.005 = $0.70, + $0.02
    assert free.cost_lower == pytest.approx(0.72)
    assert any("free tier applied" in line for line in free.assumptions)


def test_summary_groups_by_month_and_arch_and_counts_in_progress(db_path):
    june = T0.replace(month=6)
    incomplete = build_record("p", 9, phases={"BUILD": 60})
    incomplete.update(buildComplete=False, buildStatus="IN_PROGRESS", endTime=None)
    write_store(
        db_path,
        [
            build_record("p", 1, phases={"BUILD": 60}),
            build_record("p", 2, start=june, phases={"BUILD": 120}),
            build_record(
                "a",
                1,
                start=june,
                phases={"BUILD": 60},
                environment_type="ARM_CONTAINER",
            ),
            incomplete,
        ],
    )
    months = cost_summary(db_path, by="month").table
    assert sorted(months["builds"].to_list()) == [1, 2]
    by_month = {str(r["month"]): r["cost_upper"] for r in months.to_dicts()}
    # March: 1 min × $0.005; June: 2 min × $0.005 + 1 min arm × $0.0034
    assert by_month["2025-03-01"] == pytest.approx(0.005)
    assert by_month["2025-06-01"] == pytest.approx(0.0134)
    arch = {r["arch"]: r["cost_upper"] for r in cost_summary(db_path, by="arch").table.to_dicts()}
    assert arch == {"x86_64": pytest.approx(0.015), "arm64": pytest.approx(0.0034)}
    assert cost_summary(db_path).in_progress_builds == 1
    since = cost_summary(db_path, Selection(since="2025-05-01"))
    assert since.builds == 2


def test_phase_shares_split_each_bound_over_its_billed_phases(db_path):
    write_store(
        db_path,
        [build_record("p", 1, phases={"QUEUED": 60, "PROVISIONING": 30, "BUILD": 90})],
    )
    shares = {r["phase_type"]: r for r in phase_cost_shares(db_path).to_dicts()}
    # lower: 120 s → 2 min = $0.01, split 30:90 over PROVISIONING:BUILD
    assert shares["QUEUED"]["cost_lower"] == 0
    assert shares["BUILD"]["cost_lower"] == pytest.approx(0.0075)
    # upper: 180 s → 3 min = $0.015, split 60:30:90
    assert shares["QUEUED"]["cost_upper"] == pytest.approx(0.005)
    assert sum(r["share_upper"] for r in shares.values()) == pytest.approx(1.0)


def test_cli_summary_json_and_bad_grouping(db_path):
    write_store(db_path, [build_record("p", 1, phases={"BUILD": 61})])
    runner = CliRunner()
    result = runner.invoke(app, ["cost", "summary", "--db", str(db_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["unpriced_builds"] == 0
    assert data["cost_lower"] == pytest.approx(0.01)


def test_bad_grouping_is_one_line_exit_2(db_path):
    import subprocess
    import sys

    write_store(db_path, [build_record("p", 1, phases={"BUILD": 61})])
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "ciwb"),
            "cost",
            "summary",
            "--db",
            str(db_path),
            "--by",
            "x",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "cannot group by 'x'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_seed_is_sourced_and_a_zero_price_is_refused(tmp_path: Path):
    rows = seed_prices()
    assert rows and all(r.price > 0 and r.source and r.as_of for r in rows)
    keys = {(r.region, r.environment_type, r.compute_type) for r in rows}
    # unknown stays out: no source for arm1.xlarge in us-east-1 nor arm1.2xlarge anywhere
    assert ("us-east-1", "ARM_CONTAINER", "BUILD_GENERAL1_XLARGE") not in keys
    assert not any(k[1:] == ("ARM_CONTAINER", "BUILD_GENERAL1_2XLARGE") for k in keys)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "region,environment_type,compute_type,unit,price,currency,source,as_of,confidence\n"
        "us-east-1,ARM_CONTAINER,BUILD_GENERAL1_XLARGE,minute,0,USD,guess,2025-01-01,low\n"
    )
    with pytest.raises(PricingError, match=r"bad.csv:2: price must be positive"):
        read_price_csv(bad)


def test_saved_snapshot_matches_the_python_api(db_path):
    from ciwb.cost import save_build_costs
    from ciwb.store import connect

    write_store(
        db_path,
        [
            build_record("p", 1, phases={"QUEUED": 30, "PROVISIONING": 10, "BUILD": 51}),
            build_record("x", 1, phases={"BUILD": 60}, region="eu-west-1"),
        ],
    )
    assert save_build_costs(db_path) == 2
    assert save_build_costs(db_path) == 2  # a snapshot: replaced, never duplicated
    with connect(db_path, read_only=True) as con:
        saved = dict(con.execute("SELECT project_name, cost_upper FROM build_costs").fetchall())
        reason = con.execute(
            "SELECT unpriced_reason FROM build_costs WHERE project_name = 'x'"
        ).fetchall()[0][0]
    # upper: 91 s → 2 min × $0.005; eu-west-1 has no price
    assert saved == {"p": pytest.approx(0.01), "x": None}
    assert reason.startswith("no price for eu-west-1")


def _costed_on_own_connection(db, selection=None, options=None):
    return build_costs(db, selection, options=options).sort("build_arn")


def test_a_shared_connection_costs_each_selection_once_and_never_serves_a_stale_table(db_path):
    from ciwb.cost.estimate import materialise_costs
    from ciwb.store import fetch_frame
    from ciwb.store.session import shared_reading

    write_store(
        db_path,
        [build_record("api", i, phases={"PROVISIONING": 10, "BUILD": 50 + i}) for i in range(3)]
        + [build_record("web", i, phases={"PROVISIONING": 10, "BUILD": 90}) for i in range(2)],
    )
    api, free = Selection(projects="api"), BillingOptions(free_tier=True)
    with shared_reading(db_path) as con:

        def rows(name):
            return fetch_frame(con, f"SELECT * FROM {name} ORDER BY build_arn")

        def tables():
            return con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_ciwb_costed_%'"
            ).fetchall()[0][0]

        materialise_costs(con)
        materialise_costs(con, name="_ciwb_retry_c")  # same selection and options: a view
        assert tables() == 1
        assert rows("_ciwb_retry_c").equals(rows("_ciwb_c"))
        assert rows("_ciwb_c").equals(_costed_on_own_connection(db_path))
        materialise_costs(con, api, name="_ciwb_retry_c")  # another selection: its own rows
        assert set(rows("_ciwb_retry_c")["project_name"]) == {"api"}
        assert rows("_ciwb_c").height == 5  # the other name still shows its own selection
        materialise_costs(con, options=free, name="_ciwb_retry_c")  # other billing options
        assert rows("_ciwb_retry_c")["cost_lower"].sum() < rows("_ciwb_c")["cost_lower"].sum()
        assert tables() == 3
        materialise_costs(con, api)  # back to a selection made before: no new table
        assert tables() == 3 and rows("_ciwb_c").height == 3
    # Each what-if and summary gives what it gives on a connection of its own.
    with shared_reading(db_path):
        shared = [cost_summary(db_path, api), cost_summary(db_path, options=free)]
    assert shared[0].table.equals(cost_summary(db_path, api).table)
    assert shared[1].table.equals(cost_summary(db_path, options=free).table)
