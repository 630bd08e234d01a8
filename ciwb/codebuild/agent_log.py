"""The CodeBuild agent's log format: ONE streaming parser for CloudWatch logs and replay logs.

Agent lines start `[Container] YYYY/MM/DD HH:MM:SS[.ffffff] ` (microseconds since about
late 2023); user output is interleaved without the prefix. The lines that matter
(docs/reference/codebuild-facts.md, "CloudWatch Logs"):

    Entering phase <PHASE>
    Running command <cmd>
    Command did not exit successfully <cmd> exit status <n>
    Phase complete: <PHASE> State: <STATUS>          (older agents: Success: true|false)
    Phase context status code: <CODE> Message: <text>

Input is an iterable of CloudWatch events `(timestamp_ms | None, message)` or plain log lines;
plain lines copied from the console with line numbers (`  12 | [Container] ...`) or from the
local agent's compose output (`agent_1  | [Container] ...`) parse like clean ones.
The event's own epoch-ms timestamp is the truth when given; otherwise the bracketed time,
read as UTC (unverified, same section). A command ends at the next agent line.
`format_agent_line` is the writer side, used by replays so both sides share one format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ciwb.codebuild.records import CommandRow

__all__ = [
    "AgentPhase",
    "CommandTiming",
    "command_rows",
    "format_agent_line",
    "parse_agent_log",
]

_EPOCH = datetime(1970, 1, 1)  # naive UTC, like every time this module returns
_PREFIX = re.compile(
    r"^\[Container\] (\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?) ?(.*)$", re.S
)
_ENTERING = re.compile(r"^Entering phase (\w+)")
_RUNNING = re.compile(r"^Running command (.*)$", re.S)
_FAILED = re.compile(r"^Command did not exit successfully (.*?)(?: exit status (-?\d+))?\s*$", re.S)
_EXIT_TAIL = re.compile(r"exit status (-?\d+)\s*$")
_COMPLETE = re.compile(r"^Phase complete: (\w+) (?:State: (\w+)|Success: (\w+))")
_CONTEXT = re.compile(r"^Phase context status code: ?(.*?) Message: ?(.*)$", re.S)


@dataclass(frozen=True)
class CommandTiming:
    """One command as the agent ran it: start at `Running command`, end at the next agent line."""

    seq: int
    phase: str | None
    command: str
    start: datetime | None
    end: datetime | None
    exit_status: int | None  # 0 unless the agent said it failed; None if the log was cut

    @property
    def duration_s(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class AgentPhase:
    """A phase boundary: `entered` (start) or `completed` (end, status and context)."""

    kind: str  # "entered" | "completed"
    phase: str
    time: datetime | None
    status: str | None = None
    context_code: str | None = None
    context_message: str | None = None


def format_agent_line(when: datetime, message: str) -> str:
    """`[Container] 2024/01/02 03:04:05.123456 message` (current agent era, UTC)."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    # isoformat is twice as fast as strftime here (the demo writes hundreds of thousands).
    stamp = when.isoformat(" ", "microseconds").replace("-", "/")
    return f"[Container] {stamp} {message}"


def _bracket_time(text: str) -> datetime:
    fmt = "%Y/%m/%d %H:%M:%S.%f" if "." in text else "%Y/%m/%d %H:%M:%S"
    return datetime.strptime(text, fmt)


# What copying a log adds before each line: the console's line numbers (`  12 | `) and
# docker compose's service column from the local agent (`agent_1  | `). A form is learnt
# from the first agent line that carries it and then stripped from every line that has it.
_COPIED = re.compile(r"^(\s*\d+ \| ?|[A-Za-z0-9][\w.-]*\s+\| ?)\[Container\] ")
_COPY_FORMS = {
    "numbered": re.compile(r"^\s*\d+ \| ?"),
    "compose": re.compile(r"^[A-Za-z0-9][\w.-]*\s+\|(?: |$)"),
}


def _copy_form(prefix: str) -> re.Pattern[str]:
    return _COPY_FORMS["numbered" if prefix.strip(" |").isdigit() else "compose"]


def _events(source: Iterable[tuple[int | None, str] | str]) -> Iterator[tuple[int | None, str]]:
    form: re.Pattern[str] | None = None
    for item in source:
        ts, line = (None, item) if isinstance(item, str) else item
        if ts is None:  # a plain line may have been copied; CloudWatch events never are
            if form is None and not line.startswith("[Container] ") and "[Container] " in line:
                copied = _COPIED.match(line)
                if copied:
                    form = _copy_form(copied.group(1))
            if form is not None:
                line = form.sub("", line, count=1)
        yield ts, line


def parse_agent_log(
    source: Iterable[tuple[int | None, str] | str],
) -> Iterator[CommandTiming | AgentPhase]:
    """Yield command timings and phase boundaries as the log streams by."""
    phase: str | None = None
    seq = 0
    open_cmd: tuple[str, datetime | None] | None = None
    failed_status: int | None = None
    failed_pending = False  # a failure line whose `exit status n` is on a continuation line
    failed_at: datetime | None = None
    completed: AgentPhase | None = None

    def close(at: datetime | None, status: int | None) -> CommandTiming | None:
        nonlocal open_cmd, seq
        if open_cmd is None:
            return None
        text, start = open_cmd
        open_cmd = None
        seq += 1
        return CommandTiming(seq - 1, phase, text, start, at, status)

    for ts_ms, raw in _events(source):
        message = raw.rstrip("\r\n")
        match = _PREFIX.match(message)
        if match is None:
            if failed_pending:
                tail = _EXIT_TAIL.search(message)
                if tail:
                    failed_status = int(tail.group(1))
                    failed_pending = False
            continue
        when = (
            _EPOCH + timedelta(milliseconds=ts_ms)  # exact, and faster than fromtimestamp
            if ts_ms is not None
            else _bracket_time(match.group(1))
        )
        body = match.group(2)

        # startswith before each regex: most lines are cheaply ruled out (same result).
        context = (
            _CONTEXT.match(body)
            if completed is not None and body.startswith("Phase context status code:")
            else None
        )
        if context and completed is not None:
            yield AgentPhase(
                "completed",
                completed.phase,
                completed.time,
                completed.status,
                context.group(1).strip() or None,
                context.group(2).strip() or None,
            )
            completed = None
            continue
        if completed is not None:  # no context line followed
            yield completed
            completed = None

        failure = (
            _FAILED.match(body) if body.startswith("Command did not exit successfully ") else None
        )
        if failure:
            if failure.group(2) is not None:
                done = close(when, int(failure.group(2)))
                if done is not None:
                    yield done
            else:  # multi-line command: `exit status n` ends a later line
                failed_pending, failed_at, failed_status = True, when, None
            continue
        # Any other agent line ends the open command (at the failure line, if one came).
        if failed_pending or failed_status is not None:
            done = close(failed_at, failed_status)
        else:
            done = close(when, 0)
        failed_status, failed_pending, failed_at = None, False, None
        if done is not None:
            yield done

        running = _RUNNING.match(body) if body.startswith("Running command ") else None
        if running:
            open_cmd = (running.group(1), when)
            continue
        entering = _ENTERING.match(body) if body.startswith("Entering phase ") else None
        if entering:
            phase = entering.group(1)
            yield AgentPhase("entered", phase, when)
            continue
        complete = _COMPLETE.match(body) if body.startswith("Phase complete: ") else None
        if complete:
            name = complete.group(1)
            state = complete.group(2)
            if state is None:
                state = "SUCCEEDED" if complete.group(3).lower() == "true" else "FAILED"
            completed = AgentPhase("completed", name, when, state)
    if completed is not None:
        yield completed
    if open_cmd is not None:  # the log was cut (timeout, stop): end unknown
        text, start = open_cmd
        yield CommandTiming(seq, phase, text, start, None, failed_status)


def command_rows(
    source: Iterable[tuple[int | None, str] | str], *, build_arn: str, source_name: str
) -> list[CommandRow]:
    """`build_commands` rows for one build's log (`source_name`: 'cloudwatch', 'replay', ...)."""
    return [
        CommandRow(
            build_arn=build_arn,
            seq=item.seq,
            phase_type=item.phase,
            command=item.command,
            start_time=item.start,
            end_time=item.end,
            duration_s=item.duration_s,
            exit_status=item.exit_status,
            source=source_name,
        )
        for item in parse_agent_log(source)
        if isinstance(item, CommandTiming)
    ]
