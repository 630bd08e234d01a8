"""The demo's CloudWatch agent logs: API-shaped, and parsed into the command timings they plant."""

from __future__ import annotations

import json
from datetime import datetime

import boto3
import pytest
from botocore.stub import Stubber

from ciwb.codebuild.agent_log import command_rows
from ciwb.codebuild.phases import COMMAND_PHASES
from ciwb.demo import PlantedFacts, generate, history_batches
from ciwb.demo.catalogue import PROJECT_COMMANDS, failing_command
from support.queries import q


@pytest.fixture(scope="module")
def history():
    return generate(builds=1_500, seed=3)


def test_log_events_validate_against_logs_model_and_parse_as_the_loader_stores(history):
    """GetLogEvents responses built from the demo validate against botocore's service model,
    and the events a client gets back parse into exactly the rows the demo loader stores."""
    client = boto3.client(
        "logs",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    builds = {b["arn"]: b for b in history.builds}
    streams = history.log_streams
    assert len(streams) > 100
    parsed = []
    with Stubber(client) as stubber:
        for stream in streams:
            # The group and stream are the ones the build record names (never derived).
            logs = builds[stream.build_arn]["logs"]
            params = {
                "logGroupName": logs["groupName"],
                "logStreamName": logs["streamName"],
                "startFromHead": True,
            }
            stubber.add_response(
                "get_log_events",
                {"events": stream.events, "nextForwardToken": "f/0", "nextBackwardToken": "b/0"},
                expected_params=params,
            )
            page = client.get_log_events(**params)
            parsed.extend(
                command_rows(
                    ((e["timestamp"], e["message"]) for e in page["events"]),
                    build_arn=stream.build_arn,
                    source_name="cloudwatch",
                )
            )
        stubber.assert_no_pending_responses()
    stored = [row for batch in history_batches(history) for row in batch.build_commands]
    assert parsed and sorted(stored) == sorted(parsed)


def _planned_commands(record: dict) -> list[tuple[str, str, int]]:
    """(phase, command, exit status) the generator's catalogue plans for a finished build:
    every command of each phase that ran, cut after the culprit of a COMMAND_EXECUTION_ERROR,
    which exits with its own status; the others exit 0."""
    planned = []
    for phase in record["phases"]:
        name = phase["phaseType"]
        if name not in COMMAND_PHASES:
            continue
        commands = list(PROJECT_COMMANDS.get(record["projectName"], {}).get(name, ()))
        context = (phase.get("contexts") or [{}])[0]
        culprit = None
        if context.get("statusCode") == "COMMAND_EXECUTION_ERROR":
            culprit = failing_command(record["projectName"], name)
            commands = commands[: commands.index(culprit) + 1]
        planned += [(name, c.text, c.exit_status if c is culprit else 0) for c in commands]
    return planned


def test_parsed_commands_are_the_generators_plan_and_fill_their_phases(history):
    """Checked against what the generator planned, not against the parser run twice: the
    catalogue's commands in order with their exit statuses, and per phase the command
    durations adding up to the phase's own duration in the build record (the agent's own
    lines between them take a few milliseconds)."""
    builds = {b["arn"]: b for b in history.builds}
    finished = [s for s in history.log_streams if builds[s.build_arn].get("buildComplete")]
    assert len(finished) > 100
    failing = 0
    for stream in finished:
        record = builds[stream.build_arn]
        rows = command_rows(
            ((e["timestamp"], e["message"]) for e in stream.events),
            build_arn=stream.build_arn,
            source_name="cloudwatch",
        )
        planned = _planned_commands(record)
        assert [(r.phase_type, r.command, r.exit_status) for r in rows] == planned, record["id"]
        failing += sum(1 for _, _, status in planned if status != 0)
        for phase in record["phases"]:
            mine = [r for r in rows if r.phase_type == phase["phaseType"]]
            if not mine:
                continue
            phase_s = (phase["endTime"] - phase["startTime"]).total_seconds()
            commands_s = sum(r.duration_s for r in mine)
            assert 0 <= phase_s - commands_s < 0.01 * (len(mine) + 2), (record["id"], phase)
    assert failing > 10  # the plan's failing commands and their statuses were exercised


def test_logs_exist_only_within_retention(history):
    since = datetime.fromisoformat(history.planted.logs_since)
    builds = {b["arn"]: b for b in history.builds}
    with_logs = {s.build_arn for s in history.log_streams}
    assert all(builds[arn]["startTime"] >= since for arn in with_logs)
    recent = [
        b
        for b in history.builds
        if b["startTime"] >= since and any(p["phaseType"] == "INSTALL" for p in b["phases"])
    ]
    assert recent and all(b["arn"] in with_logs for b in recent)


def test_planted_slowest_command_per_project_is_found_in_build_commands(store):
    con, planted = store
    rows = q(
        con,
        "SELECT b.project_name, c.command, median(c.duration_s) AS typical"
        " FROM build_commands c JOIN builds b USING (build_arn)"
        " WHERE c.source = 'cloudwatch' AND c.exit_status = 0"
        " GROUP BY ALL",
    )
    slowest: dict[str, tuple[str, float]] = {}
    for project, command, typical in rows:
        if project not in slowest or typical > slowest[project][1]:
            slowest[project] = (command, typical)
    assert set(slowest) == set(planted.projects)
    assert {p: c for p, (c, _) in slowest.items()} == planted.slowest_commands


def test_failing_commands_match_the_failed_phase_and_its_context_message(store):
    con, planted = store
    rows = q(
        con,
        "SELECT b.project_name, c.phase_type, c.command, c.exit_status, p.phase_type,"
        " p.context_code, p.context_message"
        " FROM build_commands c JOIN builds b USING (build_arn)"
        " JOIN build_phases p ON p.build_arn = c.build_arn AND p.status = 'FAILED'"
        " WHERE c.exit_status <> 0",
    )
    assert len(rows) >= 20
    for project, phase, command, status, failed_phase, code, message in rows:
        assert phase == failed_phase and code == "COMMAND_EXECUTION_ERROR"
        assert command == planted.failing_commands[project][phase]
        assert message == f"Error while executing command: {command}. Reason: exit status {status}"
    # Every build whose command phase failed within the log window shows its failing command.
    ((missing,),) = q(
        con,
        "SELECT count(*) FROM build_phases p JOIN builds b USING (build_arn)"
        " WHERE p.status = 'FAILED' AND p.context_code = 'COMMAND_EXECUTION_ERROR'"
        " AND b.start_time >= ? AND NOT EXISTS (SELECT 1 FROM build_commands c"
        "   WHERE c.build_arn = p.build_arn AND c.phase_type = p.phase_type"
        "   AND c.exit_status <> 0)",
        datetime.fromisoformat(planted.logs_since).replace(tzinfo=None),
    )
    assert missing == 0
    # The commands that fail most are the projects' BUILD-phase commands (the planted hotspot).
    ((top,),) = q(
        con,
        "SELECT phase_type FROM build_commands WHERE exit_status <> 0"
        " GROUP BY ALL ORDER BY count(*) DESC LIMIT 1",
    )
    assert top == "BUILD"


def test_command_durations_add_up_to_their_phase(store):
    con, _ = store
    rows = q(
        con,
        "SELECT c.build_arn, c.phase_type, sum(c.duration_s), count(*), any_value(p.duration_s)"
        " FROM build_commands c JOIN build_phases p"
        "   ON p.build_arn = c.build_arn AND p.phase_type = c.phase_type"
        " WHERE p.end_time IS NOT NULL GROUP BY ALL",
    )
    assert len(rows) > 1_000
    for build_arn, phase, commands_s, count, phase_s in rows:
        # Agent lines between commands take milliseconds: well under 10 ms per command.
        assert 0 <= phase_s - commands_s < 0.01 * (count + 1), (build_arn, phase)


def test_planted_facts_written_before_the_log_fields_still_read(history, tmp_path):
    path = history.planted.write(tmp_path / "planted.json")
    data = json.loads(path.read_text())
    for key in ("logs_since", "slowest_commands", "failing_commands"):
        del data[key]
    path.write_text(json.dumps(data))
    older = PlantedFacts.read(path)
    assert older.slowest_commands == {} and older.logs_since == ""
    assert older.failure_hotspots == history.planted.failure_hotspots


def test_analytics_show_the_planted_hotspots_and_failing_commands(store):
    """What a user sees on the demo: the hotspot and failing-command analyses find the plant."""
    from ciwb.analytics import command_hotspots, failing_commands
    from ciwb.store import Selection

    con, planted = store
    for project, command in planted.slowest_commands.items():
        top = command_hotspots(con, Selection(projects=[project]), limit=1)
        assert top["command"].to_list() == [command], project
    failing = failing_commands(con, Selection(since=planted.logs_since), limit=5)
    build_commands = {phases["BUILD"] for phases in planted.failing_commands.values()}
    assert failing["command"][0] in build_commands
    assert (failing["source"] == "build_commands").all()
    assert (failing["runs"] > failing["failures"]).all()  # they fail sometimes, not always
