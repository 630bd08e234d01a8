from __future__ import annotations

from pathlib import Path

import pytest

from ciwb.demo import load_demo


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory) -> tuple[Path, object]:
    """A 12,000-build demo history in a real DuckDB file, generated once per session."""
    db = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    summary = load_demo(db, builds=12_000, seed=11)
    return db, summary
