"""Extract: the CodeBuild, CloudWatch and Logs calls, one function per API walk.

Each function takes a boto3 client and yields AWS's own records; nothing here
normalises or writes. Limits are from docs/reference/codebuild-facts.md ("API"):
every BatchGet* takes at most 100 ids; ListBuildsForProject is newest first by default
and must not be given `sortOrder`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

__all__ = [
    "BATCH_GET_LIMIT",
    "METRIC_QUERIES_PER_REQUEST",
    "chunks",
    "describe_code_coverages",
    "describe_test_cases",
    "get_build_batches",
    "get_builds",
    "get_metric_data",
    "get_projects",
    "get_reports",
    "list_build_batch_ids",
    "list_build_id_pages",
    "list_project_names",
    "list_report_arns",
    "list_report_group_arns",
    "log_event_pages",
]

BATCH_GET_LIMIT = 100  # every BatchGet* (docs/reference/codebuild-facts.md, "API")
METRIC_QUERIES_PER_REQUEST = 500  # GetMetricData's MetricDataQueries limit


def chunks(items: Sequence[Any], size: int = BATCH_GET_LIMIT) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _pages(client: Any, operation: str, key: str, **params: Any) -> Iterator[Any]:
    for page in client.get_paginator(operation).paginate(**params):
        yield from page.get(key) or ()


def list_project_names(client: Any) -> list[str]:
    return list(_pages(client, "list_projects", "projects"))


def get_projects(client: Any, names: Sequence[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in chunks(names):
        out.extend(client.batch_get_projects(names=list(part)).get("projects") or ())
    return out


def list_build_id_pages(client: Any, project: str) -> Iterator[list[str]]:
    """Pages of build ids, newest first. The caller stops iterating at its cursor, so
    no page beyond the one holding the cursor is requested."""
    token: str | None = None
    while True:
        # No sortOrder: documented to fail on projects with more than 100 builds.
        params: dict[str, Any] = {"projectName": project}
        if token:
            params["nextToken"] = token
        page = client.list_builds_for_project(**params)
        yield list(page.get("ids") or ())
        token = page.get("nextToken")
        if not token:
            return


def get_builds(client: Any, ids: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """One BatchGetBuilds call (≤ 100 ids): the builds and the ids AWS no longer has."""
    if len(ids) > BATCH_GET_LIMIT:
        raise ValueError(f"BatchGetBuilds takes at most {BATCH_GET_LIMIT} ids, got {len(ids)}")
    response = client.batch_get_builds(ids=list(ids))
    return list(response.get("builds") or ()), list(response.get("buildsNotFound") or ())


def list_build_batch_ids(client: Any, project: str) -> list[str]:
    return list(_pages(client, "list_build_batches_for_project", "ids", projectName=project))


def get_build_batches(client: Any, ids: Sequence[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in chunks(ids):
        out.extend(client.batch_get_build_batches(ids=list(part)).get("buildBatches") or ())
    return out


def list_report_group_arns(client: Any) -> list[str]:
    return list(_pages(client, "list_report_groups", "reportGroups"))


def list_report_arns(client: Any, report_group_arn: str) -> list[str]:
    return list(
        _pages(client, "list_reports_for_report_group", "reports", reportGroupArn=report_group_arn)
    )


def get_reports(client: Any, arns: Sequence[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in chunks(arns):
        out.extend(client.batch_get_reports(reportArns=list(part)).get("reports") or ())
    return out


def describe_test_cases(client: Any, report_arn: str) -> Iterator[dict[str, Any]]:
    return _pages(client, "describe_test_cases", "testCases", reportArn=report_arn)


def describe_code_coverages(client: Any, report_arn: str) -> Iterator[dict[str, Any]]:
    return _pages(client, "describe_code_coverages", "codeCoverages", reportArn=report_arn)


def get_metric_data(
    client: Any, queries: list[dict[str, Any]], start: datetime, end: datetime
) -> dict[str, tuple[list[Any], list[float]]]:
    """One GetMetricData request (≤ 500 queries), following NextToken; by query Id."""
    if len(queries) > METRIC_QUERIES_PER_REQUEST:
        raise ValueError(f"GetMetricData takes at most {METRIC_QUERIES_PER_REQUEST} queries")
    series: dict[str, tuple[list[Any], list[float]]] = {q["Id"]: ([], []) for q in queries}
    token: str | None = None
    while True:
        params: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        if token:
            params["NextToken"] = token
        response = client.get_metric_data(**params)
        for result in response.get("MetricDataResults") or ():
            timestamps, values = series.setdefault(result["Id"], ([], []))
            timestamps.extend(result.get("Timestamps") or ())
            values.extend(result.get("Values") or ())
        token = response.get("NextToken")
        if not token:
            return series


def log_event_pages(client: Any, group: str, stream: str) -> Iterable[list[dict[str, Any]]]:
    """GetLogEvents pages from the head of a stream, one page in memory at a time.

    Pages hold ≤ 10,000 events / 1 MB and may be empty while more remains; the stream is
    finished when the forward token comes back unchanged
    (docs/reference/codebuild-facts.md, "CloudWatch Logs").
    """
    token: str | None = None
    while True:
        params: dict[str, Any] = {
            "logGroupName": group,
            "logStreamName": stream,
            "startFromHead": True,
        }
        if token:
            params["nextToken"] = token
        page = client.get_log_events(**params)
        yield list(page.get("events") or ())
        forward = page.get("nextForwardToken")
        if not forward or forward == token:
            return
        token = forward
