from __future__ import annotations

from pathlib import Path

import pytest

from ciwb.demo import PlantedFacts, load_demo, planted_path_for
from ciwb.store import connect


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory) -> tuple[Path, object]:
    """A 12,000-build demo history in a real DuckDB file, generated once per session."""
    db = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    summary = load_demo(db, builds=12_000, seed=11)
    return db, summary


@pytest.fixture(scope="module")
def store(demo_store):
    """A read-only connection to the demo store and the facts it planted."""
    db, _ = demo_store
    planted = PlantedFacts.read(planted_path_for(db))
    with connect(db, read_only=True) as con:
        yield con, planted
