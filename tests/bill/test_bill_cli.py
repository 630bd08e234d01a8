"""`ciwb bill …` as a user runs it: a real subprocess, real files, one line on bad input."""

from __future__ import annotations

import json
from datetime import timedelta

from support.builds import T0, build_record
from support.stores import write_store
from tests.bill.billfiles import item, write_cur2
from tests.test_cli import assert_one_line_error, ciwb


def test_import_then_reconcile_then_cost_with_bill_prices(tmp_path, db_path):
    write_store(
        db_path,
        [
            build_record("web", n, start=T0 + timedelta(hours=n), phases={"BUILD": 61})
            for n in range(3)
        ],
    )
    export = write_cur2(
        tmp_path / "bill",
        [
            item("USE1-Build-Min:Linux:g1.small", 6, 0.03),
            item("USE1-Build-Min:Linux:g1.small", 0, -0.006, line_item_type="PrivateRateDiscount"),
        ],
    )
    imported = ciwb("bill", "import", str(export), "--db", str(db_path), "--quiet")
    assert imported.returncode == 0, imported.stderr
    assert "2 CodeBuild line items from 1 file(s) (cur2) for 2025-03" in imported.stdout
    rec = ciwb("bill", "reconcile", "--by", "month", "--db", str(db_path), "--json")
    assert rec.returncode == 0, rec.stderr
    data = json.loads(rec.stdout)
    assert data["coverage"] == 1.0
    assert data["periods"][0]["discounts"] == -0.006
    text = ciwb("bill", "reconcile", "--db", str(db_path))
    assert "coverage: 100.0%" in text.stdout
    billed = json.loads(ciwb("cost", "summary", "--db", str(db_path), "--json").stdout)
    listed = json.loads(
        ciwb("cost", "summary", "--db", str(db_path), "--json", "--prices", "list").stdout
    )
    assert round(billed["cost_upper"], 6) == 0.024
    assert round(listed["cost_upper"], 6) == 0.03
    assert "prices: list prices only" in listed["assumptions"]
    shown = json.loads(ciwb("pricing", "show", "--db", str(db_path), "--json").stdout)
    small = [
        r
        for r in shown
        if r["compute_type"] == "BUILD_GENERAL1_SMALL"
        and r["environment_type"] == "LINUX_CONTAINER"
        and r["region"] == "us-east-1"
    ]
    assert [(r["price"], r["source"][:12], r["as_of"]) for r in small] == [
        (0.004, "bill 2025-03", "2025-03-01")
    ]


def test_bill_errors_are_one_line(tmp_path, db_path):
    assert_one_line_error(
        ciwb("bill", "import", str(tmp_path / "nothing"), "--db", str(db_path)), "no such file"
    )
    not_cur = tmp_path / "sales.csv"
    not_cur.write_text("month,total\n2025-03,12\n")
    assert_one_line_error(ciwb("bill", "import", str(not_cur), "--db", str(db_path)), "not a CUR")
    ec2 = write_cur2(
        tmp_path / "ec2", [item("USE1-BoxUsage:t3.micro", 24, 0.25, product_code="AmazonEC2")]
    )
    assert_one_line_error(
        ciwb("bill", "import", str(ec2), "--db", str(db_path)), "no line item for CodeBuild"
    )
    write_store(db_path, [build_record("web", 1)])
    assert_one_line_error(
        ciwb("bill", "reconcile", "--db", str(db_path)), "no billing data in the store"
    )
    assert_one_line_error(
        ciwb("cost", "summary", "--db", str(db_path), "--prices", "cheap"), "unknown price source"
    )


def test_fetch_with_a_bad_date_is_one_line(db_path):
    assert_one_line_error(
        ciwb("bill", "fetch", "--since", "last tuesday", "--db", str(db_path)), "is not a date"
    )
