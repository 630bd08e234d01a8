"""Tiny stores built the way collect builds them: boto3-shaped records → normalise → write."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ciwb.codebuild.normalise import (
    NormalisedBatch,
    normalise_build_batch,
    normalise_report,
    normalise_test_case,
)
from ciwb.codebuild.records import CommandRow
from ciwb.store import connect, write_batch

ACCOUNT = "123456789012"
REGION = "us-east-1"
_numbers = itertools.count(1)

# (phase type, seconds) or (phase type, seconds, status, context code, context message)
PhaseSpec = tuple[Any, ...]


def build_record(
    project: str,
    start: datetime,
    phases: Sequence[PhaseSpec],
    *,
    status: str = "SUCCEEDED",
    source_version: str | None = None,
    cache_type: str = "NO_CACHE",
    env_type: str = "LINUX_CONTAINER",
    compute_type: str = "BUILD_GENERAL1_SMALL",
    batch_arn: str | None = None,
    region: str = REGION,
) -> dict[str, Any]:
    """A `Build` as BatchGetBuilds returns it (the fields ciwb reads)."""
    build_id = f"{project}:{uuid.uuid4()}"
    arn = f"arn:aws:codebuild:{region}:{ACCOUNT}:build/{build_id}"
    t = start
    records = []
    for spec in phases:
        phase_type, seconds, *rest = spec
        phase_status = rest[0] if rest else "SUCCEEDED"
        code = rest[1] if len(rest) > 1 else ""
        message = rest[2] if len(rest) > 2 else ""
        end = t + timedelta(seconds=seconds)
        records.append(
            {
                "phaseType": phase_type,
                "phaseStatus": phase_status,
                "startTime": t,
                "endTime": end,
                "durationInSeconds": int(seconds),
                "contexts": [{"statusCode": code, "message": message}],
            }
        )
        t = end
    records.append({"phaseType": "COMPLETED", "startTime": t})
    record: dict[str, Any] = {
        "id": build_id,
        "arn": arn,
        "buildNumber": next(_numbers),
        "startTime": start,
        "endTime": t,
        "currentPhase": "COMPLETED",
        "buildStatus": status,
        "projectName": project,
        "phases": records,
        "buildComplete": True,
        "sourceVersion": source_version,
        "resolvedSourceVersion": source_version,
        "environment": {"type": env_type, "computeType": compute_type, "image": "img"},
        "cache": {"type": cache_type},
    }
    if batch_arn:
        record["buildBatchArn"] = batch_arn
    return record


def simple_phases(
    build_s: float, *, install_s: float = 10.0, queued_s: float = 2.0, download_s: float = 3.0
) -> list[PhaseSpec]:
    return [
        ("SUBMITTED", 0.5),
        ("QUEUED", queued_s),
        ("PROVISIONING", 20.0),
        ("DOWNLOAD_SOURCE", download_s),
        ("INSTALL", install_s),
        ("PRE_BUILD", 1.0),
        ("BUILD", build_s),
        ("POST_BUILD", 1.0),
        ("UPLOAD_ARTIFACTS", 1.0),
        ("FINALIZING", 0.5),
    ]


class StoreBuilder:
    """Collects records and writes them into a real DuckDB file in one batch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.batch = NormalisedBatch()
        self.now = datetime(2026, 1, 1)

    phases = staticmethod(simple_phases)

    def build(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        record = build_record(*args, **kwargs)
        self.batch.add_build(record, origin="aws", now=self.now)
        return record

    def commands(self, build: dict[str, Any], commands: Sequence[tuple[str, str, float, int]]):
        t = build["startTime"]
        for seq, (phase, command, seconds, exit_status) in enumerate(commands):
            end = t + timedelta(seconds=seconds)
            self.batch.build_commands.append(
                CommandRow(build["arn"], seq, phase, command, t, end, seconds, exit_status, "log")
            )
            t = end

    def tests(self, build: dict[str, Any], cases: Sequence[tuple[str, str, str]]) -> None:
        """`cases`: (suite, name, status) for one report attached to `build`."""
        report_arn = f"arn:aws:codebuild:{REGION}:{ACCOUNT}:report/unit:{uuid.uuid4()}"
        self.batch.reports.append(
            normalise_report(
                {
                    "arn": report_arn,
                    "type": "TEST",
                    "executionId": build["arn"],
                    "created": build["endTime"],
                    "testSummary": {"total": len(cases)},
                },
                now=self.now,
            )
        )
        for suite, name, status in cases:
            self.batch.test_cases.append(
                normalise_test_case(
                    {
                        "reportArn": report_arn,
                        "testSuiteName": suite,
                        "name": name,
                        "status": status,
                        "durationInNanoSeconds": 1_000_000,
                    },
                )
            )

    def batch_build(
        self, project: str, start: datetime, graph: dict[str, tuple[list[str], float, float]]
    ) -> str:
        """`graph`: identifier → (depends_on, child start offset s, child duration s)."""
        batch_id = f"{project}:{uuid.uuid4()}"
        batch_arn = f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build-batch/{batch_id}"
        groups = []
        end = start
        for ident, (deps, offset, seconds) in graph.items():
            child = self.build(
                project,
                start + timedelta(seconds=offset),
                [("BUILD", seconds)],
                batch_arn=batch_arn,
            )
            end = max(end, child["endTime"])
            groups.append(
                {
                    "identifier": ident,
                    "dependsOn": deps,
                    "currentBuildSummary": {"arn": child["arn"], "buildStatus": "SUCCEEDED"},
                }
            )
        row, group_rows = normalise_build_batch(
            {
                "id": batch_id,
                "arn": batch_arn,
                "projectName": project,
                "buildBatchStatus": "SUCCEEDED",
                "complete": True,
                "startTime": start,
                "endTime": end,
                "buildGroups": groups,
            },
            now=self.now,
        )
        self.batch.build_batches.append(row)
        self.batch.build_batch_groups.extend(group_rows)
        return batch_arn

    def write(self) -> Path:
        with connect(self.path) as con:
            write_batch(con, self.batch)
        self.batch = NormalisedBatch()
        return self.path


@pytest.fixture
def store(tmp_path: Path) -> StoreBuilder:
    return StoreBuilder(tmp_path / "small.duckdb")


@pytest.fixture
def day() -> Callable[[int, int], datetime]:
    base = datetime(2026, 3, 2)  # a Monday

    def at(days: int, minutes: int = 0) -> datetime:
        return base + timedelta(days=days, minutes=minutes)

    return at
