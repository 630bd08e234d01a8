"""Small helpers shared by the replay tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from ciwb.replay import ReplayResult

__all__ = ["StartedClock", "log_text", "phase_statuses", "written"]


def phase_statuses(result: ReplayResult) -> dict[str, str]:
    return {p.phase_type: p.status for p in result.phases}


def log_text(result: ReplayResult) -> str:
    return result.log_path.read_text()


class StartedClock:
    """The replay's timeout clock, made to start when the build reaches a given point.

    `run_replay` counts `timeout_s` from before PROVISIONING, so with a short timeout a busy
    machine can spend it all on setup and time out in the wrong phase. Installed with
    `install`, this clock stands still (the deadline cannot pass) until `started()` is true,
    e.g. until the first command of BUILD wrote a file, and then runs at the real rate: the
    timeout fires `timeout_s` after that point, whatever setup cost. Only the shell's reads
    against the deadline use it; the build's timestamps stay real.
    """

    def __init__(self, started: Callable[[], bool]) -> None:
        self._started = started
        self._origin: float | None = None
        self._since: float | None = None

    def deadline(self, timeout_s: float | None) -> float | None:
        if timeout_s is None:
            return None
        self._origin = time.monotonic()
        return self._origin + timeout_s

    def monotonic(self) -> float:
        now = time.monotonic()
        if self._origin is None:
            return now
        if self._since is None:
            if not self._started():
                return self._origin
            self._since = now
        return self._origin + (now - self._since)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> StartedClock:
        from ciwb.replay import shell
        from ciwb.replay.runner import PhaseRunner

        monkeypatch.setattr(PhaseRunner, "monotonic_deadline", staticmethod(self.deadline))
        monkeypatch.setattr(shell, "time", SimpleNamespace(monotonic=self.monotonic))
        return self


def written(path: Path) -> Callable[[], bool]:
    """True once `path` exists and has content (a pid, a marker line)."""
    return lambda: path.exists() and bool(path.read_text().strip())
