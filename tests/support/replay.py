"""Small helpers shared by the replay tests."""

from __future__ import annotations

from ciwb.replay import ReplayResult


def phase_statuses(result: ReplayResult) -> dict[str, str]:
    return {p.phase_type: p.status for p in result.phases}


def log_text(result: ReplayResult) -> str:
    return result.log_path.read_text()
