"""The one agent-log parser: both agent eras, CloudWatch events or plain lines."""

from __future__ import annotations

from datetime import datetime

from ciwb.codebuild.agent_log import AgentPhase, CommandTiming, command_rows, parse_agent_log

# An older agent: no microseconds, `Success: true|false`.
OLD_ERA = """\
[Container] 2019/05/02 10:00:00 Waiting for agent ping
[Container] 2019/05/02 10:00:01 Entering phase INSTALL
[Container] 2019/05/02 10:00:01 Running command npm ci
added 1200 packages
[Container] 2019/05/02 10:00:31 Phase complete: INSTALL Success: true
[Container] 2019/05/02 10:00:31 Phase context status code:  Message: 
[Container] 2019/05/02 10:00:31 Entering phase BUILD
[Container] 2019/05/02 10:00:31 Running command npm test
1 failing
[Container] 2019/05/02 10:00:43 Command did not exit successfully npm test exit status 1
[Container] 2019/05/02 10:00:43 Phase complete: BUILD Success: false
[Container] 2019/05/02 10:00:43 Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while executing command: npm test. Reason: exit status 1
"""


def test_old_era_lines_give_timings_statuses_and_contexts():
    items = list(parse_agent_log(OLD_ERA.splitlines()))
    commands = [i for i in items if isinstance(i, CommandTiming)]
    phases = [i for i in items if isinstance(i, AgentPhase) and i.kind == "completed"]
    assert [(c.phase, c.command, c.duration_s, c.exit_status) for c in commands] == [
        ("INSTALL", "npm ci", 30.0, 0),
        ("BUILD", "npm test", 12.0, 1),
    ]
    assert [(p.phase, p.status, p.context_code) for p in phases] == [
        ("INSTALL", "SUCCEEDED", None),
        ("BUILD", "FAILED", "COMMAND_EXECUTION_ERROR"),
    ]
    assert phases[1].context_message.endswith("Reason: exit status 1")


def test_cloudwatch_events_use_their_own_timestamps_over_the_bracket():
    base = 1_700_000_000_000
    events = [
        (base, "[Container] 2023/11/14 22:13:20.000000 Entering phase BUILD\n"),
        (base + 10, "[Container] 2023/11/14 22:13:20.000000 Running command make\n"),
        (
            base + 2510,
            "[Container] 2023/11/14 22:13:22.000000 Phase complete: BUILD State: SUCCEEDED\n",
        ),
    ]
    (cmd,) = [i for i in parse_agent_log(events) if isinstance(i, CommandTiming)]
    assert cmd.duration_s == 2.5
    assert cmd.start == datetime(2023, 11, 14, 22, 13, 20, 10000)


def test_a_multiline_command_failure_finds_its_exit_status_on_a_later_line():
    lines = [
        "[Container] 2024/01/01 00:00:00.000000 Entering phase BUILD",
        "[Container] 2024/01/01 00:00:00.100000 Running command echo a",
        "echo b",
        "a",
        "[Container] 2024/01/01 00:00:01.100000 Command did not exit successfully echo a",
        "echo b exit status 7",
        "[Container] 2024/01/01 00:00:01.200000 Phase complete: BUILD State: FAILED",
    ]
    (cmd,) = [i for i in parse_agent_log(lines) if isinstance(i, CommandTiming)]
    assert cmd.exit_status == 7 and cmd.duration_s == 1.0


def test_a_cut_log_leaves_the_last_command_open():
    lines = [
        "[Container] 2024/01/01 00:00:00.000000 Entering phase BUILD",
        "[Container] 2024/01/01 00:00:00.500000 Running command sleep 999",
    ]
    (cmd,) = [i for i in parse_agent_log(lines) if isinstance(i, CommandTiming)]
    assert cmd.end is None and cmd.exit_status is None and cmd.duration_s is None


def test_command_rows_for_the_store():
    rows = command_rows(OLD_ERA.splitlines(), build_arn="arn:b", source_name="cloudwatch")
    assert [(r.seq, r.phase_type, r.command, r.exit_status, r.source) for r in rows] == [
        (0, "INSTALL", "npm ci", 0, "cloudwatch"),
        (1, "BUILD", "npm test", 1, "cloudwatch"),
    ]
