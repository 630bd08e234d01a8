"""Tiny stores built the way collect builds them: boto3-shaped records → normalise → write."""

from __future__ import annotations

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
from support.aws import ACCOUNT, REGION
from support.builds import PhaseSpec, build_record


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

    def build(
        self,
        project: str,
        start: datetime,
        phases: Sequence[PhaseSpec],
        *,
        source_version: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """A completed build of exactly `phases`; no source version unless given (flaky
        detection reads the resolved one, which is the same here)."""
        record = build_record(
            project,
            start=start,
            phases=phases,
            source_version=source_version,
            resolved_source_version=source_version,
            **kwargs,
        )
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
