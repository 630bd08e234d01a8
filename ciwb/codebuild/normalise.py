"""Raw CodeBuild records, exactly as boto3 returns them, into store rows.

Rules (docs/design.md, "The store"; docs/reference/codebuild-facts.md, "Build record"):
- phase durations come from timestamps as float seconds; AWS's `durationInSeconds`
  is truncated and kept only as `reported_duration_s`;
- architecture is derived here, once;
- the raw record is kept beside every row as JSON.

Timestamps may arrive as aware datetimes (boto3), naive datetimes (taken as UTC),
ISO-8601 strings or epoch seconds (the AWS CLI's JSON, archives), and are stored as naive UTC.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from ciwb.codebuild.arns import parse_arn, project_of_id
from ciwb.codebuild.build_sql import ARM_ENVIRONMENTS, build_rows_sql, parse_sql, phase_rows_sql
from ciwb.codebuild.clock import to_utc, utcnow
from ciwb.codebuild.records import (
    BatchGroupRow,
    BatchRow,
    BuildRow,
    CommandRow,
    CoverageRow,
    FleetRow,
    MetricRow,
    PhaseRow,
    ProjectRow,
    RawBuild,
    ReportRow,
    TestCaseRow,
)

__all__ = [
    "NormalisedBatch",
    "arch_of",
    "normalise_build",
    "normalise_build_batch",
    "normalise_code_coverage",
    "normalise_fleet",
    "normalise_metric",
    "normalise_project",
    "normalise_report",
    "normalise_test_case",
    "runner_kind_of_project",
]

_ARM_ENVIRONMENTS = frozenset(ARM_ENVIRONMENTS)


def arch_of(environment_type: str | None) -> str:
    """`arm64` for Graviton/Apple-silicon environment types, else `x86_64`."""
    return "arm64" if environment_type in _ARM_ENVIRONMENTS else "x86_64"


_JSON_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS
# OPT_NON_STR_KEYS changes nothing for a dict whose keys are all `str` (every boto3 and CLI
# record) but makes orjson check every key of every dict: a fifth of a Build record's
# serialisation (issue 16). Records are tried without it; orjson refuses a non-str key with
# a TypeError, and only then is the record serialised again with it, so the bytes are the same.
_FAST_OPTIONS = orjson.OPT_NAIVE_UTC


def _json_bytes(record: Mapping[str, Any]) -> bytes:
    """`record` as UTF-8 JSON: naive datetimes as UTC, non-str keys as strings."""
    try:
        return orjson.dumps(record, option=_FAST_OPTIONS)
    except TypeError:
        return orjson.dumps(record, option=_JSON_OPTIONS)


def _json(record: Mapping[str, Any]) -> str:
    return _json_bytes(record).decode()


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


@dataclass
class NormalisedBatch:
    """Rows for one batch of records, ready for `ciwb.store.write_batch`."""

    projects: list[ProjectRow] = field(default_factory=list)
    # Builds arrive raw and are normalised in SQL by the store (build_sql); already
    # normalised rows may be given in `builds` / `build_phases` as well (a `BuildRow` carries
    # its phase facts, as `normalise_build` fills them from the same record as its phases).
    raw_builds: list[RawBuild] = field(default_factory=list)
    builds: list[BuildRow] = field(default_factory=list)
    build_phases: list[PhaseRow] = field(default_factory=list)
    build_commands: list[CommandRow] = field(default_factory=list)
    build_metrics: list[MetricRow] = field(default_factory=list)
    build_batches: list[BatchRow] = field(default_factory=list)
    build_batch_groups: list[BatchGroupRow] = field(default_factory=list)
    reports: list[ReportRow] = field(default_factory=list)
    test_cases: list[TestCaseRow] = field(default_factory=list)
    fleets: list[FleetRow] = field(default_factory=list)

    def extend(self, other: NormalisedBatch) -> None:
        for name in self.__dataclass_fields__:
            getattr(self, name).extend(getattr(other, name))

    def add_build(
        self, record: Mapping[str, Any], *, origin: str, now: datetime | None = None
    ) -> None:
        """Queue one Build record (boto3 shape) for normalisation when the batch is written."""
        raw = _json_bytes(record)  # bytes: see RawBuild
        self.raw_builds.append(RawBuild(record["arn"], raw, origin, now or utcnow()))

    def build_count(self) -> int:
        return len(self.raw_builds) + len(self.builds)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in self.__dataclass_fields__}


def normalise_project(
    record: Mapping[str, Any], *, origin: str = "aws", now: datetime | None = None
) -> ProjectRow:
    arn = record["arn"]
    region, account, _ = parse_arn(arn)
    env = record.get("environment") or {}
    cache = record.get("cache") or {}
    fleet = env.get("fleet") or {}
    return ProjectRow(
        project_arn=arn,
        account_id=account,
        region=region,
        name=record["name"],
        description=record.get("description"),
        source_type=(record.get("source") or {}).get("type"),
        environment_type=env.get("type"),
        compute_type=env.get("computeType"),
        image=env.get("image"),
        arch=arch_of(env.get("type")),
        privileged_mode=env.get("privilegedMode"),
        cache_type=cache.get("type"),
        cache_modes=cache.get("modes"),
        fleet_arn=fleet.get("fleetArn"),
        timeout_minutes=record.get("timeoutInMinutes"),
        created=to_utc(record.get("created")),
        last_modified=to_utc(record.get("lastModified")),
        origin=origin,
        raw=_json(record),
        ingested_at=now or utcnow(),
        runner_kind=runner_kind_of_project(record),
        auto_retry_limit=record.get("autoRetryLimit"),
        cache_namespace=cache.get("cacheNamespace"),
    )


_RUNNER_SOURCES = {
    "GITHUB": "GITHUB_ACTIONS",
    "GITHUB_ENTERPRISE": "GITHUB_ENTERPRISE",
    "GITLAB": "GITLAB",
    "GITLAB_SELF_MANAGED": "GITLAB",
}


def runner_kind_of_project(record: Mapping[str, Any]) -> str | None:
    """A runner project's kind from its webhook, None for an ordinary project.

    A webhook filtering on the WORKFLOW_JOB_QUEUED event runs GitHub Actions / GitLab jobs;
    buildType RUNNER_BUILDKITE_BUILD runs Buildkite jobs (AWS user guide, "Use runners with
    AWS CodeBuild"). Migration 5 applies the same rule in SQL to stored projects.
    """
    webhook = record.get("webhook") or {}
    if webhook.get("buildType") == "RUNNER_BUILDKITE_BUILD":
        return "BUILDKITE"
    patterns = [
        f.get("pattern") or ""
        for group in webhook.get("filterGroups") or ()
        for f in group or ()
        if f.get("type") == "EVENT"
    ]
    if not any("WORKFLOW_JOB_QUEUED" in p for p in patterns):
        return None
    return _RUNNER_SOURCES.get((record.get("source") or {}).get("type") or "", "RUNNER")


def normalise_fleet(
    record: Mapping[str, Any], *, origin: str = "aws", now: datetime | None = None
) -> FleetRow:
    """One BatchGetFleets `Fleet` → a `fleets` row.

    Only the current state exists (no capacity history), so base capacity is the fleet's
    size for analyses; scaling beyond it is recorded but not replayed.
    """
    arn = record["arn"]
    region, account, _ = parse_arn(arn)
    status = record.get("status") or {}
    compute = record.get("computeConfiguration") or {}
    scaling = record.get("scalingConfiguration") or {}
    targets = scaling.get("targetTrackingScalingConfigs") or [{}]
    return FleetRow(
        fleet_arn=arn,
        fleet_id=record.get("id"),
        name=record.get("name") or arn.rsplit("/", 1)[-1].split(":", 1)[0],
        account_id=account,
        region=region,
        status=status.get("statusCode"),
        status_context=status.get("context"),
        base_capacity=record.get("baseCapacity"),
        environment_type=record.get("environmentType"),
        compute_type=record.get("computeType"),
        arch=arch_of(record.get("environmentType")),
        compute_vcpu=compute.get("vCpu"),
        compute_memory_gb=compute.get("memory"),
        compute_disk_gb=compute.get("disk"),
        compute_machine_type=compute.get("machineType"),
        compute_instance_type=compute.get("instanceType"),
        scaling_type=scaling.get("scalingType"),
        max_capacity=scaling.get("maxCapacity"),
        desired_capacity=scaling.get("desiredCapacity"),
        target_utilisation=targets[0].get("targetValue"),
        overflow_behavior=record.get("overflowBehavior"),
        image_id=record.get("imageId"),
        created=to_utc(record.get("created")),
        last_modified=to_utc(record.get("lastModified")),
        origin=origin,
        raw=_json(record),
        ingested_at=now or utcnow(),
    )


_local = threading.local()


def _scratch() -> duckdb.DuckDBPyConnection:
    """A per-thread in-memory DuckDB for normalising single records with the bulk SQL."""
    con = getattr(_local, "con", None)
    if con is None:
        con = _local.con = duckdb.connect()
    return con


def normalise_build(
    record: Mapping[str, Any], *, origin: str = "aws", now: datetime | None = None
) -> tuple[BuildRow, list[PhaseRow]]:
    """One `Build` → its `builds` row and its `build_phases` rows (the store's own SQL)."""
    con = _scratch()
    source = pa.table(
        {
            "raw": pa.array([_json(record)], pa.string()),
            "origin": pa.array([origin], pa.string()),
            "ingested_at": pa.array([now or utcnow()], pa.timestamp("us")),
        }
    )
    con.register("_one_build", source)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _one_parsed AS {parse_sql('_one_build')}")
        build = BuildRow(*con.execute(build_rows_sql("_one_parsed")).fetchall()[0])
        phases = [
            PhaseRow(*row)
            for row in con.execute(phase_rows_sql("_one_parsed") + " ORDER BY seq").fetchall()
        ]
    finally:
        con.unregister("_one_build")
    return build, phases


def normalise_build_batch(
    record: Mapping[str, Any], *, origin: str = "aws", now: datetime | None = None
) -> tuple[BatchRow, list[BatchGroupRow]]:
    arn = record["arn"]
    region, account, _ = parse_arn(arn)
    env = record.get("environment") or {}
    start = to_utc(record.get("startTime"))
    end = to_utc(record.get("endTime"))
    groups = [
        BatchGroupRow(
            batch_arn=arn,
            identifier=group.get("identifier") or "",
            depends_on=list(group.get("dependsOn") or ()),
            ignore_failure=group.get("ignoreFailure"),
            build_arn=(group.get("currentBuildSummary") or {}).get("arn"),
            build_status=(group.get("currentBuildSummary") or {}).get("buildStatus"),
        )
        for group in record.get("buildGroups") or ()
    ]
    row = BatchRow(
        batch_arn=arn,
        batch_id=record["id"],
        account_id=account,
        region=region,
        project_name=record.get("projectName") or project_of_id(record["id"]),
        batch_number=record.get("buildBatchNumber"),
        origin=origin,
        status=record.get("buildBatchStatus") or "IN_PROGRESS",
        current_phase=record.get("currentPhase"),
        complete=bool(record.get("complete")),
        start_time=start,
        end_time=end,
        total_s=_seconds(start, end),
        source_version=record.get("sourceVersion"),
        environment_type=env.get("type"),
        compute_type=env.get("computeType"),
        arch=arch_of(env.get("type")) if env else None,
        raw=_json(record),
        ingested_at=now or utcnow(),
    )
    return row, groups


def normalise_report(
    record: Mapping[str, Any], *, origin: str = "aws", now: datetime | None = None
) -> ReportRow:
    arn = record["arn"]
    region, account, _ = parse_arn(arn)
    summary = record.get("testSummary") or {}
    counts = summary.get("statusCounts") or {}
    coverage = record.get("codeCoverageSummary") or {}
    total = summary.get("total")
    succeeded = counts.get("SUCCEEDED")
    failed = counts.get("FAILED")
    other = None
    if total is not None:
        other = total - (succeeded or 0) - (failed or 0)
    duration_ns = summary.get("durationInNanoSeconds")
    return ReportRow(
        report_arn=arn,
        report_group_arn=record.get("reportGroupArn"),
        report_type=record.get("type"),
        name=record.get("name"),
        status=record.get("status"),
        build_arn=record.get("executionId"),
        created=to_utc(record.get("created")),
        account_id=account,
        region=region,
        origin=origin,
        tests_total=total,
        tests_succeeded=succeeded,
        tests_failed=failed,
        tests_other=other,
        test_duration_s=duration_ns / 1e9 if duration_ns is not None else None,
        line_coverage_pct=coverage.get("lineCoveragePercentage"),
        branch_coverage_pct=coverage.get("branchCoveragePercentage"),
        raw=_json(record),
        ingested_at=now or utcnow(),
    )


def normalise_test_case(record: Mapping[str, Any], *, build_arn: str | None = None) -> TestCaseRow:
    """A `TestCase`; the key hashes where it came from and its full name, since AWS gives none."""
    suite = record.get("testSuiteName")
    prefix = record.get("prefix")
    name = record.get("name") or ""
    path = record.get("testRawDataPath")
    key = hashlib.sha1(
        "\x1f".join(part or "" for part in (path, suite, prefix, name)).encode()
    ).hexdigest()
    duration_ns = record.get("durationInNanoSeconds")
    return TestCaseRow(
        report_arn=record["reportArn"],
        test_case_key=key,
        build_arn=build_arn,
        test_suite_name=suite,
        prefix=prefix,
        name=name,
        status=record.get("status"),
        duration_s=duration_ns / 1e9 if duration_ns is not None else None,
        message=record.get("message"),
        test_raw_data_path=path,
        expired=to_utc(record.get("expired")),
        raw=_json(record),
    )


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    # Linear interpolation between closest ranks, as numpy's default percentile.
    pos = 0.95 * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def normalise_metric(
    build_arn: str,
    metric_name: str,
    *,
    timestamps: Iterable[Any],
    values: Iterable[float],
    period_s: int | None,
) -> MetricRow:
    """One GetMetricData result series for one build → min, mean, max, p95 and the series."""
    pairs = sorted((to_utc(ts), float(v)) for ts, v in zip(timestamps, values, strict=True))
    series_ts = [ts for ts, _ in pairs]
    series_values = [v for _, v in pairs]
    if not series_values:
        return MetricRow(build_arn, metric_name, period_s, 0, None, None, None, None, [], [])
    return MetricRow(
        build_arn,
        metric_name,
        period_s,
        len(series_values),
        min(series_values),
        sum(series_values) / len(series_values),
        max(series_values),
        _p95(series_values),
        series_ts,
        series_values,
    )


def normalise_code_coverage(record: Mapping[str, Any]) -> CoverageRow:
    """One `CodeCoverage` (DescribeCodeCoverages) → a `code_coverages` row."""
    return CoverageRow(
        report_arn=record["reportARN"],
        file_path=record.get("filePath") or "",
        line_coverage_pct=record.get("lineCoveragePercentage"),
        lines_covered=record.get("linesCovered"),
        lines_missed=record.get("linesMissed"),
        branch_coverage_pct=record.get("branchCoveragePercentage"),
        branches_covered=record.get("branchesCovered"),
        branches_missed=record.get("branchesMissed"),
        expired=to_utc(record.get("expired")),
        raw=_json(record),
    )
