"""The collector's response parsers give botocore's answers: same keys, values and instants."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
from botocore import parsers
from botocore.utils import parse_timestamp as botocore_parse_timestamp

from ciwb.collect.responses import ResponseParsers, parse_timestamp
from support.builds import T0, build_record, project_record


def _wire(value: Any) -> Any:
    """A boto3-shaped record as the JSON protocol sends it (timestamps as epoch seconds)."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return value


def _ordered(value: Any) -> Any:
    """`value` with every dict as its list of items: equal only if the keys come in the same
    order too (the stored raw JSON is written in the parsed record's key order)."""
    if isinstance(value, dict):
        return [(k, _ordered(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return value


def _parse(service: str, operation: str, payload: Any, status: int = 200) -> tuple[Any, Any]:
    """(ciwb's parse, botocore's default parse) of one answer."""
    model = botocore.session.get_session().get_service_model(service)
    shape = model.operation_model(operation).output_shape
    body = json.dumps(payload).encode()
    response = {"body": body, "headers": {"x-amzn-requestid": "r-1"}, "status_code": status}
    ours = ResponseParsers().create_parser("json").parse(dict(response), shape)
    theirs = parsers.JSONParser().parse(dict(response), shape)
    return ours, theirs


def test_batch_get_builds_parses_as_botocore_does():
    rng = random.Random(3)
    builds = [
        build_record("api", n, T0 + timedelta(hours=n), rng=rng, status=s)
        for n, s in enumerate(["SUCCEEDED", "FAILED", "IN_PROGRESS"], start=1)
    ]
    wire = _wire({"builds": builds, "buildsNotFound": ["api:gone"]})
    # What the model does not name is dropped, and so are nulls, as botocore does.
    wire["builds"][0]["aFieldOfTomorrow"] = {"x": 1}
    wire["builds"][1]["buildNumber"] = None
    wire["builds"][2]["phases"].append(None)
    ours, theirs = _parse("codebuild", "BatchGetBuilds", wire)
    assert ours == theirs  # aware datetimes compare as instants
    assert _ordered(ours) == _ordered(theirs)
    assert "aFieldOfTomorrow" not in ours["builds"][0]
    assert "buildNumber" not in ours["builds"][1]
    assert ours["builds"][2]["phases"][-1] is None
    start = ours["builds"][0]["startTime"]
    assert start == builds[0]["startTime"] and start.utcoffset() == timedelta(0)


def test_projects_lists_and_pages_parse_as_botocore_does():
    project = _wire(project_record("api"))
    for operation, payload in (
        ("BatchGetProjects", {"projects": [project], "projectsNotFound": []}),
        ("ListProjects", {"projects": ["api", "web"], "nextToken": "2"}),
        ("ListBuildsForProject", {"ids": ["api:1", "api:2"]}),
    ):
        ours, theirs = _parse("codebuild", operation, payload)
        assert ours == theirs, operation


def test_errors_parse_as_botocore_does():
    ours, theirs = _parse(
        "codebuild",
        "BatchGetBuilds",
        {"__type": "AccessDeniedException", "message": "not you"},
        status=400,
    )
    assert ours == theirs
    assert ours["Error"] == {"Code": "AccessDeniedException", "Message": "not you"}


def test_epoch_timestamps_are_the_instants_botocore_gives():
    for value in (0, 1_700_000_000, 1_764_600_000.123456, "1764600000.5"):
        ours = parse_timestamp(value)
        assert ours == botocore_parse_timestamp(value)
    assert parse_timestamp(1_700_000_000).tzinfo is UTC
    assert parse_timestamp("2026-01-02T03:04:05Z") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_collect_sessions_use_the_parsers():
    from ciwb.collect.aws import use_collect_parsers

    session = use_collect_parsers(boto3.Session(region_name="us-east-1"))
    assert isinstance(session._session.get_component("response_parser_factory"), ResponseParsers)


def test_aws_published_example_parses_as_botocore_does_in_either_key_order():
    """AWS's own BatchGetBuilds example (botocore ships it as codebuild's examples-1.json)
    has its keys in alphabetical order, not the model's: it takes the member-by-member
    path. Sent again in botocore's (the model's) order, it takes the in-place path. Both
    must give botocore's answer, keys in botocore's order."""
    loader = botocore.session.get_session().get_component("data_loader")
    examples = loader.load_service_model("codebuild", "examples-1")
    published = examples["examples"]["BatchGetBuilds"][0]["output"]
    assert len(published["builds"]) == 2 and published["builds"][0]["phases"]
    ours, theirs = _parse("codebuild", "BatchGetBuilds", published)
    assert _ordered(ours) == _ordered(theirs)
    assert list(published["builds"][0]) != list(theirs["builds"][0])  # not the model's order
    in_model_order = _wire(theirs)
    del in_model_order["ResponseMetadata"]
    for _ in range(2):  # the second time, the key sequences are already known
        again, theirs_again = _parse("codebuild", "BatchGetBuilds", in_model_order)
        assert _ordered(again) == _ordered(theirs_again) == _ordered(theirs)
    # A key sequence known to be in order, with a null or a member the model does not name
    # added, is not taken for it.
    odd = _wire(theirs)
    del odd["ResponseMetadata"]
    odd["builds"][0]["phases"][0]["durationInSeconds"] = None
    odd["builds"][1]["phases"][0]["aFieldOfTomorrow"] = 1
    ours_odd, theirs_odd = _parse("codebuild", "BatchGetBuilds", odd)
    assert _ordered(ours_odd) == _ordered(theirs_odd)
    assert "durationInSeconds" not in ours_odd["builds"][0]["phases"][0]
    assert "aFieldOfTomorrow" not in ours_odd["builds"][1]["phases"][0]


def test_aws_published_organizations_examples_parse_as_botocore_does():
    """The Organizations answers `collect --org` reads, as AWS publishes them (botocore's
    organizations examples-1.json). Their timestamps are ISO basic-format strings
    ("20161215T193015Z"), not epoch numbers, and go to botocore's own timestamp parser."""
    loader = botocore.session.get_session().get_component("data_loader")
    examples = loader.load_service_model("organizations", "examples-1")["examples"]
    for operation in ("ListAccounts", "DescribeOrganization", "DescribeAccount"):
        published = examples[operation][0]["output"]
        ours, theirs = _parse("organizations", operation, published)
        assert _ordered(ours) == _ordered(theirs), operation
    accounts, _ = _parse("organizations", "ListAccounts", examples["ListAccounts"][0]["output"])
    joined = accounts["Accounts"][0]["JoinedTimestamp"]
    assert joined == datetime(2016, 12, 15, 19, 30, 15, tzinfo=UTC)
