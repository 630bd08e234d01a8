"""Hand-written records in boto3's exact shapes for the 2026 CodeBuild features (issue 14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

ACCOUNT = "111122223333"
REGION = "us-east-1"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def fleet_arn(name: str) -> str:
    return f"arn:aws:codebuild:{REGION}:{ACCOUNT}:fleet/{name}:0b1c2d3e"


def fleet(
    name: str = "shared",
    *,
    capacity: int = 2,
    overflow: str = "ON_DEMAND",
    environment: str = "LINUX_CONTAINER",
    compute: str = "BUILD_GENERAL1_MEDIUM",
    created: datetime = T0,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "arn": fleet_arn(name),
        "name": name,
        "id": f"{name}:0b1c2d3e",
        "created": created,
        "lastModified": created,
        "status": {"statusCode": "ACTIVE", "message": "ready"},
        "baseCapacity": capacity,
        "environmentType": environment,
        "computeType": compute,
        "scalingConfiguration": {
            "scalingType": "TARGET_TRACKING_SCALING",
            "targetTrackingScalingConfigs": [
                {"metricType": "FLEET_UTILIZATION_RATE", "targetValue": 80.0}
            ],
            "maxCapacity": capacity * 2,
            "desiredCapacity": capacity,
        },
        "overflowBehavior": overflow,
        "tags": [],
    }
    if compute in ("ATTRIBUTE_BASED_COMPUTE", "CUSTOM_INSTANCE_TYPE"):
        record["computeConfiguration"] = {
            "vCpu": 4,
            "memory": 8,
            "disk": 64,
            "machineType": "GENERAL",
        }
    return record


def _phase(kind: str, start: datetime, seconds: float) -> dict[str, Any]:
    end = start + timedelta(seconds=seconds)
    return {
        "phaseType": kind,
        "phaseStatus": "SUCCEEDED",
        "startTime": start,
        "endTime": end,
        "durationInSeconds": int(seconds),
        "contexts": [{"statusCode": "", "message": ""}],
    }


def build(
    project: str,
    number: int,
    start: datetime,
    *,
    queued_s: float = 0.0,
    run_s: float = 600.0,
    status: str = "SUCCEEDED",
    environment: str = "LINUX_CONTAINER",
    compute: str = "BUILD_GENERAL1_MEDIUM",
    fleet: str | None = None,
    retry: dict[str, Any] | None = None,
    variables: list[dict[str, str]] | None = None,
    source_type: str = "GITHUB",
    resolved: str = "a" * 40,
    compute_configuration: dict[str, Any] | None = None,
    extra_environment: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A completed Build: SUBMITTED 1 s, QUEUED `queued_s`, PROVISIONING 10 s, BUILD rest."""
    build_id = f"{project}:{number:08x}-0000-4000-8000-000000000000"
    phases = []
    t = start
    for kind, seconds in (
        ("SUBMITTED", 1.0),
        ("QUEUED", queued_s),
        ("PROVISIONING", 10.0),
        ("BUILD", max(run_s - 11.0 - queued_s, 1.0)),
    ):
        phases.append(_phase(kind, t, seconds))
        t += timedelta(seconds=seconds)
    phases[-1]["phaseStatus"] = status
    phases.append({"phaseType": "COMPLETED", "startTime": t})
    env: dict[str, Any] = {
        "type": environment,
        "image": "aws/codebuild/standard:7.0",
        "computeType": compute,
        "environmentVariables": variables or [],
        "privilegedMode": False,
        "imagePullCredentialsType": "CODEBUILD",
    }
    if fleet:
        env["fleet"] = {"fleetArn": fleet_arn(fleet)}
    if compute_configuration:
        env["computeConfiguration"] = compute_configuration
    env.update(extra_environment or {})
    record: dict[str, Any] = {
        "id": build_id,
        "arn": f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build/{build_id}",
        "buildNumber": number,
        "startTime": start,
        "endTime": t,
        "currentPhase": "COMPLETED",
        "buildStatus": status,
        "sourceVersion": "refs/heads/main",
        "resolvedSourceVersion": resolved,
        "projectName": project,
        "phases": phases,
        "source": {"type": source_type, "location": f"https://github.com/example/{project}"},
        "environment": env,
        "serviceRole": f"arn:aws:iam::{ACCOUNT}:role/codebuild",
        "logs": {"groupName": "/aws/codebuild/" + project, "streamName": build_id.split(":")[1]},
        "timeoutInMinutes": 60,
        "queuedTimeoutInMinutes": 480,
        "buildComplete": True,
        "initiator": "GitHub-Hookshot/abc",
    }
    if retry:
        record["autoRetryConfig"] = retry
    return record


def runner_project(name: str = "gha-runner") -> dict[str, Any]:
    return {
        "name": name,
        "arn": f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/{name}",
        "source": {"type": "GITHUB", "location": f"https://github.com/example/{name}"},
        "artifacts": {"type": "NO_ARTIFACTS"},
        "environment": {
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        "serviceRole": f"arn:aws:iam::{ACCOUNT}:role/codebuild",
        "created": T0,
        "lastModified": T0,
        "webhook": {
            "url": "https://api.github.com/repos/example/hooks/1",
            "filterGroups": [[{"type": "EVENT", "pattern": "WORKFLOW_JOB_QUEUED"}]],
        },
        "autoRetryLimit": 0,
    }
