"""The phase runner: an explicit state machine over CodeBuild's phases.

Transitions (`ciwb.codebuild.phases.FAILURE_TRANSITIONS`;
docs/reference/buildspec-semantics.md, "Phase transitions"; no on-failure given):

    failing phase      what runs next
    INSTALL            FINALIZING
    PRE_BUILD          FINALIZING
    BUILD              POST_BUILD, then UPLOAD_ARTIFACTS
    POST_BUILD         UPLOAD_ARTIFACTS   (widely reported, unverified)
    UPLOAD_ARTIFACTS   FINALIZING

With `on-failure`, the phase's own choice replaces the table: `CONTINUE` goes on to the next
phase in order; `ABORT` goes straight to FINALIZING (inferred, see `next_phase`);
`RETRY[-n][-regex]` re-runs the failed phase up to n times (3 by default) while the regex,
if any, matches the failed attempt's output (what RETRY re-runs and what the regex sees
are unverified: here the phase, and the phase attempt's output plus the error message).

Within a phase: commands run in order, the first non-zero exit skips the rest, `finally`
always runs, and the phase fails if any command or `finally` command failed.
`CODEBUILD_BUILD_SUCCEEDING` is 1, and 0 from the first failed phase on.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ciwb.buildspec import Buildspec, Command, OnFailure
from ciwb.codebuild.clock import utcnow
from ciwb.codebuild.phases import COMMAND_PHASES, FAILURE_TRANSITIONS, next_in_order
from ciwb.replay.log import AgentLogWriter
from ciwb.replay.shell import SessionDeadline, ShellSession, ShellTransport, check_syntax

__all__ = [
    "BUILD_PHASES",
    "PhaseResult",
    "PhaseRunner",
    "RunOutcome",
    "next_phase",
]

# buildspec phase → its key under `phases:` in the YAML.
BUILD_PHASES = {phase: phase.lower() for phase in COMMAND_PHASES}
_MAX_RETRY_TEXT = 256_000


def next_phase(phase: str, failed: bool, on_failure: OnFailure | None = None) -> str:
    """The phase that runs after `phase` (after any retries are spent).

    No on-failure: the transition table. CONTINUE: the next phase in order. ABORT: straight
    to FINALIZING, skipping POST_BUILD and UPLOAD_ARTIFACTS even after BUILD. That ABORT
    differs from no on-failure is INFERRED, not documented: users add it exactly to stop at
    the first failure because without it POST_BUILD still runs
    (docs/reference/buildspec-semantics.md, "Phase transitions").
    """
    in_order = next_in_order(phase)
    action = on_failure.action if on_failure is not None else None
    if not failed or action == "CONTINUE":
        return in_order
    if action == "ABORT":
        return "FINALIZING"  # inferred (see above)
    return FAILURE_TRANSITIONS.get(phase, in_order)


@dataclass
class PhaseResult:
    phase_type: str
    status: str
    start: datetime
    end: datetime | None = None
    context_code: str | None = None
    context_message: str | None = None
    attempts: int = 1

    @property
    def seconds(self) -> float | None:
        return (self.end - self.start).total_seconds() if self.end else None


@dataclass
class RunOutcome:
    phases: list[PhaseResult] = field(default_factory=list)
    status: str = "SUCCEEDED"  # SUCCEEDED | FAILED | TIMED_OUT | STOPPED
    exported: dict[str, str] = field(default_factory=dict)


class _Stop(Exception):
    def __init__(self, status: str) -> None:
        self.status = status


class PhaseRunner:
    """Runs INSTALL … UPLOAD_ARTIFACTS of one build in shells from `transport`."""

    def __init__(
        self,
        spec: Buildspec,
        *,
        transport: ShellTransport,
        env: dict[str, str],
        src_dir: str,
        log: AgentLogWriter,
        deadline: float | None = None,
        upload: Callable[[Callable[[str], str]], None] | None = None,
    ) -> None:
        self.spec = spec
        self.transport = transport
        self.env = dict(env)
        self.src_dir = src_dir
        self.log = log
        self.deadline = deadline
        self.upload = upload
        shell = spec.env.shell or "/bin/sh"  # reference: default Linux shell is /bin/sh
        self.shell = ["bash"] if shell == "bash" else [shell]
        self.persistent = spec.version != "0.1"
        self.sessions: dict[str | None, ShellSession] = {}
        self._cwd = src_dir
        self._unparsable: set[str] = set()
        self._phase_text: list[str] = []
        self._phase_text_len = 0
        self.cancelled = False  # set from another thread (batch fast-fail)
        self._oneoff: ShellSession | None = None  # the 0.1 per-command shell running now

    # ---- shells
    def _session(self, user: str | None) -> ShellSession:
        session = self.sessions.get(user)
        if session is None:
            session = ShellSession(
                self.transport, self.shell, env=self.env, cwd=self._cwd, user=user
            )
            self.sessions[user] = session
        elif not session.alive:
            session.env = dict(self.env)
        session.cwd = self._cwd if not session.alive else session.cwd
        return session

    def close(self) -> None:
        for session in self.sessions.values():
            session.close()

    def cancel(self) -> None:
        """Stop the build from another thread (batch fast-fail): it ends STOPPED."""
        self.cancelled = True
        for session in [*self.sessions.values(), self._oneoff]:
            if session is not None:
                session.kill()

    def _on_line(self, line: str) -> None:
        self.log.output(line)
        if self._phase_text_len < _MAX_RETRY_TEXT:
            self._phase_text.append(line)
            self._phase_text_len += len(line)

    def _execute(self, command: Command, user: str | None) -> int:
        try:
            if not self.persistent:
                # 0.1: a fresh shell per command, cwd reset to the source dir
                session = ShellSession(
                    self.transport, self.shell, env=self.env, cwd=self.src_dir, user=user
                )
                self._oneoff = session
                status = session.run_once(command.text, self._on_line, deadline=self.deadline)
                self._oneoff = None
                if self.cancelled:
                    raise _Stop("STOPPED")
                return status.exit_status
            session = self._session(user)
            if command.text in self._unparsable:
                outcome = session.run_once(command.text, self._on_line, deadline=self.deadline)
            else:
                outcome = session.run(command.text, self._on_line, deadline=self.deadline)
            self._cwd = session.cwd
            if self.cancelled:
                raise _Stop("STOPPED")
            return outcome.exit_status
        except SessionDeadline:
            raise _Stop("TIMED_OUT") from None
        except KeyboardInterrupt:
            raise _Stop("STOPPED") from None

    def _set_env(self, name: str, value: str) -> None:
        self.env[name] = value
        for session in self.sessions.values():
            session.env[name] = value
            if session.alive:
                session.capture(f"{name}={value}; export {name}")

    # ---- phases
    def _run_commands(self, commands: list[Command], user: str | None) -> str | None:
        """Run in order until one fails; the CodeBuild error message of the failure, or None."""
        for command in commands:
            self.log.agent(f"Running command {command.text}")
            status = self._execute(command, user)
            if status != 0:
                self.log.agent(
                    f"Command did not exit successfully {command.text} exit status {status}"
                )
                return (
                    f"Error while executing command: {command.text}. Reason: exit status {status}"
                )
        return None

    def _run_build_phase(self, phase_type: str) -> PhaseResult:
        phase = self.spec.phases.get(BUILD_PHASES[phase_type])
        start = self.log.agent(f"Entering phase {phase_type}")
        result = PhaseResult(phase_type, "SUCCEEDED", start)
        self._stopping = result
        if phase is None:
            return self._complete(result)
        user = phase.run_as or self.spec.run_as
        for runtime, version in phase.runtime_versions.items():
            # the host's tools are used as they are; an image would select these
            self.log.agent(
                f"runtime-versions {runtime}: {version} not selected (the shell "
                "uses the tools this environment has)"
            )
        retry = (
            phase.on_failure if phase.on_failure and phase.on_failure.action == "RETRY" else None
        )
        attempts_left = retry.retries if retry else 0
        while True:
            self._phase_text, self._phase_text_len = [], 0
            # a stop or timeout (_Stop) skips `finally`: the shells are about to be killed
            error = self._run_commands(phase.commands, user)
            if phase.finally_:
                finally_error = self._run_commands(phase.finally_, user)
                error = error or finally_error
            if error is None:
                result.status, result.context_code, result.context_message = "SUCCEEDED", None, None
                break
            result.status = "FAILED"
            result.context_code, result.context_message = "COMMAND_EXECUTION_ERROR", error
            if attempts_left <= 0:
                break
            text = "\n".join(self._phase_text) + "\n" + error
            if retry and retry.pattern and not re.search(retry.pattern, text, re.M):
                break
            attempts_left -= 1
            result.attempts += 1
            self.log.agent(
                f"Phase {phase_type} failed; retrying (attempt {result.attempts}, "
                f"on-failure {retry.text if retry else ''})"
            )
        return self._complete(result)

    def _complete(self, result: PhaseResult, when: datetime | None = None) -> PhaseResult:
        result.end = self.log.agent(
            f"Phase complete: {result.phase_type} State: {result.status}", when
        )
        # Two spaces before Message when the code is empty, as the agent writes it.
        self.log.agent(
            f"Phase context status code: {result.context_code or ''} "
            f"Message: {result.context_message or ''}"
        )
        return result

    def _capture_exported(self) -> dict[str, str]:
        names = self.spec.env.exported_variables
        if not names:
            return {}
        if not self.persistent or not self.sessions:
            return {n: self.env.get(n, "") for n in names}
        session = self._session(self.spec.run_as)
        mark = "__CIWB_VAR__"
        script = "; ".join(f'printf "%s\\n%s\\n" "{mark}{n}" "${{{n}-}}"' for n in names)
        try:
            _, lines = session.capture(script, deadline=self.deadline)
        except SessionDeadline:
            raise _Stop("TIMED_OUT") from None
        values: dict[str, list[str]] = {}
        current = None
        for line in lines:
            if line.startswith(mark) and line[len(mark) :] in names:
                current = line[len(mark) :]
                values[current] = []
            elif mark in line:
                continue  # `set -x` traced our printf
            elif current is not None:
                values[current].append(line)
        return {n: "\n".join(values.get(n, [])) for n in names}

    def expand(self, text: str) -> str:
        """Evaluate `text` in the build's shell (artifact names: `app-$(date +%F)`)."""
        session = (
            self._session(self.spec.run_as)
            if self.persistent
            else ShellSession(self.transport, self.shell, env=self.env, cwd=self.src_dir)
        )
        lines: list[str] = []
        runner = session.run if self.persistent else session.run_once
        mark = "__CIWB_NAME__"
        try:
            status = runner(f'printf "%s\\n" "{mark}{text}"', lines.append, deadline=self.deadline)
        except SessionDeadline:
            raise _Stop("TIMED_OUT") from None
        lines = [line[len(mark) :] for line in lines if line.startswith(mark)]  # not traces
        if status.exit_status != 0:
            raise RuntimeError(f"cannot evaluate {text!r}: exit status {status.exit_status}")
        return "\n".join(lines)

    def run(self) -> RunOutcome:
        outcome = RunOutcome()
        every = [c.text for p in self.spec.phases.values() for c in p.commands + p.finally_]
        phase = "INSTALL"
        self._stopping = PhaseResult(phase, "IN_PROGRESS", utcnow())
        try:
            if self.persistent and every:
                bad = check_syntax(
                    self.transport, self.shell, every, env=self.env, cwd=self.src_dir
                )
                self._unparsable = {every[i] for i in bad}
            while phase != "FINALIZING":
                if phase == "UPLOAD_ARTIFACTS":
                    result = self._upload_phase()
                    on_failure = None
                else:
                    spec_phase = self.spec.phases.get(BUILD_PHASES[phase])
                    on_failure = spec_phase.on_failure if spec_phase else None
                    result = self._run_build_phase(phase)
                    if phase == "POST_BUILD" or next_phase(
                        phase, result.status != "SUCCEEDED", on_failure
                    ) in ("FINALIZING", "UPLOAD_ARTIFACTS"):
                        outcome.exported = self._capture_exported()
                outcome.phases.append(result)
                failed = result.status != "SUCCEEDED"
                if failed and outcome.status == "SUCCEEDED":
                    outcome.status = "FAILED"
                    self._set_env("CODEBUILD_BUILD_SUCCEEDING", "0")
                phase = next_phase(phase, failed, on_failure)
        except (_Stop, KeyboardInterrupt) as exc:
            stop = exc if isinstance(exc, _Stop) else _Stop("STOPPED")
            outcome.status = stop.status
            self.close()
            last = self._stopping
            last.status = stop.status
            last.context_code = "BUILD_TIMED_OUT" if stop.status == "TIMED_OUT" else "BUILD_STOPPED"
            last.context_message = (
                "Build has timed out. " if stop.status == "TIMED_OUT" else "Build was stopped."
            )
            self._complete(last)
            outcome.phases.append(last)
        return outcome

    def _upload_phase(self) -> PhaseResult:
        start = self.log.agent("Entering phase UPLOAD_ARTIFACTS")
        result = PhaseResult("UPLOAD_ARTIFACTS", "SUCCEEDED", start)
        self._stopping = result
        if self.upload is not None:
            try:
                self.upload(self.expand)
            except (_Stop, KeyboardInterrupt):
                raise
            except Exception as exc:  # artifact errors fail the phase, not the process
                result.status = "FAILED"
                result.context_code = "CLIENT_ERROR"
                result.context_message = str(exc)
                self.log.agent(f"Phase UPLOAD_ARTIFACTS error: {exc}")
        return self._complete(result)

    @staticmethod
    def monotonic_deadline(timeout_s: float | None) -> float | None:
        return None if timeout_s is None else time.monotonic() + timeout_s
