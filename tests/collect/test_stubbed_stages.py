"""Build batches, reports, test cases and coverage: APIs moto lacks, so botocore's Stubber
(which validates every request and response against the service model) answers them,
with records from `ciwb.demo`. Writes go to a real DuckDB file."""

from __future__ import annotations

from datetime import datetime

import boto3
from botocore.stub import Stubber

from ciwb.collect.stages import collect_build_batches, collect_reports
from ciwb.store.writer import StoreWriter
from support.aws import ACCOUNT, REGION
from support.collect_history import demo
from support.queries import query as _q

NOW = datetime(2026, 11, 26, 12, 0)


def _client():
    return boto3.client(
        "codebuild", region_name=REGION, aws_access_key_id="k", aws_secret_access_key="s"
    )


def test_build_batches_are_read_once_complete(db_path):
    h = demo(400)
    batches = [b for b in h.build_batches if b["projectName"] == "monorepo"]
    assert len(batches) > 3
    client = _client()
    ids = [b["id"] for b in batches]
    write = StoreWriter(db_path)

    with Stubber(client) as stub:
        stub.add_response(
            "list_build_batches_for_project",
            {"ids": ids[:2], "nextToken": "p2"},
            {"projectName": "monorepo"},
        )
        stub.add_response(
            "list_build_batches_for_project",
            {"ids": ids[2:]},
            {"projectName": "monorepo", "nextToken": "p2"},
        )
        stub.add_response("batch_get_build_batches", {"buildBatches": batches}, {"ids": ids})
        skips = collect_build_batches(client, db_path, ACCOUNT, REGION, ["monorepo"], write, NOW)
        write.close()
        stub.assert_no_pending_responses()

    assert skips == []
    assert _q(db_path, "SELECT count(*) FROM build_batches") == [(len(batches),)]
    groups = sum(len(b["buildGroups"]) for b in batches)
    assert _q(db_path, "SELECT count(*) FROM build_batch_groups") == [(groups,)]

    # second run: the list call only; complete batches are not fetched again
    with Stubber(client) as stub:
        stub.add_response(
            "list_build_batches_for_project", {"ids": ids}, {"projectName": "monorepo"}
        )
        collect_build_batches(client, db_path, ACCOUNT, REGION, ["monorepo"], write, NOW)
        write.close()
        stub.assert_no_pending_responses()


def _coverage(report_arn: str, path: str, covered: int, missed: int) -> dict:
    return {
        "id": f"{report_arn}/{path}",
        "reportARN": report_arn,
        "filePath": path,
        "lineCoveragePercentage": 100.0 * covered / (covered + missed),
        "linesCovered": covered,
        "linesMissed": missed,
        "branchCoveragePercentage": 50.0,
        "branchesCovered": 2,
        "branchesMissed": 2,
        "expired": datetime(2026, 12, 26),
    }


def test_reports_with_paginated_test_cases_and_coverage(db_path):
    h = demo(400)
    test_report = next(
        r
        for r in h.reports
        if r["type"] == "TEST"
        and r["status"] != "INCOMPLETE"
        and sum(t["reportArn"] == r["arn"] for t in h.test_cases) >= 3
    )
    cases = [t for t in h.test_cases if t["reportArn"] == test_report["arn"]]
    cov_report = next(r for r in h.reports if r["type"] == "CODE_COVERAGE")
    coverages = [_coverage(cov_report["arn"], f"src/m{i}.py", 10 + i, 5) for i in range(3)]
    groups = [test_report["reportGroupArn"], cov_report["reportGroupArn"]]
    client = _client()
    write = StoreWriter(db_path)

    with Stubber(client) as stub:
        stub.add_response("list_report_groups", {"reportGroups": groups}, {})
        stub.add_response(
            "list_reports_for_report_group",
            {"reports": [test_report["arn"]]},
            {"reportGroupArn": groups[0]},
        )
        stub.add_response(
            "batch_get_reports", {"reports": [test_report]}, {"reportArns": [test_report["arn"]]}
        )
        stub.add_response(
            "describe_test_cases",
            {"testCases": cases[:2], "nextToken": "t2"},
            {"reportArn": test_report["arn"]},
        )
        stub.add_response(
            "describe_test_cases",
            {"testCases": cases[2:]},
            {"reportArn": test_report["arn"], "nextToken": "t2"},
        )
        stub.add_response(
            "list_reports_for_report_group",
            {"reports": [cov_report["arn"]]},
            {"reportGroupArn": groups[1]},
        )
        stub.add_response(
            "batch_get_reports", {"reports": [cov_report]}, {"reportArns": [cov_report["arn"]]}
        )
        stub.add_response(
            "describe_code_coverages",
            {"codeCoverages": coverages},
            {"reportArn": cov_report["arn"]},
        )
        skips = collect_reports(client, db_path, ACCOUNT, REGION, [], True, write, NOW)
        write.close()
        stub.assert_no_pending_responses()

    assert skips == []
    assert _q(db_path, "SELECT report_type, build_arn FROM reports ORDER BY report_type") == [
        ("CODE_COVERAGE", cov_report["executionId"]),
        ("TEST", test_report["executionId"]),
    ]
    assert _q(db_path, "SELECT count(*), any_value(build_arn) FROM test_cases") == [
        (len(cases), test_report["executionId"])
    ]
    assert _q(db_path, "SELECT file_path, lines_covered FROM code_coverages ORDER BY 1") == [
        ("src/m0.py", 10),
        ("src/m1.py", 11),
        ("src/m2.py", 12),
    ]


def test_access_denied_on_a_report_group_is_skipped_and_others_read(db_path):
    h = demo(400)
    report = next(r for r in h.reports if r["type"] == "TEST")
    denied_group = "arn:aws:codebuild:us-east-1:123456789012:report-group/secret-tests"
    client = _client()
    write = StoreWriter(db_path)

    with Stubber(client) as stub:
        stub.add_response(
            "list_report_groups", {"reportGroups": [denied_group, report["reportGroupArn"]]}, {}
        )
        stub.add_client_error(
            "list_reports_for_report_group",
            "AccessDeniedException",
            "not authorized",
            expected_params={"reportGroupArn": denied_group},
        )
        stub.add_response(
            "list_reports_for_report_group",
            {"reports": [report["arn"]]},
            {"reportGroupArn": report["reportGroupArn"]},
        )
        stub.add_response(
            "batch_get_reports", {"reports": [report]}, {"reportArns": [report["arn"]]}
        )
        stub.add_response("describe_test_cases", {"testCases": []}, {"reportArn": report["arn"]})
        skips = collect_reports(client, db_path, ACCOUNT, REGION, [], True, write, NOW)
        write.close()

    assert [(s.target, s.code) for s in skips] == [(denied_group, "AccessDeniedException")]
    assert _q(db_path, "SELECT count(*) FROM reports") == [(1,)]
