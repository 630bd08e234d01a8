"""Build logs from moto's CloudWatch Logs over HTTP: streamed page by page, capped per build,
read from the group and stream the build record names."""

from __future__ import annotations

import time
from datetime import datetime

import boto3
import duckdb
from collect_history import ACCOUNT, REGION, history

from ciwb.collect import CollectOptions, collect
from ciwb.collect.aws import CallCounter
from ciwb.collect.logs import LogReadStats, stream_log_events
from ciwb.collect.pipeline import StoreWriter
from ciwb.collect.stages import collect_logs


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
    assert counter.total("GetLogEvents") >= 2
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

    write = StoreWriter(db_path)
    n = collect_logs(
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

    assert seen[chosen[0]["arn"]] == [f"build 0 line {n}" for n in range(4)]
    assert seen[chosen[1]["arn"]] == [f"build 1 line {n}" for n in range(5)]
    con = duckdb.connect(str(db_path), read_only=True)
    reads = dict(con.execute("SELECT build_arn, events FROM build_log_reads").fetchall())
    con.close()
    assert n == len(builds[chosen[0]["projectName"]]) == len(reads)
    assert reads[chosen[2]["arn"]] == 0  # no such stream: recorded, not retried forever
    write = StoreWriter(db_path)
    again = collect_logs(
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
    assert again == 0
