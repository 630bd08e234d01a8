"""Shared fixtures. Every store fixture is a real DuckDB file under tmp_path.

The AWS endpoint fixtures (`moto_server`, `aws_env`) come from support.aws, registered here
so every test directory can ask for them; support.tiers makes the skip of a required tier
(Docker, QEMU, Chromium: under CI or CIWB_REQUIRE) a failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["support.aws", "support.tiers"]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ciwb.duckdb"
