"""Remote sources: an s3:// export on moto's S3 server over HTTP, Cost Explorer via Stubber."""

from __future__ import annotations

from datetime import date, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from ciwb.bill import fetch_cost_explorer, import_bill, reconcile
from ciwb.errors import BillSourceNotFoundError, NoCodeBuildRowsError
from ciwb.store import connect
from support.builds import T0, build_record
from support.stores import write_store
from tests.bill.billfiles import item, write_cur2


@pytest.fixture
def moto_s3(monkeypatch):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://{host}:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield f"http://{host}:{port}"
    server.stop()


def test_s3_export_imports_over_http(tmp_path, db_path, moto_s3):
    export = write_cur2(
        tmp_path / "local",
        [
            item("USE1-Build-Min:Linux:g1.small", 6, 0.03),
            item("USE1-BoxUsage:t3.micro", 24, 0.25, product_code="AmazonEC2"),
        ],
        export="codebuild-cur",
    )
    s3 = boto3.client("s3", endpoint_url=moto_s3)
    s3.create_bucket(Bucket="billing")
    for path in export.rglob("*.parquet"):
        s3.upload_file(str(path), "billing", f"exports/{path.relative_to(export.parent)}")
    s3.put_object(
        Bucket="billing",
        Key="exports/codebuild-cur/metadata/BILLING_PERIOD=2025-03/codebuild-cur-Manifest.json",
        Body=b"{}",
    )
    summary = import_bill("s3://billing/exports/codebuild-cur", db_path)
    assert summary.location == "s3://billing/exports/codebuild-cur"
    assert (summary.files, summary.line_items) == (1, 1)
    with connect(db_path, read_only=True) as con:
        assert con.execute("SELECT usage_type FROM bill_line_items").fetchall() == [
            ("USE1-Build-Min:Linux:g1.small",)
        ]
    with pytest.raises(BillSourceNotFoundError, match="s3://nobucket: no such bucket"):
        import_bill("s3://nobucket/x", db_path)
    with pytest.raises(BillSourceNotFoundError, match="no Parquet or CSV files"):
        import_bill("s3://billing/elsewhere/", db_path)


def _group(usage_type, account, unblended, net, quantity, unit="Minutes"):
    return {
        "Keys": [usage_type, account],
        "Metrics": {
            "UnblendedCost": {"Amount": str(unblended), "Unit": "USD"},
            "NetUnblendedCost": {"Amount": str(net), "Unit": "USD"},
            "UsageQuantity": {"Amount": str(quantity), "Unit": unit},
        },
    }


def _expected(start, end, token=None):
    params = {
        "TimePeriod": {"Start": start, "End": end},
        "Granularity": "DAILY",
        "Filter": {"Dimensions": {"Key": "SERVICE", "Values": ["AWS CodeBuild"]}},
        "Metrics": ["UnblendedCost", "NetUnblendedCost", "UsageQuantity"],
        "GroupBy": [
            {"Type": "DIMENSION", "Key": "USAGE_TYPE"},
            {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"},
        ],
    }
    if token:
        params["NextPageToken"] = token
    return params


def test_cost_explorer_daily_usage_types_through_the_stubber(db_path):
    write_store(
        db_path,
        [
            build_record("web", n, start=T0 + timedelta(hours=n), phases={"BUILD": 61})
            for n in range(3)
        ],
    )
    client = boto3.client(
        "ce", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(client)
    day = {"Start": "2025-03-03", "End": "2025-03-04"}
    stub.add_response(
        "get_cost_and_usage",
        {
            "ResultsByTime": [
                {
                    "TimePeriod": day,
                    "Total": {},
                    # 6 minutes at $0.005, a net (after discount) of $0.024
                    "Groups": [
                        _group("USE1-Build-Min:Linux:g1.small", "123456789012", 0.03, 0.024, 6)
                    ],
                    "Estimated": False,
                }
            ],
            "NextPageToken": "page2",
        },
        _expected("2025-03-01", "2025-04-01"),
    )
    stub.add_response(
        "get_cost_and_usage",
        {
            "ResultsByTime": [
                {
                    "TimePeriod": {"Start": "2025-03-04", "End": "2025-03-05"},
                    "Total": {},
                    "Groups": [
                        _group("USW2-Build-Min:ARM:g1.large", "123456789012", 0.15, 0.15, 10)
                    ],
                    "Estimated": True,
                }
            ],
        },
        _expected("2025-03-01", "2025-04-01", "page2"),
    )
    with stub:
        summary = fetch_cost_explorer(
            db_path, since="2025-03-03", until=date(2025, 4, 1), client=client
        )
    stub.assert_no_pending_responses()
    assert summary.format == "cost_explorer"
    assert summary.periods == [date(2025, 3, 1)]
    assert summary.open_periods == [date(2025, 3, 1)]  # an estimated day
    assert summary.line_items == 3  # two usage rows and one discount row
    rec = reconcile(db_path, by="month")
    rate = rec.rates.filter(rec.rates["region"] == "us-east-1").row(0, named=True)
    assert rate["effective_rate"] == pytest.approx(0.004)
    month = rec.periods.row(0, named=True)
    assert month["bill_cost"] == pytest.approx(0.174)
    assert month["discounts"] == pytest.approx(-0.006)
    assert month["not_in_store"] == pytest.approx(0.15)


def test_cost_explorer_without_codebuild_usage(db_path):
    client = boto3.client(
        "ce", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(client)
    stub.add_response(
        "get_cost_and_usage",
        {
            "ResultsByTime": [
                {
                    "TimePeriod": {"Start": "2025-03-01", "End": "2025-03-02"},
                    "Total": {},
                    "Groups": [],
                    "Estimated": False,
                }
            ]
        },
        _expected("2025-03-01", "2025-03-02"),
    )
    with stub, pytest.raises(NoCodeBuildRowsError, match="no AWS CodeBuild usage"):
        fetch_cost_explorer(db_path, since="2025-03-01", until="2025-03-02", client=client)
