"""The replay's build log, written in CodeBuild's own agent format and masked line by line.

The format is shared with the CloudWatch parser (`ciwb.codebuild.agent_log`), so a replay's
log reads back into the same per-command timings as a cloud build's.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from ciwb.codebuild.agent_log import format_agent_line
from ciwb.codebuild.clock import utcnow
from ciwb.replay.environment import Masker

__all__ = ["AgentLogWriter"]


class AgentLogWriter:
    """Agent lines (`[Container] …`) and raw output lines, every one through the masker."""

    def __init__(self, path: Path, masker: Masker, *, echo: bool = False) -> None:
        self.path = path
        self.masker = masker
        self.echo = echo
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8", buffering=1)

    def agent(self, message: str, when: datetime | None = None) -> datetime:
        when = when or utcnow()
        self._write(format_agent_line(when, self.masker(message)))
        return when

    def output(self, line: str) -> None:
        self._write(self.masker(line))

    def _write(self, text: str) -> None:
        self._file.write(text + "\n")
        if self.echo:  # --follow: the log as it is written, on stderr
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        self._file.close()
