"""Row types for the store: one NamedTuple per table, field names equal to column names.

NamedTuples keep normalisation fast (hundreds of thousands of builds) while staying typed
records rather than loose dicts.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

__all__ = [
    "BatchGroupRow",
    "BatchRow",
    "BuildRow",
    "CommandRow",
    "CoverageRow",
    "CursorRow",
    "FleetRow",
    "LogReadRow",
    "MetricRow",
    "PhaseRow",
    "ProjectRow",
    "RawBuild",
    "ReportRow",
    "RunRow",
    "TestCaseRow",
]


class ProjectRow(NamedTuple):
    project_arn: str
    account_id: str
    region: str
    name: str
    description: str | None
    source_type: str | None
    environment_type: str | None
    compute_type: str | None
    image: str | None
    arch: str
    privileged_mode: bool | None
    cache_type: str | None
    cache_modes: list[str] | None
    fleet_arn: str | None
    timeout_minutes: int | None
    created: datetime | None
    last_modified: datetime | None
    origin: str
    raw: str
    ingested_at: datetime
    runner_kind: str | None = None  # migration 5: from the webhook
    auto_retry_limit: int | None = None
    cache_namespace: str | None = None


class BuildRow(NamedTuple):
    build_arn: str
    build_id: str
    account_id: str
    region: str
    project_name: str
    build_number: int | None
    origin: str
    status: str
    current_phase: str | None
    build_complete: bool
    start_time: datetime | None
    end_time: datetime | None
    total_s: float | None
    source_version: str | None
    resolved_source_version: str | None
    initiator: str | None
    environment_type: str | None
    compute_type: str | None
    image: str | None
    arch: str
    fleet_arn: str | None
    privileged_mode: bool | None
    cache_type: str | None
    timeout_minutes: int | None
    queued_timeout_minutes: int | None
    log_group: str | None
    log_stream: str | None
    build_batch_arn: str | None
    report_arns: list[str] | None
    exported_variables: str | None
    raw: str
    ingested_at: datetime
    # Migration 5 (issue 14): appended, so older positional rows stay valid.
    auto_retry_number: int | None = None
    auto_retry_limit: int | None = None
    previous_auto_retry: str | None = None
    next_auto_retry: str | None = None
    source_type: str | None = None
    runner_kind: str | None = None
    runner_label: str | None = None
    runner_run_id: str | None = None
    runner_job_id: str | None = None
    runner_workflow: str | None = None
    compute_vcpu: int | None = None
    compute_memory_gb: int | None = None
    compute_disk_gb: int | None = None
    compute_machine_type: str | None = None
    compute_instance_type: str | None = None
    docker_server_compute_type: str | None = None
    docker_server_status: str | None = None
    cache_namespace: str | None = None
    host_kernel: str | None = None
    # Migration 8 (issue 16): the build's phase facts, from the same record as its phases.
    submitted_s: float | None = None
    queued_s: float | None = None
    provisioning_s: float | None = None
    download_source_s: float | None = None
    install_s: float | None = None
    pre_build_s: float | None = None
    build_s: float | None = None
    post_build_s: float | None = None
    upload_artifacts_s: float | None = None
    finalizing_s: float | None = None
    failed_phase: str | None = None
    failed_context_code: str | None = None


class FleetRow(NamedTuple):
    """A reserved-capacity fleet (BatchGetFleets `Fleet`); compute memory/disk in GB."""

    fleet_arn: str
    fleet_id: str | None
    name: str
    account_id: str
    region: str
    status: str | None
    status_context: str | None
    base_capacity: int | None
    environment_type: str | None
    compute_type: str | None
    arch: str
    compute_vcpu: int | None
    compute_memory_gb: int | None
    compute_disk_gb: int | None
    compute_machine_type: str | None
    compute_instance_type: str | None
    scaling_type: str | None
    max_capacity: int | None
    desired_capacity: int | None
    target_utilisation: float | None
    overflow_behavior: str | None
    image_id: str | None
    created: datetime | None
    last_modified: datetime | None
    origin: str
    raw: str
    ingested_at: datetime


class RawBuild(NamedTuple):
    """A Build record serialised as JSON, awaiting normalisation in SQL (see build_sql).

    `raw` is the UTF-8 JSON as orjson writes it: bytes go into Arrow ~10x faster than the
    same text as `str` (no re-encoding), and ingest pays that once per build.
    """

    arn: str
    raw: bytes
    origin: str
    ingested_at: datetime


class PhaseRow(NamedTuple):
    build_arn: str
    seq: int
    phase_type: str
    status: str | None
    start_time: datetime | None
    end_time: datetime | None
    duration_s: float | None
    reported_duration_s: int | None
    context_code: str | None
    context_message: str | None


class CommandRow(NamedTuple):
    build_arn: str
    seq: int
    phase_type: str | None
    command: str
    start_time: datetime | None
    end_time: datetime | None
    duration_s: float | None
    exit_status: int | None
    source: str


class MetricRow(NamedTuple):
    build_arn: str
    metric_name: str
    period_s: int | None
    points: int
    min_value: float | None
    mean_value: float | None
    max_value: float | None
    p95_value: float | None
    series_ts: list[datetime]
    series_values: list[float]


class BatchRow(NamedTuple):
    batch_arn: str
    batch_id: str
    account_id: str
    region: str
    project_name: str
    batch_number: int | None
    origin: str
    status: str
    current_phase: str | None
    complete: bool
    start_time: datetime | None
    end_time: datetime | None
    total_s: float | None
    source_version: str | None
    environment_type: str | None
    compute_type: str | None
    arch: str | None
    raw: str
    ingested_at: datetime


class BatchGroupRow(NamedTuple):
    batch_arn: str
    identifier: str
    depends_on: list[str]
    ignore_failure: bool | None
    build_arn: str | None
    build_status: str | None


class ReportRow(NamedTuple):
    report_arn: str
    report_group_arn: str | None
    report_type: str | None
    name: str | None
    status: str | None
    build_arn: str | None
    created: datetime | None
    account_id: str | None
    region: str | None
    origin: str
    tests_total: int | None
    tests_succeeded: int | None
    tests_failed: int | None
    tests_other: int | None
    test_duration_s: float | None
    line_coverage_pct: float | None
    branch_coverage_pct: float | None
    raw: str
    ingested_at: datetime


class TestCaseRow(NamedTuple):
    __test__ = False  # not a pytest class, despite the name

    report_arn: str
    test_case_key: str
    build_arn: str | None
    test_suite_name: str | None
    prefix: str | None
    name: str
    status: str | None
    duration_s: float | None
    message: str | None
    test_raw_data_path: str | None
    expired: datetime | None
    raw: str


class CursorRow(NamedTuple):
    account_id: str
    region: str
    project_name: str
    newest_build_id: str | None
    newest_start_time: datetime | None
    in_progress_ids: list[str]
    updated_at: datetime
    # How far back this project's history is complete: a later run with an earlier --since
    # backfills instead of stopping at the cursor (migration 3).
    covered_since: datetime | None = None


class CoverageRow(NamedTuple):
    report_arn: str
    file_path: str
    line_coverage_pct: float | None
    lines_covered: int | None
    lines_missed: int | None
    branch_coverage_pct: float | None
    branches_covered: int | None
    branches_missed: int | None
    expired: datetime | None
    raw: str


class LogReadRow(NamedTuple):
    build_arn: str
    log_group: str | None
    log_stream: str | None
    events: int
    bytes: int
    truncated: bool
    commands: int
    read_at: datetime


class RunRow(NamedTuple):
    run_id: str
    started_at: datetime
    ended_at: datetime | None
    status: str
    source: str
    accounts: list[str]
    regions: list[str]
    api_calls: str
    rows_written: str
    errors: str
    skipped: str
    args: str
