"""Shared fixtures. Every store fixture is a real DuckDB file under tmp_path.

The AWS endpoint fixtures (`moto_server`, `aws_env`) come from support.aws, registered here
so every test directory can ask for them; support.tiers makes the skip of a required tier
(Docker, QEMU, Chromium: under CI or CIWB_REQUIRE) a failure.

`make test` runs the suite on every core (pytest-xdist, `-n auto --dist loadgroup`). Each
worker has its own moto server on its own port and its own tmp_path; what workers would
share or build twice is grouped onto one worker by `pytest_collection_modifyitems` below.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["support.aws", "support.tiers"]

# Session fixtures every worker may build for itself: cheap, and nothing shared outside it.
_PER_WORKER = {"moto_server", "tmp_path_factory", "worker_id", "testrun_uid"}


def xdist_group(item: pytest.Item) -> str | None:
    """The group a test must share a worker with, if any.

    - `docker`: every Docker/QEMU test: one daemon, the same base images and image cache, and
      a two-core machine that emulated builds already saturate.
    - a session fixture of a test directory (e.g. the 12,000-build demo store, the report
      store): the tests that use it run where it was built, so it is built once.
    - a module fixture (e.g. all reports executed once): the module's tests run together.
    """
    if item.get_closest_marker("docker") or item.get_closest_marker("qemu"):
        return "docker"
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    defs = [d for name in item.fixturenames for d in info.name2fixturedefs.get(name, ())]
    for fixture in defs:
        if fixture.scope == "session" and fixture.argname not in _PER_WORKER:
            return f"session:{fixture.argname}"
    for fixture in defs:
        if fixture.scope == "module":
            return f"module:{item.nodeid.split('::')[0]}"
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks (--dist loadgroup)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group") is None and (group := xdist_group(item)):
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ciwb.duckdb"
