"""Realistic CodeBuild histories in boto3's shapes, for seeding the local endpoint.

Histories come from `ciwb.demo` (re-homed to moto's account). `support.builds.build_record`
hand-builds what the demo does not emit: a build still in progress, and a few new builds
arriving between two runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from support.aws import ACCOUNT

__all__ = ["DEMO_ACCOUNT", "OTHER_ACCOUNT", "demo", "history"]

DEMO_ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"  # the demo's second account, reached by assuming a role


def _rehome(value: Any) -> Any:
    """The demo's records with moto's account id in every ARN, so rows agree with STS."""
    if isinstance(value, str):
        return value.replace(DEMO_ACCOUNT, ACCOUNT)
    if isinstance(value, dict):
        return {k: _rehome(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rehome(v) for v in value]
    return value


def demo(builds: int, *, seed: int = 3, days: int = 10, end: datetime | None = None) -> Any:
    """A `ciwb.demo` history ending an hour ago, re-homed to moto's account."""
    from ciwb.demo import generate

    end = end or (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None, microsecond=0)
    h = generate(builds=builds, seed=seed, days=days, end=end)
    h.projects, h.builds = _rehome(h.projects), _rehome(h.builds)
    h.build_batches, h.reports = _rehome(h.build_batches), _rehome(h.reports)
    h.test_cases = _rehome(h.test_cases)
    return h


def history(
    builds: int,
    *,
    seed: int = 3,
    days: int = 10,
    end: datetime | None = None,
    account: str | None = ACCOUNT,
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Demo project records and, per project, its builds oldest first. The demo spreads
    projects over two accounts; `account` keeps one of them (None: both)."""
    h = demo(builds, seed=seed, days=days, end=end)
    projects = [p for p in h.projects if account is None or f":{account}:" in p["arn"]]
    by_project: dict[str, list[dict[str, Any]]] = {p["name"]: [] for p in projects}
    for build in sorted(h.builds, key=lambda b: (b["startTime"], b["buildNumber"])):
        # The history ends an hour before now, so whether the demo leaves a build running
        # at its end depends on the time of day; tests that want one add it themselves.
        if not build["buildComplete"]:
            continue
        if build["projectName"] in by_project:
            by_project[build["projectName"]].append(build)
    return projects, by_project
