"""The first cell of every report notebook: resolve the store and the selection."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ciwb.report import charts

__all__ = ["DEMO_DB", "Selection", "setup"]

# The demo store `make demo` writes, found from the package so any working directory works.
DEMO_DB = Path(__file__).resolve().parents[2] / "data" / "demo.duckdb"


@dataclass(frozen=True)
class Selection:
    """The store and the filters every analytics call in a notebook shares."""

    db: Path
    since: str | None = None
    until: str | None = None
    projects: Sequence[str] | None = None
    region: str | None = None

    @property
    def filters(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "projects": list(self.projects) if self.projects else None,
            "region": self.region,
        }

    def __str__(self) -> str:
        shown = {k: v for k, v in self.filters.items() if v}
        return f"store {self.db}" + (f", {shown}" if shown else ", all builds")


def setup(
    db: str | None = None,
    *,
    since: str | None = None,
    until: str | None = None,
    projects: Sequence[str] | str | None = None,
    region: str | None = None,
) -> Selection:
    """Chart defaults on; the store is `db`, else $CIWB_DB, else the demo DB."""
    charts.setup()
    path = Path(db or os.environ.get("CIWB_DB") or DEMO_DB)
    if isinstance(projects, str):
        projects = [p.strip() for p in projects.split(",") if p.strip()]
    return Selection(path, since or None, until or None, projects or None, region or None)
