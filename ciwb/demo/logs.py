"""A build's CloudWatch log as CodeBuild's agent writes it, derived from the build's own phases.

The events have `GetLogEvents`' shape (`timestamp` and `ingestionTime` in epoch ms,
`message`), and the agent lines follow docs/reference/codebuild-facts.md ("CloudWatch Logs"):
`[Container] YYYY/MM/DD HH:MM:SS.ffffff ` then `Entering phase <PHASE>`, `Running command <cmd>`,
`Command did not exit successfully <cmd> exit status <n>`,
`Phase complete: <PHASE> State: <STATUS>` and `Phase context status code: <CODE> Message: <text>`
(two spaces before `Message` when the code is empty); user output comes between them
without the prefix. The lines are written with `ciwb.codebuild.agent_log.format_agent_line`,
the same writer the replay uses, so the demo's logs and the parser share one format.

Commands fill their phase: a command ends where the next agent line starts, so the command
durations of a phase add up to the phase's duration less a few milliseconds of agent lines.
When a phase failed with `COMMAND_EXECUTION_ERROR`, the commands after the failing one do not
run, and the failing one is the command the phase's context message names.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ciwb.codebuild.agent_log import format_agent_line
from ciwb.codebuild.phases import COMMAND_PHASES
from ciwb.demo.catalogue import PROJECT_COMMANDS, DemoCommand, failing_command

__all__ = ["DemoLogStream", "agent_log_events"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_US = timedelta(microseconds=1)
_JITTER_SIGMA = 0.15  # per-build spread of a command's share of its phase


@dataclass(frozen=True)
class DemoLogStream:
    """One build's log stream: where the build record says it is, and its events in order."""

    build_arn: str
    group_name: str
    stream_name: str
    events: list[dict[str, Any]]  # GetLogEvents `events`: timestamp, message, ingestionTime


def _us(when: datetime) -> int:
    return (when - _EPOCH) // _US


class _Writer:
    def __init__(self, rng: random.Random, cut_us: int) -> None:
        self.rng = rng
        self.cut_us = cut_us
        self.events: list[dict[str, Any]] = []
        self.last_us = 0
        # The agent ships lines in batches: a few hundred ms to a couple of seconds later.
        self.ingestion_delay_ms = 200 + int(rng.random() * 1800)

    def line(self, at_us: int, text: str, *, agent: bool = True) -> None:
        # Lines follow each other by tens to hundreds of microseconds at least; the event
        # keeps the millisecond, the bracketed agent time the microsecond.
        earliest = self.last_us + 40 + int(self.rng.random() * 400)
        if at_us < earliest:
            at_us = earliest
        if at_us > self.cut_us:  # the window ends while the build is still running
            return
        self.last_us = at_us
        ms = at_us // 1000
        if agent:
            text = format_agent_line(_EPOCH_NAIVE + timedelta(microseconds=at_us), text)
        self.events.append(
            {"timestamp": ms, "message": text + "\n", "ingestionTime": ms + self.ingestion_delay_ms}
        )

    def phase_end(self, at_us: int, phase: str, status: str, context: dict[str, str]) -> None:
        self.line(at_us, f"Phase complete: {phase} State: {status}")
        code, message = context.get("statusCode", ""), context.get("message", "")
        self.line(at_us, f"Phase context status code: {code} Message: {message}".rstrip())


def _commands_run(project: str, phase: str, failed: bool) -> tuple[list[DemoCommand], bool]:
    """The commands that ran, and whether the last of them is the one that failed."""
    commands = list(PROJECT_COMMANDS.get(project, {}).get(phase, ()))
    if not failed:
        return commands, False
    culprit = failing_command(project, phase)
    if culprit is None:
        return commands, False
    return commands[: commands.index(culprit) + 1], True


def _run_commands(
    out: _Writer,
    commands: list[DemoCommand],
    last_fails: bool,
    start_us: int,
    end_us: int,
) -> None:
    """`Running command` lines at boundaries that split [start, end] by jittered shares."""
    rng = out.rng
    weights = [c.share * math.exp(rng.gauss(0.0, _JITTER_SIGMA)) for c in commands]
    total = sum(weights)
    span = end_us - start_us
    at = start_us
    acc = 0.0
    for i, (command, weight) in enumerate(zip(commands, weights, strict=True)):
        acc += weight
        until = end_us if i == len(commands) - 1 else start_us + int(span * acc / total)
        out.line(at, f"Running command {command.text}")
        fails_here = last_fails and i == len(commands) - 1
        output = (
            (*command.output, command.error) if fails_here and command.error else command.output
        )
        for j, text in enumerate(output, start=1):
            out.line(at + (until - at) * j // (len(output) + 1), text, agent=False)
        if fails_here:
            out.line(
                until,
                f"Command did not exit successfully {command.text} "
                f"exit status {command.exit_status}",
            )
        at = until


def agent_log_events(
    record: dict[str, Any],
    *,
    runtime: tuple[str, str] | None,
    rng: random.Random,
    window_end: datetime,
) -> list[dict[str, Any]]:
    """The agent's log events for one build record (empty if the agent never started)."""
    phases = {p["phaseType"]: p for p in record["phases"]}
    if "DOWNLOAD_SOURCE" not in phases:  # e.g. the image could not be pulled: no container
        return []
    project = record["projectName"]
    cut_us = _us(window_end)
    out = _Writer(rng, cut_us)
    for entry in record["phases"]:
        phase = entry["phaseType"]
        if phase not in phases or phase in ("SUBMITTED", "QUEUED", "PROVISIONING"):
            continue
        if phase in ("FINALIZING", "COMPLETED"):
            break
        start = _us(entry["startTime"])
        # A phase still running at the end of the window: lines past the window are cut.
        end = _us(entry["endTime"]) if "endTime" in entry else cut_us + 600_000_000
        status = entry.get("phaseStatus", "IN_PROGRESS")
        context = (entry.get("contexts") or [{}])[0]
        if phase == "DOWNLOAD_SOURCE":
            src = f"/codebuild/output/src{start % 1_000_000_000}/src/github.com/example/{project}"
            # A few of the agent's opening lines (the real agent writes a dozen or so).
            out.line(start, "Waiting for DOWNLOAD_SOURCE")
            out.line(end - 2000, f"CODEBUILD_SRC_DIR={src}")
            out.line(end - 1000, f"YAML location is {src}/buildspec.yml")
        elif phase in COMMAND_PHASES:
            out.line(start, f"Entering phase {phase}")
            first = start + 1000
            if phase == "INSTALL" and runtime is not None:
                out.line(
                    first,
                    f"Selecting '{runtime[0]}' runtime version '{runtime[1]}' based on manual "
                    "selections...",
                )
                first += 1000
            failed = context.get("statusCode") == "COMMAND_EXECUTION_ERROR"
            commands, last_fails = _commands_run(project, phase, failed)
            if commands:
                _run_commands(out, commands, last_fails, first, end - 1000)
        elif phase == "UPLOAD_ARTIFACTS":
            out.line(start, "Assembling file list")
        if "endTime" in entry:
            out.phase_end(end, phase, status, context)
    return out.events
