"""The per-region stages after builds: projects, build batches, reports, metrics, logs.

Each stage reads what the store already holds, asks AWS only for the rest, and writes
each unit of work (a BatchGet* chunk, a report with its test cases, a GetMetricData
request, a build's log) in one transaction, so an interrupted stage resumes cleanly.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from ciwb.codebuild.arns import resource_name
from ciwb.codebuild.normalise import (
    NormalisedBatch,
    normalise_build_batch,
    normalise_code_coverage,
    normalise_metric,
    normalise_project,
    normalise_report,
    normalise_test_case,
)
from ciwb.codebuild.records import CommandRow, LogReadRow
from ciwb.collect.aws import is_access_denied
from ciwb.collect.incremental import Skip
from ciwb.collect.logs import LogParser, LogReadStats, stream_log_events
from ciwb.collect.metrics import (
    BUILD_METRICS,
    METRIC_DELAY,
    MIN_BUILD_SECONDS,
    MetricPair,
    period_for_age,
    plan_requests,
)
from ciwb.collect.sources import live
from ciwb.store import connect

__all__ = [
    "collect_build_batches",
    "collect_logs",
    "collect_metrics",
    "collect_projects",
    "collect_reports",
    "pending_metric_pairs",
    "select_projects",
]

Writer = Callable[[NormalisedBatch, Mapping[str, Sequence[NamedTuple]]], None]
_REPORT_UNFINISHED = ("GENERATING", "INCOMPLETE")


def _skip(account: str, region: str, target: str, operation: str, exc: Exception) -> Skip:
    error = getattr(exc, "response", {}).get("Error", {})
    return Skip(
        account,
        region,
        target,
        operation,
        error.get("Code", type(exc).__name__),
        error.get("Message", str(exc)),
    )


def select_projects(names: Sequence[str], patterns: Sequence[str]) -> list[str]:
    """Names matching any glob (all names when no pattern is given), in listed order."""
    if not patterns:
        return list(names)
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


def collect_projects(
    client: Any, patterns: Sequence[str], write: Writer, now: datetime
) -> list[str]:
    """ListProjects → BatchGetProjects (≤ 100 names a call) → `projects`; returns names."""
    names = select_projects(live.list_project_names(client), patterns)
    for part in live.chunks(names):
        batch = NormalisedBatch()
        batch.projects.extend(
            normalise_project(r, now=now) for r in live.get_projects(client, part)
        )
        write(batch, {})
    return names


def collect_build_batches(
    client: Any,
    db: Any,
    account: str,
    region: str,
    projects: Sequence[str],
    write: Writer,
    now: datetime,
) -> list[Skip]:
    """ListBuildBatchesForProject → BatchGetBuildBatches for batches not held complete."""
    with connect(db) as con:
        complete = {
            r[0]
            for r in con.execute(
                "SELECT batch_id FROM build_batches WHERE complete AND account_id = ?"
                " AND region = ?",
                [account, region],
            ).fetchall()
        }
    skips: list[Skip] = []
    for project in projects:
        try:
            wanted = [i for i in live.list_build_batch_ids(client, project) if i not in complete]
            for part in live.chunks(wanted):
                batch = NormalisedBatch()
                for record in live.get_build_batches(client, part):
                    row, groups = normalise_build_batch(record, now=now)
                    batch.build_batches.append(row)
                    batch.build_batch_groups.extend(groups)
                write(batch, {})
        except Exception as exc:
            if not is_access_denied(exc):
                raise
            skips.append(_skip(account, region, project, "ListBuildBatchesForProject", exc))
    return skips


def _group_matches(group_arn: str, projects: Sequence[str], all_projects: bool) -> bool:
    # Buildspec-defined report groups are named `<project>-<group>`; with a --project
    # filter only those groups are read.
    if all_projects:
        return True
    name = resource_name(group_arn)
    return any(name.startswith(project + "-") for project in projects)


def collect_reports(
    client: Any,
    db: Any,
    account: str,
    region: str,
    projects: Sequence[str],
    all_projects: bool,
    write: Writer,
    now: datetime,
) -> list[Skip]:
    """Report groups → ListReportsForReportGroup → BatchGetReports → DescribeTestCases and
    DescribeCodeCoverages; one transaction per report with its test cases and coverage."""
    with connect(db) as con:
        finished = {
            r[0]
            for r in con.execute(
                "SELECT report_arn FROM reports WHERE account_id = ? AND region = ?"
                " AND status NOT IN ('GENERATING', 'INCOMPLETE')",
                [account, region],
            ).fetchall()
        }
    skips: list[Skip] = []
    try:
        groups = [
            g
            for g in live.list_report_group_arns(client)
            if _group_matches(g, projects, all_projects)
        ]
    except Exception as exc:
        if not is_access_denied(exc):
            raise
        return [_skip(account, region, "report groups", "ListReportGroups", exc)]
    for group in groups:
        try:
            wanted = [a for a in live.list_report_arns(client, group) if a not in finished]
            for part in live.chunks(wanted):
                for record in live.get_reports(client, part):
                    batch = NormalisedBatch()
                    report = normalise_report(record, now=now)
                    batch.reports.append(report)
                    coverages = []
                    if record.get("status") not in _REPORT_UNFINISHED:
                        if record.get("type") == "CODE_COVERAGE":
                            coverages = [
                                normalise_code_coverage(c)
                                for c in live.describe_code_coverages(client, record["arn"])
                            ]
                        else:
                            batch.test_cases.extend(
                                normalise_test_case(t, build_arn=report.build_arn)
                                for t in live.describe_test_cases(client, record["arn"])
                            )
                    write(batch, {"code_coverages": coverages} if coverages else {})
        except Exception as exc:
            if not is_access_denied(exc):
                raise
            skips.append(_skip(account, region, group, "ListReportsForReportGroup", exc))
    return skips


def pending_metric_pairs(
    db: Any,
    account: str,
    region: str,
    projects: Sequence[str],
    since: datetime | None,
    now: datetime,
) -> list[MetricPair]:
    """(build, metric) pairs not yet in `build_metrics` for complete builds ≥ 1 minute."""
    values = ", ".join(f"('{m}')" for m in BUILD_METRICS)
    with connect(db) as con:
        rows = con.execute(
            f"""
            SELECT b.build_arn, b.build_id, b.build_number, b.project_name, m.name,
                   b.start_time, b.end_time
            FROM builds b CROSS JOIN (VALUES {values}) m(name)
            WHERE b.account_id = ? AND b.region = ? AND b.build_complete
              AND b.total_s >= ? AND b.end_time <= ?
              AND (? IS NULL OR b.start_time >= ?)
              AND list_contains(?, b.project_name)
              AND NOT EXISTS (SELECT 1 FROM build_metrics x
                              WHERE x.build_arn = b.build_arn AND x.metric_name = m.name)
            """,
            [account, region, MIN_BUILD_SECONDS, now - METRIC_DELAY, since, since, list(projects)],
        ).fetchall()
    pairs = []
    for arn, build_id, number, project, metric, start, end in rows:
        period = period_for_age(start, now)
        if period is not None:
            pairs.append(MetricPair(arn, build_id, number, project, metric, start, end, period))
    return pairs


def collect_metrics(
    client: Any,
    pairs: Sequence[MetricPair],
    write: Writer,
    on_request: Callable[[int], None] = lambda n: None,
) -> int:
    """GetMetricData, 500 queries a request; each request's rows in one transaction."""
    requests = 0
    for request in plan_requests(pairs):
        series = live.get_metric_data(client, request.queries, request.start, request.end)
        batch = NormalisedBatch()
        for query, pair in zip(request.queries, request.pairs, strict=True):
            timestamps, values = series.get(query["Id"], ([], []))
            batch.build_metrics.append(
                normalise_metric(
                    pair.build_arn,
                    pair.metric_name,
                    timestamps=timestamps,
                    values=values,
                    period_s=pair.period,
                )
            )
        write(batch, {})
        requests += 1
        on_request(len(request.pairs))
    return requests


def collect_logs(
    client: Any,
    db: Any,
    account: str,
    region: str,
    projects: Sequence[str],
    since: datetime | None,
    parser: Callable[[str, Any], list[CommandRow]],
    cap_bytes: int,
    write: Writer,
    now: datetime,
) -> int:
    """Each complete build's log not yet read → `build_commands` + a `build_log_reads` row."""
    with connect(db) as con:
        builds = con.execute(
            """
            SELECT b.build_arn, b.log_group, b.log_stream FROM builds b
            WHERE b.account_id = ? AND b.region = ? AND b.build_complete
              AND b.log_group IS NOT NULL AND b.log_stream IS NOT NULL
              AND (? IS NULL OR b.start_time >= ?) AND list_contains(?, b.project_name)
              AND NOT EXISTS (SELECT 1 FROM build_log_reads r WHERE r.build_arn = b.build_arn)
            ORDER BY b.start_time
            """,
            [account, region, since, since, list(projects)],
        ).fetchall()
    for arn, group, stream in builds:
        stats = LogReadStats()
        try:
            events = stream_log_events(client, group, stream, cap_bytes=cap_bytes, stats=stats)
            commands = parser(arn, events)
        except Exception as exc:
            # A stream that expired or was never written: record the read, with nothing.
            if getattr(exc, "response", {}).get("Error", {}).get("Code") != (
                "ResourceNotFoundException"
            ):
                raise
            commands = []
        batch = NormalisedBatch()
        batch.build_commands.extend(commands)
        read = LogReadRow(
            arn, group, stream, stats.events, stats.bytes, stats.truncated, len(commands), now
        )
        write(batch, {"build_log_reads": [read]})
    return len(builds)


__all__ += ["LogParser"]
