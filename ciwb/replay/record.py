"""A replay as a boto3-shaped `Build` record, stored through the same path as AWS builds.

Everything downstream reads the same tables whatever the origin
(docs/design.md, "Data flow"): the record
goes through `normalise_build`, its commands come from parsing its own log with the
CloudWatch parser, and reports through `normalise_report` / `normalise_test_case`.
Secret values never reach the store: every string in the record is masked first.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ciwb.codebuild.agent_log import command_rows
from ciwb.codebuild.normalise import (
    NormalisedBatch,
    normalise_build_batch,
    normalise_report,
    normalise_test_case,
)
from ciwb.replay.environment import Masker
from ciwb.replay.runner import PhaseResult

__all__ = ["mask_record", "phase_records", "store_replay"]

# Batch children finish on several threads; one writer at a time within this process.
_WRITE_LOCK = threading.Lock()


def phase_records(phases: Sequence[PhaseResult]) -> list[dict[str, Any]]:
    """API-shaped phases; `durationInSeconds` truncated like AWS's, COMPLETED start only."""
    out = []
    for phase in phases:
        if phase.phase_type == "COMPLETED":
            out.append({"phaseType": "COMPLETED", "startTime": phase.start})
            continue
        item: dict[str, Any] = {
            "phaseType": phase.phase_type,
            "phaseStatus": phase.status,
            "startTime": phase.start,
        }
        if phase.end is not None:
            item["endTime"] = phase.end
            item["durationInSeconds"] = int((phase.end - phase.start).total_seconds())
        item["contexts"] = [
            {"statusCode": phase.context_code or "", "message": phase.context_message or ""}
        ]
        out.append(item)
    return out


def mask_record(value: Any, masker: Masker) -> Any:
    if not masker:
        return value
    if isinstance(value, str):
        return masker(value)
    if isinstance(value, dict):
        return {k: mask_record(v, masker) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_record(v, masker) for v in value]
    return value


def store_replay(
    db: Path | str | None,
    *,
    build: dict[str, Any] | None = None,
    log_path: Path | None = None,
    reports: Sequence[tuple[dict[str, Any], list[dict[str, Any]]]] = (),
    batch: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Write one replayed build (and/or a batch record) to the store; rows per table."""
    from ciwb.store import connect, write_batch

    rows = NormalisedBatch()
    if build is not None:
        rows.add_build(build, origin="replay", now=now)
        if log_path is not None and log_path.exists():
            with log_path.open(encoding="utf-8", errors="replace") as lines:
                rows.build_commands.extend(
                    command_rows(lines, build_arn=build["arn"], source_name="replay")
                )
        for report, cases in reports:
            rows.reports.append(normalise_report(report, origin="replay", now=now))
            rows.test_cases.extend(
                normalise_test_case(case, build_arn=build["arn"]) for case in cases
            )
    if batch is not None:
        row, groups = normalise_build_batch(batch, origin="replay", now=now)
        rows.build_batches.append(row)
        rows.build_batch_groups.extend(groups)
    with _WRITE_LOCK, connect(db) as con:
        return write_batch(con, rows)
