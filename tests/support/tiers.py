"""Test tiers: the Docker daemon with the base images, binfmt/QEMU, headless Chromium.

A test that needs a tier carries its marker (`docker`, `qemu`, `browser`) and one of the skip
markers below, which skip it with the reason when the tier is not there. That is right on a
developer's machine and wrong in CI: when `.ci/run` could not start dockerd or build an image,
fifteen container tests would skip and the run would stay green, so a regression in
`ciwb images build` or `--executor docker` could land unseen.

So a tier can be *required*. `CIWB_REQUIRE` lists the required tiers (`docker,qemu,browser`;
`chromium` is an alias of `browser`; `all`; empty for none). Under CI (`CI=true`, as `.ci/run`
runs) every tier is required unless `CIWB_REQUIRE` says otherwise. This module is a pytest
plugin (tests/conftest.py registers it): a test marked with a required tier that skips — for
any reason, at setup or in its body — is reported as a failure naming the tier and the reason.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from ciwb.errors import DockerUnavailableError
from ciwb.images import default_tag
from ciwb.images import host as host_mod
from support.chromium import CHROMIUM

__all__ = [
    "CHROMIUM_REASON",
    "DOCKER_REASON",
    "QEMU_REASON",
    "TIERS",
    "needs_chromium",
    "needs_docker",
    "needs_qemu",
    "required_tiers",
]

TIERS = ("docker", "qemu", "browser")
_ALIASES = {"chromium": "browser", "container": "docker", "containers": "docker"}


def required_tiers(env: Mapping[str, str] | None = None) -> frozenset[str]:
    """The tiers whose absence fails the run rather than skipping tests."""
    env = os.environ if env is None else env
    if "CIWB_REQUIRE" not in env:
        return (
            frozenset(TIERS) if env.get("CI", "").lower() in ("1", "true", "yes") else frozenset()
        )
    names = {_ALIASES.get(n, n) for n in env["CIWB_REQUIRE"].replace(" ", "").lower().split(",")}
    names.discard("")
    if "all" in names:
        return frozenset(TIERS)
    unknown = names - set(TIERS)
    if unknown:
        raise pytest.UsageError(
            f"CIWB_REQUIRE names unknown tier(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(TIERS)}, chromium, all"
        )
    return frozenset(names)


def _docker_reason() -> str | None:
    from docker.errors import ImageNotFound

    try:
        client = host_mod.docker_client(timeout=10)
    except DockerUnavailableError as exc:
        return f"no Docker daemon ({exc}); .ci/run starts one"
    missing = []
    for arch in ("amd64", "arm64"):
        try:
            client.images.get(default_tag(arch))
        except ImageNotFound:
            missing.append(default_tag(arch))
    if missing:
        return f"base images missing: {', '.join(missing)} (built by .ci/run: ciwb images build)"
    return None


def _qemu_reason() -> str | None:
    if host_mod.binfmt_registered("arm64") and host_mod.binfmt_registered("amd64"):
        return None
    return (
        "binfmt/QEMU for the foreign architecture is not registered "
        "(apt-get install qemu-user-static binfmt-support; .ci/run does it)"
    )


DOCKER_REASON = _docker_reason()
QEMU_REASON = _qemu_reason()
CHROMIUM_REASON = None if CHROMIUM else "headless Chromium not installed (apt-get install chromium)"
needs_docker = pytest.mark.skipif(DOCKER_REASON is not None, reason=DOCKER_REASON or "")
needs_qemu = pytest.mark.skipif(QEMU_REASON is not None, reason=QEMU_REASON or "")
needs_chromium = pytest.mark.skipif(CHROMIUM_REASON is not None, reason=CHROMIUM_REASON or "")


@dataclass(frozen=True)
class TierFailure:
    """The failure a required tier's skip becomes; `reprcrash` puts it in the -ra summary."""

    message: str

    @property
    def reprcrash(self) -> TierFailure:
        return self

    def toterminal(self, tw: Any) -> None:
        tw.line(self.message, red=True, bold=True)

    def __str__(self) -> str:
        return self.message


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def pytest_report_header(config: pytest.Config) -> str:
    required = required_tiers()
    return "ciwb tiers: " + ", ".join(
        f"{tier}={'required' if tier in required else 'optional'}"
        f"{'' if reason is None else ' (unavailable)'}"
        for tier, reason in zip(TIERS, (DOCKER_REASON, QEMU_REASON, CHROMIUM_REASON), strict=True)
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Turn the skip of a test marked with a required tier into a failure that names it."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    tiers = [tier for tier in TIERS if item.get_closest_marker(tier) is not None]
    required = [tier for tier in tiers if tier in required_tiers()]
    if not required:
        return
    report.outcome = "failed"
    report.longrepr = TierFailure(
        f"required tier {'/'.join(required)} is not available, the test would have skipped: "
        f"{_skip_reason(report)} "
        "[tiers are required under CI=true or CIWB_REQUIRE; CIWB_REQUIRE= lets them skip]"
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say once, at the end, which required tiers this machine did not provide."""
    reasons = dict(zip(TIERS, (DOCKER_REASON, QEMU_REASON, CHROMIUM_REASON), strict=True))
    missing = {t: r for t, r in reasons.items() if t in required_tiers() and r is not None}
    if missing:
        terminalreporter.section("required tiers not available", red=True)
        for tier, reason in missing.items():
            terminalreporter.line(f"{tier}: {reason}")
