"""A fixture store for the report tests: a small seeded demo history, made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def report_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ciwb.demo import load_demo

    path = tmp_path_factory.mktemp("report-db") / "fixture.duckdb"
    load_demo(path, builds=3000, seed=11)
    return path
