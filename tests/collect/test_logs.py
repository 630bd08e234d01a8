"""Build logs from moto's CloudWatch Logs over HTTP: streamed page by page, capped per build,
read from the group and stream the build record names."""

from __future__ import annotations

import time
from datetime import datetime

import boto3
import duckdb
import pytest

from ciwb.collect import CollectOptions, collect
from ciwb.collect.aws import CallCounter
from ciwb.collect.logs import LogReadStats, stream_log_events
from ciwb.collect.stages import collect_logs
from ciwb.store.writer import StoreWriter
from support.aws import ACCOUNT, REGION
from support.collect_history import history


def _logs_client(counter: CallCounter | None = None):
    client = boto3.client("logs", region_name=REGION)
    return counter.attach(client) if counter else client


def _put(client, group: str, stream: str, messages: list[str]) -> None:
    client.create_log_group(logGroupName=group)
    client.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000) - len(messages)
    for start in range(0, len(messages), 5000):
        client.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[
                {"timestamp": now + i, "message": m}
                for i, m in enumerate(messages[start : start + 5000], start=start)
            ],
        )


def test_log_events_stream_page_by_page_in_order(aws_env):
    client = _logs_client()
    messages = [f"line {i}" for i in range(12_500)]  # more than one 10,000-event page
    _put(client, "/aws/codebuild/app", "s1", messages)
    counter = CallCounter()
    stats = LogReadStats()

    events = stream_log_events(
        _logs_client(counter), "/aws/codebuild/app", "s1", cap_bytes=10**9, stats=stats
    )
    first = next(events)
    assert counter.total("GetLogEvents") == 1  # lazily: one page fetched for the first event
    rest = list(events)

    assert [m for _, m in [first, *rest]] == messages
    # 10,000 + 2,500 events, then the empty page whose unchanged token ends the stream
    assert counter.total("GetLogEvents") == 3
    assert stats.events == 12_500 and not stats.truncated


def test_per_build_cap_stops_reading(aws_env):
    client = _logs_client()
    _put(client, "/aws/codebuild/app", "big", ["x" * 100] * 12_000)
    counter = CallCounter()
    stats = LogReadStats()

    got = list(
        stream_log_events(
            _logs_client(counter), "/aws/codebuild/app", "big", cap_bytes=50_000, stats=stats
        )
    )

    assert len(got) == 500 and stats.truncated and stats.bytes == 50_000
    assert counter.total("GetLogEvents") == 1


def test_logs_read_from_the_group_and_stream_in_the_build_record(codebuild_server, db_path):
    projects, builds = history(60)
    chosen = [b for bs in builds.values() for b in bs][:3]
    for build in chosen:  # a project that overrides its log group
        build["logs"]["groupName"] = "/custom/ci-logs"
    codebuild_server.seed(projects, builds)
    client = _logs_client()
    client.create_log_group(logGroupName="/custom/ci-logs")
    for i, build in enumerate(chosen[:2]):
        stream = build["logs"]["streamName"]
        client.create_log_stream(logGroupName="/custom/ci-logs", logStreamName=stream)
        client.put_log_events(
            logGroupName="/custom/ci-logs",
            logStreamName=stream,
            logEvents=[
                {"timestamp": int(time.time() * 1000), "message": f"build {i} line {n}"}
                for n in range(4 + i)
            ],
        )
    collect(
        CollectOptions(
            regions=[REGION],
            db=db_path,
            batches=False,
            reports=False,
            metrics=False,
            projects=[chosen[0]["projectName"]],
        )
    )
    seen: dict[str, list[str]] = {}

    def parser(build_arn, events):  # stands in for the agent-log parser: records the events
        seen[build_arn] = [m for _, m in events]
        return []

    def read_logs() -> int:
        write = StoreWriter(db_path)
        count = collect_logs(
            _logs_client(),
            db_path,
            ACCOUNT,
            REGION,
            [chosen[0]["projectName"]],
            None,
            parser,
            10**6,
            write,
            datetime.now(),
        )
        write.close()
        return count

    n = read_logs()

    assert seen[chosen[0]["arn"]] == [f"build 0 line {n}" for n in range(4)]
    assert seen[chosen[1]["arn"]] == [f"build 1 line {n}" for n in range(5)]
    con = duckdb.connect(str(db_path), read_only=True)
    reads = dict(con.execute("SELECT build_arn, events FROM build_log_reads").fetchall())
    con.close()
    assert n == len(builds[chosen[0]["projectName"]]) == len(reads)
    assert reads[chosen[2]["arn"]] == 0  # no such stream: recorded, not retried forever
    assert read_logs() == 0  # every build's log is read once


# A CodeBuild log in the agent's own format (microsecond era), with user output between.
AGENT_LOG = [
    (0, "[Container] 2026/11/26 06:00:00.100000 Running on CodeBuild On-demand"),
    (100, "[Container] 2026/11/26 06:00:00.200000 Entering phase INSTALL"),
    (200, "[Container] 2026/11/26 06:00:00.300000 Running command pip install -r req.txt"),
    (5_000, "Successfully installed requests-2.32.3"),
    (12_300, "[Container] 2026/11/26 06:00:12.400000 Phase complete: INSTALL State: SUCCEEDED"),
    (12_400, "[Container] 2026/11/26 06:00:12.500000 Phase context status code:  Message: "),
    (12_500, "[Container] 2026/11/26 06:00:12.600000 Entering phase BUILD"),
    (12_600, "[Container] 2026/11/26 06:00:12.700000 Running command make test"),
    (40_000, "FAILED tests/test_api.py::test_timeout"),
    (
        72_600,
        "[Container] 2026/11/26 06:01:12.700000 Command did not exit successfully "
        "make test exit status 2",
    ),
    (72_700, "[Container] 2026/11/26 06:01:12.800000 Phase complete: BUILD State: FAILED"),
]


def test_collect_logs_parses_agent_lines_into_build_commands(codebuild_server, db_path):
    projects, builds = history(60)
    build = next(b for bs in builds.values() for b in bs)
    codebuild_server.seed(projects, builds)
    client = _logs_client()
    group, stream = build["logs"]["groupName"], build["logs"]["streamName"]
    client.create_log_group(logGroupName=group)
    client.create_log_stream(logGroupName=group, logStreamName=stream)
    base = int(time.time() * 1000) - 100_000
    client.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[
            {"timestamp": base + offset, "message": message} for offset, message in AGENT_LOG
        ],
    )

    summary = collect(
        CollectOptions(
            regions=[REGION],
            db=db_path,
            batches=False,
            reports=False,
            metrics=False,
            logs=True,
            projects=[build["projectName"]],
        )
    )

    assert summary.status == "SUCCEEDED"
    con = duckdb.connect(str(db_path), read_only=True)
    rows = con.execute(
        "SELECT phase_type, command, duration_s, exit_status, source "
        "FROM build_commands WHERE build_arn = ? ORDER BY seq",
        [build["arn"]],
    ).fetchall()
    con.close()
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        ("INSTALL", "pip install -r req.txt", 0, "cloudwatch"),
        ("BUILD", "make test", 2, "cloudwatch"),
    ]
    # durations from the events' own timestamps: next agent line minus `Running command`
    assert rows[0][2] == pytest.approx(12.1) and rows[1][2] == pytest.approx(60.0)
