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


@pytest.fixture(scope="session")
def all_reports(report_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`ciwb report all` on the fixture store, run once for every report test."""
    from support.reporting import run_ciwb

    out = tmp_path_factory.mktemp("reports")
    done = run_ciwb("report", "all", "--db", str(report_db), "--out", str(out))
    assert done.returncode == 0, done.stderr + done.stdout
    return out
