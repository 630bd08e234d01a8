"""CodeBuild records in boto3's shapes: one Build builder, one Project builder.

Records are the `BatchGetBuilds` / `BatchGetProjects` shapes (see
docs/reference/codebuild-facts.md, "Build record") and travel the real path: seeded into moto,
or `ciwb.codebuild.normalise` → `ciwb.store.write_batch` (support.stores).

A build's phases are given one of three ways:

- a mapping `{phase: seconds}`: every timed phase (SUBMITTED … FINALIZING) back to back, the
  ones not named lasting 0 s, all SUCCEEDED (the cost tests' hand-checkable durations);
- a sequence of `PhaseSpec` tuples: exactly those phases, each with its own status and
  context (the analytics tests' failures);
- nothing, with `rng`: every timed phase with a realistic random duration, BUILD failing
  with a command error when `status` is FAILED (the collect tests' histories). Without `rng`,
  every timed phase lasts 0 s.

`rng` also draws the build's UUID and resolved commit, so two calls with equal seeds describe
the same build (an in-progress read and its completed re-read). Without `rng` the UUID follows
from (project, number), stable across runs whatever PYTHONHASHSEED is.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ciwb.codebuild.phases import TIMED_PHASES
from support.aws import ACCOUNT, REGION

__all__ = ["T0", "PhaseSpec", "build_record", "project_record"]

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday morning
IMAGE = "aws/codebuild/standard:7.0"

# (phase type, seconds) or (phase type, seconds, status, context code, context message)
PhaseSpec = tuple[Any, ...]

_numbers = itertools.count(1)  # build numbers for callers that do not care which
_FAILED_COMMAND = "Error while executing command: make test. Reason: exit status 2"


def _random_phases(rng: random.Random, status: str) -> list[PhaseSpec]:
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
    return [
        (phase, seconds, "FAILED", "COMMAND_EXECUTION_ERROR", _FAILED_COMMAND)
        if status == "FAILED" and phase == "BUILD"
        else (phase, seconds)
        for phase, seconds in durations.items()
    ]


def _phase_specs(
    phases: Mapping[str, float] | Sequence[PhaseSpec] | None,
    rng: random.Random | None,
    status: str,
) -> list[PhaseSpec]:
    if phases is None and rng is not None:
        return _random_phases(rng, status)
    if phases is None or isinstance(phases, Mapping):
        seconds = dict(phases or {})
        return [(phase, seconds.get(phase, 0.0)) for phase in TIMED_PHASES]
    return list(phases)


def build_record(
    project: str,
    number: int | None = None,
    start: datetime = T0,
    *,
    phases: Mapping[str, float] | Sequence[PhaseSpec] | None = None,
    rng: random.Random | None = None,
    status: str = "SUCCEEDED",
    complete: bool = True,
    environment_type: str = "LINUX_CONTAINER",
    compute_type: str = "BUILD_GENERAL1_SMALL",
    image: str = IMAGE,
    privileged: bool = False,
    fleet_arn: str | None = None,
    cache_type: str = "NO_CACHE",
    cache_modes: Sequence[str] = (),
    source_version: str | None = "refs/heads/main",
    resolved_source_version: str | None = None,
    batch_arn: str | None = None,
    region: str = REGION,
    log_group: str | None = None,
) -> dict[str, Any]:
    """One Build as BatchGetBuilds returns it; `number` None takes the next free number.

    `complete=False`: the build is still running in BUILD (no end time, no COMPLETED phase).
    """
    number = next(_numbers) if number is None else number
    if rng is not None:
        build_uuid = str(uuid.UUID(int=rng.getrandbits(128)))
    else:
        build_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"ciwb-test-build/{project}/{number}"))
    build_id = f"{project}:{build_uuid}"
    specs = _phase_specs(phases, rng, status)
    if rng is not None:
        drawn = f"{rng.getrandbits(160):040x}"
        resolved_source_version = resolved_source_version or drawn

    records: list[dict[str, Any]] = []
    current = "COMPLETED"
    t = start
    for phase_type, seconds, *rest in specs:
        if not complete and phase_type == "BUILD":
            records.append({"phaseType": "BUILD", "phaseStatus": "IN_PROGRESS", "startTime": t})
            current = "BUILD"
            break
        end = t + timedelta(seconds=seconds)
        entry: dict[str, Any] = {
            "phaseType": phase_type,
            "phaseStatus": rest[0] if rest else "SUCCEEDED",
            "startTime": t,
            "endTime": end,
            "durationInSeconds": int(seconds),
        }
        if phase_type != "SUBMITTED":  # AWS reports no contexts for SUBMITTED
            code = rest[1] if len(rest) > 1 else ""
            message = rest[2] if len(rest) > 2 else ""
            entry["contexts"] = [{"statusCode": code, "message": message}]
        records.append(entry)
        t = end
    if complete:
        records.append({"phaseType": "COMPLETED", "startTime": t})

    environment: dict[str, Any] = {
        "type": environment_type,
        "image": image,
        "computeType": compute_type,
        "environmentVariables": [],
        "privilegedMode": privileged,
    }
    if fleet_arn:
        environment["fleet"] = {"fleetArn": fleet_arn}
    cache: dict[str, Any] = {"type": cache_type}
    if cache_modes:
        cache["modes"] = list(cache_modes)
    record: dict[str, Any] = {
        "id": build_id,
        "arn": f"arn:aws:codebuild:{region}:{ACCOUNT}:build/{build_id}",
        "buildNumber": number,
        "startTime": start,
        "currentPhase": current,
        "buildStatus": status if complete else "IN_PROGRESS",
        "sourceVersion": source_version,
        "projectName": project,
        "phases": records,
        "source": {"type": "GITHUB", "location": f"https://github.com/example/{project}.git"},
        "artifacts": {"location": ""},
        "cache": cache,
        "environment": environment,
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
    if resolved_source_version is not None:
        record["resolvedSourceVersion"] = resolved_source_version
    if complete:
        record["endTime"] = t
    if batch_arn:
        record["buildBatchArn"] = batch_arn
    return record


def project_record(name: str, *, arm: bool = False, region: str = REGION) -> dict[str, Any]:
    """One Project as BatchGetProjects returns it."""
    env_type = "ARM_CONTAINER" if arm else "LINUX_CONTAINER"
    return {
        "name": name,
        "arn": f"arn:aws:codebuild:{region}:{ACCOUNT}:project/{name}",
        "description": f"{name} service",
        "source": {"type": "GITHUB", "location": f"https://github.com/example/{name}.git"},
        "artifacts": {"type": "NO_ARTIFACTS"},
        "environment": {
            "type": env_type,
            "image": "aws/codebuild/amazonlinux2-aarch64-standard:3.0" if arm else IMAGE,
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
