from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ciwb.codebuild.normalise import arch_of, normalise_build, normalise_project

T0 = datetime(2026, 11, 2, 9, 30, 0, 123000, tzinfo=UTC)


def _build(phases: list[dict], **extra) -> dict:
    record = {
        "id": "api:0b9f3c3e-1111-4a4a-9c9c-000000000001",
        "arn": "arn:aws:codebuild:eu-west-1:123456789012:build/api:0b9f3c3e-1111-4a4a-9c9c-000000000001",
        "buildNumber": 42,
        "startTime": T0,
        "currentPhase": "COMPLETED",
        "buildStatus": "SUCCEEDED",
        "projectName": "api",
        "phases": phases,
        "environment": {
            "type": "ARM_CONTAINER",
            "computeType": "BUILD_GENERAL1_SMALL",
            "image": "x",
        },
        "buildComplete": True,
    }
    record.update(extra)
    return record


def test_phase_seconds_come_from_timestamps_not_truncated_duration():
    phases = [
        {
            "phaseType": "BUILD",
            "phaseStatus": "SUCCEEDED",
            "startTime": T0,
            "endTime": T0 + timedelta(seconds=61, milliseconds=900),
            "durationInSeconds": 61,
            "contexts": [{"statusCode": "", "message": ""}],
        }
    ]
    build, rows = normalise_build(_build(phases, endTime=T0 + timedelta(seconds=70)))
    assert rows[0].duration_s == pytest.approx(61.9)
    assert rows[0].reported_duration_s == 61
    assert rows[0].context_code is None  # an empty success context is not a failure code
    assert build.total_s == pytest.approx(70.0)
    assert (build.account_id, build.region, build.arch) == ("123456789012", "eu-west-1", "arm64")
    assert json.loads(build.raw)["buildNumber"] == 42


def test_failed_phase_keeps_context_code_and_message():
    phases = [
        {
            "phaseType": "INSTALL",
            "phaseStatus": "FAILED",
            "startTime": T0,
            "endTime": T0 + timedelta(seconds=3),
            "durationInSeconds": 3,
            "contexts": [
                {
                    "statusCode": "COMMAND_EXECUTION_ERROR",
                    "message": "Error while executing command: npm ci. Reason: exit status 1",
                }
            ],
        }
    ]
    _, rows = normalise_build(_build(phases, buildStatus="FAILED"))
    assert rows[0].status == "FAILED"
    assert rows[0].context_code == "COMMAND_EXECUTION_ERROR"
    assert "npm ci" in rows[0].context_message


@pytest.mark.parametrize(
    ("env_type", "arch"),
    [
        ("ARM_CONTAINER", "arm64"),
        ("ARM_LAMBDA_CONTAINER", "arm64"),
        ("ARM_EC2", "arm64"),
        ("LINUX_CONTAINER", "x86_64"),
        ("LINUX_LAMBDA_CONTAINER", "x86_64"),
        ("WINDOWS_SERVER_2022_CONTAINER", "x86_64"),
        (None, "x86_64"),
    ],
)
def test_arch_is_derived_from_environment_type(env_type, arch):
    assert arch_of(env_type) == arch


def test_project_keeps_cache_and_fleet():
    row = normalise_project(
        {
            "name": "web",
            "arn": "arn:aws:codebuild:us-east-1:111122223333:project/web",
            "environment": {
                "type": "ARM_EC2",
                "computeType": "BUILD_GENERAL1_SMALL",
                "image": "img",
                "fleet": {"fleetArn": "arn:aws:codebuild:us-east-1:111122223333:fleet/f:1"},
            },
            "cache": {"type": "LOCAL", "modes": ["LOCAL_CUSTOM_CACHE"]},
            "created": T0,
        }
    )
    assert row.arch == "arm64"
    assert row.cache_modes == ["LOCAL_CUSTOM_CACHE"]
    assert row.fleet_arn.endswith("fleet/f:1")
    assert row.created == datetime(2026, 11, 2, 9, 30, 0, 123000)


def test_raw_json_of_a_record_with_non_string_keys_is_as_before():
    """Records are serialised without orjson's non-str-key option first (the common case);
    one with a non-str key somewhere is serialised with it, naive datetimes as UTC both ways."""
    import orjson

    from ciwb.codebuild.normalise import NormalisedBatch

    naive = datetime(2026, 11, 2, 9, 30)
    odd = _build([], exportedEnvironmentVariables=[], extra={1: "one", None: naive})
    plain = _build([], endTime=naive)
    batch = NormalisedBatch()
    for record in (odd, plain):
        batch.add_build(record, origin="aws")
    options = orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS
    assert [r.raw for r in batch.raw_builds] == [
        orjson.dumps(r, option=options) for r in (odd, plain)
    ]
    assert json.loads(batch.raw_builds[0].raw)["extra"] == {
        "1": "one",
        "null": "2026-11-02T09:30:00+00:00",
    }
    assert json.loads(batch.raw_builds[1].raw)["endTime"] == "2026-11-02T09:30:00+00:00"
