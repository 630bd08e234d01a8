"""CodeBuild ids and ARNs: built the way AWS writes them, and taken apart again."""

import pytest

from ciwb.codebuild import arns


def test_build_arn_round_trips_through_its_id():
    build_id = arns.build_id("api", "6c2f0a1e")
    arn = arns.build_arn("eu-west-1", "123456789012", build_id)
    assert arn == "arn:aws:codebuild:eu-west-1:123456789012:build/api:6c2f0a1e"
    assert arns.parse_arn(arn) == ("eu-west-1", "123456789012", "build/api:6c2f0a1e")
    assert arns.id_of_arn(arn) == "api:6c2f0a1e"
    assert arns.project_of_id(build_id) == "api"
    assert arns.last_id_part(arn) == "6c2f0a1e"


def test_batch_report_and_project_arns():
    assert (
        arns.batch_arn("us-east-1", "1", "web:u1")
        == "arn:aws:codebuild:us-east-1:1:build-batch/web:u1"
    )
    assert arns.project_arn("us-east-1", "1", "web") == "arn:aws:codebuild:us-east-1:1:project/web"
    group = arns.report_group_arn("us-east-1", "1", "web-unit")
    assert group == "arn:aws:codebuild:us-east-1:1:report-group/web-unit"
    assert arns.resource_name(group) == "web-unit"
    assert (
        arns.report_arn("us-east-1", "1", "web-unit", "u2")
        == "arn:aws:codebuild:us-east-1:1:report/web-unit:u2"
    )


def test_parse_arn_rejects_what_is_not_an_arn():
    with pytest.raises(ValueError, match="not an ARN"):
        arns.parse_arn("build/api:6c2f0a1e")
