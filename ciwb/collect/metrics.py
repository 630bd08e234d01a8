"""Per-build CloudWatch utilisation: which (build, metric) pairs to ask for, and how.

Rules from docs/reference/codebuild-facts.md ("CloudWatch metrics"):
- namespace `AWS/CodeBuild`, metrics CPUUtilized, CPUUtilizedPercent, MemoryUtilized,
  MemoryUtilizedPercent, StorageReadBytes, StorageWriteBytes, with all three build
  dimensions BuildId, BuildNumber, ProjectName; only builds of a minute or more have them;
- retention by resolution: 1-minute data 15 days, 5-minute 63 days, 1-hour 455 days, and
  a period finer than the data's age allows silently returns nothing: the period is chosen
  from the build's age.
Queries are packed 500 to a request regardless of build or period (Period is per query;
only the time window is per request), so a run makes ⌈pairs / 500⌉ requests.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ciwb.collect.sources.live import METRIC_QUERIES_PER_REQUEST

__all__ = [
    "BUILD_METRICS",
    "METRIC_DELAY",
    "MetricPair",
    "MetricRequest",
    "period_for_age",
    "plan_requests",
]

BUILD_METRICS = (
    "CPUUtilized",
    "CPUUtilizedPercent",
    "MemoryUtilized",
    "MemoryUtilizedPercent",
    "StorageReadBytes",
    "StorageWriteBytes",
)
MIN_BUILD_SECONDS = 60.0  # "Only for builds over one minute"
RETENTION = ((timedelta(days=15), 60), (timedelta(days=63), 300), (timedelta(days=455), 3600))
# CloudWatch publishes a build's points within minutes; a build that ended more recently
# than this is left for the next run rather than recorded as having no data.
METRIC_DELAY = timedelta(minutes=10)


def period_for_age(start: datetime, now: datetime) -> int | None:
    """The finest period still retained for data this old; None once it has all expired."""
    age = now - start
    for limit, period in RETENTION:
        if age < limit:
            return period
    return None


@dataclass(frozen=True)
class MetricPair:
    build_arn: str
    build_id: str
    build_number: int | None
    project_name: str
    metric_name: str
    start: datetime
    end: datetime
    period: int


@dataclass(frozen=True)
class MetricRequest:
    pairs: list[MetricPair]
    queries: list[dict[str, Any]]
    start: datetime
    end: datetime


def _query(index: int, pair: MetricPair) -> dict[str, Any]:
    dimensions = [
        {"Name": "BuildId", "Value": pair.build_id},
        {"Name": "BuildNumber", "Value": str(pair.build_number)},
        {"Name": "ProjectName", "Value": pair.project_name},
    ]
    return {
        "Id": f"q{index}",
        # The label carries the key, so an archived page can be loaded on its own.
        "Label": f"{pair.build_arn} {pair.metric_name}",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/CodeBuild",
                "MetricName": pair.metric_name,
                "Dimensions": dimensions,
            },
            "Period": pair.period,
            "Stat": "Average",
        },
        "ReturnData": True,
    }


def plan_requests(pairs: Sequence[MetricPair]) -> Iterator[MetricRequest]:
    """Pairs in start-time order, 500 queries to a request, each window covering its builds."""
    ordered = sorted(pairs, key=lambda p: (p.start, p.build_arn, p.metric_name))
    for offset in range(0, len(ordered), METRIC_QUERIES_PER_REQUEST):
        part = ordered[offset : offset + METRIC_QUERIES_PER_REQUEST]
        widest = max(p.period for p in part)
        start = min(p.start for p in part)
        start = start.replace(second=0, microsecond=0) - timedelta(seconds=widest)
        end = max(p.end for p in part) + timedelta(seconds=widest)
        yield MetricRequest(part, [_query(i, p) for i, p in enumerate(part)], start, end)
