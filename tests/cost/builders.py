"""boto3-shaped Build records for small, hand-checkable stores.

Records are the `BatchGetBuilds` shape (see docs/reference/codebuild-facts.md, "Build record")
and travel the real path: `ciwb.codebuild.normalise` → `ciwb.store.write_batch`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ciwb.codebuild.normalise import NormalisedBatch, normalise_metric
from ciwb.codebuild.phases import TIMED_PHASES
from ciwb.store import connect, write_batch

ACCOUNT = "123456789012"
REGION = "us-east-1"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ORDER = TIMED_PHASES  # SUBMITTED … FINALIZING; COMPLETED is appended per record


def build_record(
    project: str,
    number: int,
    *,
    start: datetime = T0,
    phases: Mapping[str, float] | None = None,
    environment_type: str = "LINUX_CONTAINER",
    compute_type: str = "BUILD_GENERAL1_SMALL",
    status: str = "SUCCEEDED",
    region: str = REGION,
    privileged: bool = False,
    fleet_arn: str | None = None,
    cache_type: str = "NO_CACHE",
) -> dict[str, Any]:
    """A completed build whose phases last `phases` seconds each, back to back."""
    durations = dict.fromkeys(ORDER, 0.0) | dict(phases or {})
    build_id = f"{project}:{uuid.UUID(int=hash((project, number)) & (2**128 - 1))}"
    records = []
    t = start
    for phase in ORDER:
        end = t + timedelta(seconds=durations[phase])
        records.append(
            {
                "phaseType": phase,
                "phaseStatus": "SUCCEEDED",
                "startTime": t,
                "endTime": end,
                "durationInSeconds": int(durations[phase]),
                "contexts": [{"statusCode": "", "message": ""}],
            }
        )
        t = end
    records.append({"phaseType": "COMPLETED", "startTime": t})
    environment: dict[str, Any] = {
        "type": environment_type,
        "image": "aws/codebuild/standard:7.0",
        "computeType": compute_type,
        "privilegedMode": privileged,
        "environmentVariables": [],
    }
    if fleet_arn:
        environment["fleet"] = {"fleetArn": fleet_arn}
    return {
        "id": build_id,
        "arn": f"arn:aws:codebuild:{region}:{ACCOUNT}:build/{build_id}",
        "buildNumber": number,
        "startTime": start,
        "endTime": t,
        "currentPhase": "COMPLETED",
        "buildStatus": status,
        "sourceVersion": "refs/heads/main",
        "projectName": project,
        "phases": records,
        "source": {"type": "GITHUB", "location": f"https://github.com/example/{project}"},
        "artifacts": {"location": ""},
        "cache": {"type": cache_type},
        "environment": environment,
        "serviceRole": f"arn:aws:iam::{ACCOUNT}:role/codebuild",
        "logs": {"groupName": f"/aws/codebuild/{project}", "streamName": build_id},
        "timeoutInMinutes": 60,
        "queuedTimeoutInMinutes": 480,
        "buildComplete": True,
        "initiator": "GitHub-Hookshot/abc",
    }


def write_store(
    db: Path,
    builds: Iterable[Mapping[str, Any]],
    metrics: Iterable[tuple[str, str, list[float]]] = (),
) -> Path:
    """Normalise and write builds (and per-build metric series) into a real DuckDB file."""
    batch = NormalisedBatch()
    now = datetime(2025, 6, 1)
    for record in builds:
        batch.add_build(record, origin="aws", now=now)
    for build_arn, metric, values in metrics:
        stamps = [T0 + timedelta(minutes=i) for i in range(len(values))]
        batch.build_metrics.append(
            normalise_metric(build_arn, metric, timestamps=stamps, values=values, period_s=60)
        )
    with connect(db) as con:
        write_batch(con, batch)
    return db
