"""A replay's log is read back by the same parser as CloudWatch logs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ciwb.codebuild.agent_log import command_rows
from ciwb.codebuild.phases import PHASE_ORDER
from ciwb.replay.record import phase_records
from ciwb.replay.runner import PhaseResult
from ciwb.store import connect


def test_a_replay_log_reads_back_into_the_same_commands_it_ran(replay):
    result = replay("""\
        version: 0.2
        phases:
          install:
            commands: [echo one, 'printf "no newline"']
          build:
            commands: [sh -c 'exit 5']
        """)
    rows = command_rows(
        result.log_path.read_text().splitlines(), build_arn=result.build_arn, source_name="replay"
    )
    assert [(r.phase_type, r.command, r.exit_status) for r in rows] == [
        ("INSTALL", "echo one", 0),
        ("INSTALL", 'printf "no newline"', 0),
        ("BUILD", "sh -c 'exit 5'", 5),
    ]
    assert all(r.duration_s is not None and r.duration_s >= 0 for r in rows)


def test_the_stored_replay_has_origin_replay_phases_and_commands(replay, tmp_path):
    result = replay("version: 0.2\nphases:\n  build:\n    commands: [echo a, echo b]\n")
    with connect(tmp_path / "ciwb.duckdb", read_only=True) as con:
        origin, status, total = con.execute(
            "SELECT origin, status, total_s FROM builds WHERE build_arn = ?", [result.build_arn]
        ).fetchone()
        phases = [
            r[0] for r in con.execute("SELECT phase_type FROM build_phases ORDER BY seq").fetchall()
        ]
        commands = con.execute("SELECT command, source FROM build_commands ORDER BY seq").fetchall()
        facts = con.execute("SELECT build_s FROM build_facts").fetchone()
    # the store's figures are the record's own times, not just "positive"
    record = result.record
    (build,) = [p for p in record["phases"] if p["phaseType"] == "BUILD"]
    assert (origin, status) == ("replay", "SUCCEEDED")
    assert total == (record["endTime"] - record["startTime"]).total_seconds()
    assert facts[0] == (build["endTime"] - build["startTime"]).total_seconds()
    assert phases == list(PHASE_ORDER)  # every phase, in CodeBuild's order
    assert commands == [("echo a", "replay"), ("echo b", "replay")]


def test_the_record_has_api_shaped_phases(replay):
    result = replay("version: 0.2\nphases:\n  build:\n    commands: [echo hi]\n")
    phases = {p["phaseType"]: p for p in result.record["phases"]}
    assert phases["COMPLETED"].keys() == {"phaseType", "startTime"}
    build = phases["BUILD"]
    seconds = (build["endTime"] - build["startTime"]).total_seconds()
    assert build["durationInSeconds"] == int(seconds)
    assert build["contexts"] == [{"statusCode": "", "message": ""}]
    assert result.record["buildStatus"] == "SUCCEEDED" and result.record["buildComplete"]


def test_phase_durations_are_truncated_as_aws_does():
    """On an explicit clock rather than a sleep: 1.7 s is 1, not 2; 0.9 s is 0."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    records = phase_records(
        [
            PhaseResult("BUILD", "SUCCEEDED", start, start + timedelta(seconds=1.7)),
            PhaseResult("POST_BUILD", "FAILED", start, start + timedelta(seconds=0.9), "E", "m"),
            PhaseResult("COMPLETED", "SUCCEEDED", start),
        ]
    )
    assert records == [
        {
            "phaseType": "BUILD",
            "phaseStatus": "SUCCEEDED",
            "startTime": start,
            "endTime": start + timedelta(seconds=1.7),
            "durationInSeconds": 1,
            "contexts": [{"statusCode": "", "message": ""}],
        },
        {
            "phaseType": "POST_BUILD",
            "phaseStatus": "FAILED",
            "startTime": start,
            "endTime": start + timedelta(seconds=0.9),
            "durationInSeconds": 0,
            "contexts": [{"statusCode": "E", "message": "m"}],
        },
        {"phaseType": "COMPLETED", "startTime": start},
    ]
