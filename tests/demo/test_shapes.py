"""Every generated record validates against botocore's own service model."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from ciwb.demo import generate
from ciwb.demo.generator import iter_chunks


@pytest.fixture(scope="module")
def history():
    return generate(builds=1_500, seed=3)


def _client(service: str):
    return boto3.client(
        service,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_builds_projects_batches_reports_validate_against_codebuild_model(history):
    client = _client("codebuild")
    stubber = Stubber(client)
    # add_response validates the response against the service model and raises on any
    # unknown key, wrong type or bad enum value.
    for chunk in iter_chunks(history.builds, 100):
        stubber.add_response("batch_get_builds", {"builds": chunk})
    stubber.add_response("batch_get_projects", {"projects": history.projects})
    for chunk in iter_chunks(history.build_batches, 100):
        stubber.add_response("batch_get_build_batches", {"buildBatches": chunk})
    for chunk in iter_chunks(history.reports, 100):
        stubber.add_response("batch_get_reports", {"reports": chunk})
    for chunk in iter_chunks(history.test_cases, 100):
        stubber.add_response("describe_test_cases", {"testCases": chunk})
    assert len(history.builds) >= 1_500
    assert history.build_batches and history.reports and history.test_cases


def test_metric_results_validate_against_cloudwatch_model(history):
    stubber = Stubber(_client("cloudwatch"))
    results = [m.result for m in history.metrics]
    assert results
    for chunk in iter_chunks(results, 500):
        stubber.add_response("get_metric_data", {"MetricDataResults": chunk})


def test_same_seed_same_history_other_seed_other_history():
    a = generate(builds=300, seed=5)
    b = generate(builds=300, seed=5)
    c = generate(builds=300, seed=6)
    assert [x["arn"] for x in a.builds] == [x["arn"] for x in b.builds]
    assert [x["endTime"] for x in a.builds if "endTime" in x] == [
        x["endTime"] for x in b.builds if "endTime" in x
    ]
    assert [x["arn"] for x in a.builds] != [x["arn"] for x in c.builds]
