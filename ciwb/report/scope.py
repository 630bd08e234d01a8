"""What a report reads: the store and the builds it covers, resolved from its parameters.

Its own module, apart from `ciwb.report.notebook` (which a kernel imports with the charts),
so that `ciwb report`'s analysis pass resolves the same scope without importing plotly.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, time
from pathlib import Path
from typing import NamedTuple

from ciwb.store import Selection

__all__ = ["DEMO_DB", "Scope", "scope_for"]

# The demo store `make demo` writes, found from the package so any working directory works.
DEMO_DB = Path(__file__).resolve().parents[2] / "data" / "demo.duckdb"


class Scope(NamedTuple):
    """What a notebook reads: the store, and the builds every analytics and cost call covers.

    A named tuple so the first cell unpacks it: `db, sel = notebook.setup(...)`, then
    every cell calls `analytics.<function>(db, sel)` or `cost.<function>(db, sel)`.
    """

    db: Path
    selection: Selection

    def __str__(self) -> str:
        shown = {
            name: value
            for name, value in (
                ("since", _when(self.selection.since)),
                ("until", _when(self.selection.until)),
                ("projects", list(self.selection.projects or ())),
                ("region", self.selection.region),
            )
            if value
        }
        return f"store {self.db}" + (f", {shown}" if shown else ", all builds")


def _when(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.date().isoformat() if value.time() == time() else str(value)


def scope_for(
    db: str | None = None,
    *,
    since: str | None = None,
    until: str | None = None,
    projects: Sequence[str] | str | None = None,
    region: str | None = None,
) -> Scope:
    """The store and selection `setup` resolves its parameters to (and `ciwb report`'s
    analysis pass, so both compute for the same builds)."""
    path = Path(db or os.environ.get("CIWB_DB") or DEMO_DB)
    if isinstance(projects, str):
        projects = [p.strip() for p in projects.split(",") if p.strip()]
    frozen = tuple(projects) if projects is not None else None
    return Scope(path, _memo_selection(since, until, frozen, region))


def _memo_selection(
    since: str | None, until: str | None, projects: tuple[str, ...] | None, region: str | None
) -> Selection:
    from ciwb.report.findings._memo import memo

    # Memoised: a span such as "30d" is resolved once per run, by the pass, for every report.
    return memo(_selection, since, until, projects, region)


def _selection(
    since: str | None, until: str | None, projects: tuple[str, ...] | None, region: str | None
) -> Selection:
    return Selection(since, until, list(projects) if projects is not None else None, region)
