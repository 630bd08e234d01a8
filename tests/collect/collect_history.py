"""Realistic CodeBuild records in boto3's shapes, for seeding the local endpoint.

Histories come from `ciwb.demo` (re-homed to moto's account). `build_record` hand-builds
the one thing the demo does not emit: a build still in progress, and a few new builds
arriving between two runs.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from ciwb.codebuild.phases import PHASE_ORDER

ACCOUNT = "123456789012"  # moto's default account, what STS says
DEMO_ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"  # the demo's second account, reached by assuming a role
REGION = "us-east-1"
PHASES = PHASE_ORDER


def project_record(name: str, *, arm: bool = False, region: str = REGION) -> dict[str, Any]:
    env_type = "ARM_CONTAINER" if arm else "LINUX_CONTAINER"
    return {
        "name": name,
        "arn": f"arn:aws:codebuild:{region}:{ACCOUNT}:project/{name}",
        "description": f"{name} service",
        "source": {"type": "GITHUB", "location": f"https://github.com/example/{name}.git"},
        "artifacts": {"type": "NO_ARTIFACTS"},
        "environment": {
            "type": env_type,
            "image": "aws/codebuild/amazonlinux2-aarch64-standard:3.0"
            if arm
            else "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_MEDIUM",
            "privilegedMode": False,
            "environmentVariables": [],
        },
        "serviceRole": f"arn:aws:iam::{ACCOUNT}:role/codebuild-{name}",
        "timeoutInMinutes": 60,
        "queuedTimeoutInMinutes": 480,
        "cache": {"type": "LOCAL", "modes": ["LOCAL_DOCKER_LAYER_CACHE"]},
        "created": datetime(2025, 1, 6, 9, 30, tzinfo=UTC),
        "lastModified": datetime(2025, 6, 1, 12, 0, tzinfo=UTC),
        "logsConfig": {"cloudWatchLogs": {"status": "ENABLED"}},
    }


def build_record(
    project: str,
    number: int,
    start: datetime,
    *,
    rng: random.Random,
    status: str = "SUCCEEDED",
    complete: bool = True,
    arm: bool = False,
    region: str = REGION,
    log_group: str | None = None,
) -> dict[str, Any]:
    """One Build as BatchGetBuilds returns it. `complete=False`: stopped in BUILD."""
    build_uuid = str(uuid.UUID(int=rng.getrandbits(128)))
    build_id = f"{project}:{build_uuid}"
    phases: list[dict[str, Any]] = []
    t = start
    durations = {
        "SUBMITTED": rng.uniform(0.2, 1.5),
        "QUEUED": rng.uniform(0.5, 30),
        "PROVISIONING": rng.uniform(8, 40),
        "DOWNLOAD_SOURCE": rng.uniform(2, 15),
        "INSTALL": rng.uniform(5, 60),
        "PRE_BUILD": rng.uniform(1, 20),
        "BUILD": rng.uniform(30, 600),
        "POST_BUILD": rng.uniform(0.5, 10),
        "UPLOAD_ARTIFACTS": rng.uniform(0.2, 5),
        "FINALIZING": rng.uniform(1, 4),
    }
    current = "COMPLETED"
    for phase in PHASES:
        if phase == "COMPLETED":
            phases.append({"phaseType": "COMPLETED", "startTime": t})
            break
        if not complete and phase == "BUILD":
            phases.append({"phaseType": "BUILD", "phaseStatus": "IN_PROGRESS", "startTime": t})
            current = "BUILD"
            break
        seconds = durations[phase]
        end = t + timedelta(seconds=seconds)
        failed = status == "FAILED" and phase == "BUILD"
        entry: dict[str, Any] = {
            "phaseType": phase,
            "phaseStatus": "FAILED" if failed else "SUCCEEDED",
            "startTime": t,
            "endTime": end,
            "durationInSeconds": int(seconds),
            "contexts": [
                {
                    "statusCode": "COMMAND_EXECUTION_ERROR" if failed else "",
                    "message": "Error while executing command: make test. Reason: exit status 2"
                    if failed
                    else "",
                }
            ],
        }
        if phase == "SUBMITTED":
            entry.pop("contexts")
        phases.append(entry)
        t = end
    record: dict[str, Any] = {
        "id": build_id,
        "arn": f"arn:aws:codebuild:{region}:{ACCOUNT}:build/{build_id}",
        "buildNumber": number,
        "startTime": start,
        "currentPhase": current,
        "buildStatus": status if complete else "IN_PROGRESS",
        "sourceVersion": "refs/heads/main",
        "resolvedSourceVersion": f"{rng.getrandbits(160):040x}",
        "projectName": project,
        "phases": phases,
        "source": {"type": "GITHUB", "location": f"https://github.com/example/{project}.git"},
        "artifacts": {"location": ""},
        "cache": {"type": "LOCAL", "modes": ["LOCAL_DOCKER_LAYER_CACHE"]},
        "environment": {
            "type": "ARM_CONTAINER" if arm else "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_MEDIUM",
            "environmentVariables": [],
            "privilegedMode": False,
        },
        "serviceRole": f"arn:aws:iam::{ACCOUNT}:role/codebuild-{project}",
        "logs": {
            "groupName": log_group or f"/aws/codebuild/{project}",
            "streamName": build_uuid,
            "deepLink": "https://console.aws.amazon.com/cloudwatch/home",
        },
        "timeoutInMinutes": 60,
        "queuedTimeoutInMinutes": 480,
        "buildComplete": complete,
        "initiator": "GitHub-Hookshot/abc123",
        "encryptionKey": f"arn:aws:kms:{region}:{ACCOUNT}:alias/aws/s3",
    }
    if complete:
        record["endTime"] = t
    return record


def query(db_path: Any, sql: str, *params: Any) -> list[tuple]:
    """Rows from a store file, read-only, as a user's notebook would read them."""
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def _rehome(value: Any) -> Any:
    """The demo's records with moto's account id in every ARN, so rows agree with STS."""
    if isinstance(value, str):
        return value.replace(DEMO_ACCOUNT, ACCOUNT)
    if isinstance(value, dict):
        return {k: _rehome(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rehome(v) for v in value]
    return value


def demo(builds: int, *, seed: int = 3, days: int = 10, end: datetime | None = None) -> Any:
    """A `ciwb.demo` history ending an hour ago, re-homed to moto's account."""
    from ciwb.demo import generate

    end = end or (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None, microsecond=0)
    h = generate(builds=builds, seed=seed, days=days, end=end)
    h.projects, h.builds = _rehome(h.projects), _rehome(h.builds)
    h.build_batches, h.reports = _rehome(h.build_batches), _rehome(h.reports)
    h.test_cases = _rehome(h.test_cases)
    return h


def history(
    builds: int,
    *,
    seed: int = 3,
    days: int = 10,
    end: datetime | None = None,
    account: str | None = ACCOUNT,
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Demo project records and, per project, its builds oldest first. The demo spreads
    projects over two accounts; `account` keeps one of them (None: both)."""
    h = demo(builds, seed=seed, days=days, end=end)
    projects = [p for p in h.projects if account is None or f":{account}:" in p["arn"]]
    by_project: dict[str, list[dict[str, Any]]] = {p["name"]: [] for p in projects}
    for build in sorted(h.builds, key=lambda b: (b["startTime"], b["buildNumber"])):
        # The history ends an hour before now, so whether the demo leaves a build running
        # at its end depends on the time of day; tests that want one add it themselves.
        if not build["buildComplete"]:
            continue
        if build["projectName"] in by_project:
            by_project[build["projectName"]].append(build)
    return projects, by_project
