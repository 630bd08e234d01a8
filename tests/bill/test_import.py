"""Import of CUR 2.0 Parquet and legacy CUR CSV files written in AWS's own column layouts."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from ciwb.bill import import_bill
from ciwb.bill.cur2_writer import CUR2_SCHEMA
from ciwb.errors import BillSourceNotFoundError, NoCodeBuildRowsError, NotABillError
from ciwb.store import connect
from tests.bill.billfiles import cur2_columns, item, legacy_columns, write_cur2, write_legacy_csv


def _rows(db: Path, sql: str) -> list[tuple]:
    with connect(db, read_only=True) as con:
        return con.execute(sql).fetchall()


def sample_items() -> list[dict]:
    return [
        item("USE1-Build-Min:Linux:g1.small", 6, 0.03),
        item("USW2-Build-Min:ARM:g1.large", 10, 0.15, region="us-west-2"),
        item("USE1-BoxUsage:t3.micro", 24, 0.25, product_code="AmazonEC2", unit="Hrs"),
        item("USE1-TimedStorage-ByteHrs", 5, 0.12, product_code="AmazonS3", unit="GB-Mo"),
    ]


def test_the_writer_uses_the_data_dictionary_columns():
    assert CUR2_SCHEMA.names == cur2_columns()


def test_cur2_parquet_keeps_codebuild_rows_and_every_source_column(tmp_path, db_path):
    export = write_cur2(tmp_path / "exports", sample_items())
    summary = import_bill(export, db_path)
    assert summary.format == "cur2"
    assert summary.line_items == 2  # the EC2 and S3 rows are filtered out
    assert summary.periods == [date(2025, 3, 1)]
    rows = _rows(
        db_path,
        "SELECT usage_type, region, usage_amount, unblended_cost, environment_type, "
        "compute_type, unit, usage_kind, raw FROM bill_line_items ORDER BY usage_type",
    )
    assert [r[:8] for r in rows] == [
        (
            "USE1-Build-Min:Linux:g1.small",
            "us-east-1",
            6.0,
            0.03,
            "LINUX_CONTAINER",
            "BUILD_GENERAL1_SMALL",
            "minute",
            "on_demand",
        ),
        (
            "USW2-Build-Min:ARM:g1.large",
            "us-west-2",
            10.0,
            0.15,
            "ARM_CONTAINER",
            "BUILD_GENERAL1_LARGE",
            "minute",
            "on_demand",
        ),
    ]
    raw = json.loads(rows[0][8])
    assert set(raw) == set(cur2_columns())
    assert raw["product"]["product_name"] == "AWS CodeBuild"


def test_legacy_cur_csv_gz_reads_the_same(tmp_path, db_path):
    path = write_legacy_csv(
        tmp_path / "cur" / "20250301-20250401" / "cur-00001.csv.gz",
        [
            item("USE1-Build-Min:Linux:g1.small", 6, 0.03, tags={"user:Project": "web"}),
            item("USE1-BoxUsage:t3.micro", 24, 0.25, product_code="AmazonEC2"),
        ],
    )
    summary = import_bill(path.parent.parent, db_path, fmt="cur")
    assert summary.format == "cur"
    rows = _rows(
        db_path,
        "SELECT usage_type, region, usage_amount, unblended_cost, usage_start, "
        "billing_period, resource_tags, raw FROM bill_line_items",
    )
    assert len(rows) == 1
    usage_type, region, amount, cost, start, period, tags, raw = rows[0]
    assert (usage_type, region, amount, cost) == (
        "USE1-Build-Min:Linux:g1.small",
        "us-east-1",
        6,
        0.03,
    )
    assert start.isoformat() == "2025-03-03T00:00:00"
    assert period == date(2025, 3, 1)
    assert json.loads(tags) == {"user:Project": "web"}
    assert set(json.loads(raw)) == set(legacy_columns())


def test_reimport_replaces_the_period(tmp_path, db_path):
    first = write_cur2(tmp_path / "a", sample_items())
    import_bill(first, db_path)
    import_bill(first, db_path)
    assert _rows(db_path, "SELECT count(*) FROM bill_line_items") == [(2,)]
    changed = write_cur2(tmp_path / "b", [item("USE1-Build-Min:Linux:g1.small", 8, 0.04)])
    summary = import_bill(changed, db_path)
    assert summary.replaced_line_items == 2
    assert _rows(db_path, "SELECT usage_amount FROM bill_line_items") == [(8.0,)]
    assert _rows(db_path, "SELECT count(*) FROM bill_imports") == [(1,)]


def test_a_period_without_invoice_id_is_open(tmp_path, db_path):
    export = write_cur2(
        tmp_path / "x",
        [
            item("USE1-Build-Min:Linux:g1.small", 6, 0.03, day=date(2025, 2, 3)),
            item("USE1-Build-Min:Linux:g1.small", 6, 0.03, invoice_id=None),
        ],
    )
    summary = import_bill(export, db_path)
    assert summary.periods == [date(2025, 2, 1), date(2025, 3, 1)]
    assert summary.open_periods == [date(2025, 3, 1)]


def test_unknown_usage_type_is_kept_and_reported(tmp_path, db_path):
    export = write_cur2(tmp_path / "x", [item("USE1-Build-Min:Linux:g9.huge", 5, 1.0)])
    summary = import_bill(export, db_path)
    assert summary.unknown_usage_types == {"USE1-Build-Min:Linux:g9.huge": 1}
    assert _rows(db_path, "SELECT usage_type, usage_kind FROM bill_line_items") == [
        ("USE1-Build-Min:Linux:g9.huge", None)
    ]


def test_errors_name_the_problem(tmp_path, db_path):
    with pytest.raises(BillSourceNotFoundError, match="no such file"):
        import_bill(tmp_path / "missing", db_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BillSourceNotFoundError, match="no Parquet or CSV"):
        import_bill(tmp_path / "empty", db_path)
    other = tmp_path / "other.csv"
    other.write_text("date,amount\n2025-03-01,3\n")
    with pytest.raises(NotABillError, match="not a CUR"):
        import_bill(other, db_path)
    ec2_only = write_cur2(
        tmp_path / "ec2", [item("USE1-BoxUsage:t3.micro", 24, 0.25, product_code="AmazonEC2")]
    )
    with pytest.raises(NoCodeBuildRowsError, match="no line item for CodeBuild"):
        import_bill(ec2_only, db_path)
    with pytest.raises(NotABillError, match="looks like cur2"):
        import_bill(write_cur2(tmp_path / "c2", sample_items()), db_path, fmt="cur")


def test_legacy_cur_parquet_with_athena_column_names(tmp_path, db_path):
    # The legacy CUR's Parquet (Athena) layout: category/Name in snake case, one column per
    # tag, no product map, region code in product_region.
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ciwb.bill.formats import normalise_name

    legacy = [
        normalise_name(c)
        for c in legacy_columns()
        if c != "product/regionCode" and not c.startswith("resourceTags/")
    ]
    src = item("USW2-Build-Min:ARM:g1.large", 10, 0.15, region="us-west-2")
    row = {c: src.get(c) for c in legacy}
    row["product_region"] = "us-west-2"
    row["resource_tags_user_project"] = "mobile"
    row["line_item_usage_start_date"] = src["line_item_usage_start_date"]
    table = pa.Table.from_pylist(
        [row, {**row, "line_item_product_code": "AmazonEC2", "line_item_usage_type": "x"}]
    )
    path = tmp_path / "legacy" / "20250301-20250401" / "cur-00001.snappy.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(table, path)
    summary = import_bill(path.parent.parent, db_path)
    assert (summary.format, summary.line_items) == ("cur", 1)
    rows = _rows(db_path, "SELECT region, environment_type, resource_tags FROM bill_line_items")
    assert rows[0][:2] == ("us-west-2", "ARM_CONTAINER")
    assert json.loads(rows[0][2]) == {"user_project": "mobile"}


def test_superseded_legacy_deliveries_are_left_out(tmp_path, db_path):
    # Two deliveries of March: the manifest names the second; the first must not count twice.
    period = tmp_path / "cur" / "codebuild" / "20250301-20250401"
    write_legacy_csv(
        period / "old-assembly" / "codebuild-00001.csv.gz",
        [item("USE1-Build-Min:Linux:g1.small", 4, 0.02)],
    )
    write_legacy_csv(
        period / "new-assembly" / "codebuild-00001.csv.gz",
        [item("USE1-Build-Min:Linux:g1.small", 6, 0.03)],
    )
    (period / "codebuild-Manifest.json").write_text(
        json.dumps(
            {"reportKeys": ["cur/codebuild/20250301-20250401/new-assembly/codebuild-00001.csv.gz"]}
        )
    )
    summary = import_bill(tmp_path / "cur", db_path)
    assert summary.files == 1
    assert _rows(db_path, "SELECT sum(usage_amount) FROM bill_line_items") == [(6.0,)]


def test_cur2_gzipped_csv(tmp_path, db_path):
    # Data Exports also writes CUR 2.0 as gzipped CSV: same snake-case names, maps as JSON.
    import csv
    import gzip

    src = item("USE1-Build-Min:Linux:g1.small", 6, 0.03, tags={"user_project": "web"})
    path = tmp_path / "x" / "data" / "BILLING_PERIOD=2025-03" / "x-00001.csv.gz"
    path.parent.mkdir(parents=True)
    with gzip.open(path, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(cur2_columns())
        values = []
        for name in cur2_columns():
            value = src.get(name)
            if isinstance(value, dict):
                value = json.dumps(value)
            elif hasattr(value, "strftime"):
                value = value.strftime("%Y-%m-%dT%H:%M:%SZ")
            values.append("" if value is None else value)
        writer.writerow(values)
    summary = import_bill(tmp_path / "x", db_path)
    assert (summary.format, summary.line_items) == ("cur2", 1)
    rows = _rows(db_path, "SELECT usage_amount, usage_start, resource_tags FROM bill_line_items")
    assert rows[0][0] == 6.0 and rows[0][1].isoformat() == "2025-03-03T00:00:00"
    assert json.loads(rows[0][2]) == {"user_project": "web"}
