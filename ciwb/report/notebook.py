"""The first cell of every report notebook: resolve the store and the selection."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ciwb.report import charts
from ciwb.store import Selection

if TYPE_CHECKING:
    from ciwb.cost import CostSummary, WhatIf
    from ciwb.report.findings import Finding

__all__ = ["DEMO_DB", "Scope", "setup", "show_cost_summary", "show_findings", "show_whatif"]

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


def setup(
    db: str | None = None,
    *,
    since: str | None = None,
    until: str | None = None,
    projects: Sequence[str] | str | None = None,
    region: str | None = None,
) -> Scope:
    """Chart and table defaults on, and the scope printed; the store is `db`, else $CIWB_DB,
    else the demo DB. `projects` may be one comma-separated string (a papermill parameter)."""
    charts.setup()
    _table_defaults()
    path = Path(db or os.environ.get("CIWB_DB") or DEMO_DB)
    if isinstance(projects, str):
        projects = [p.strip() for p in projects.split(",") if p.strip()]
    scope = Scope(path, Selection(since, until, projects, region))
    print(scope)
    return scope


def _table_defaults() -> None:
    """Tables for readers, not for debugging: no shape or dtype rows, whole names, more rows."""
    import polars as pl

    pl.Config.set_tbl_hide_dataframe_shape(True)
    pl.Config.set_tbl_hide_column_data_types(True)
    pl.Config.set_fmt_str_lengths(80)
    pl.Config.set_tbl_rows(40)


def show_whatif(whatif: WhatIf) -> None:
    """A what-if as the reader needs it: assumption, evidence, uncertainty, then the table."""
    from IPython.display import Markdown, display

    lines = [
        f"**Assumes:** {whatif.assumption}",
        f"**Evidence:** {whatif.evidence}",
        f"**Uncertainty:** {whatif.uncertainty}",
    ]
    if whatif.unpriced_builds:
        lines.append(f"**Unpriced builds:** {whatif.unpriced_builds:,} (no price known; not zero)")
    lines += [f"- {note}" for note in whatif.notes]
    display(Markdown("\n\n".join(lines)))
    display(whatif.display())


def show_cost_summary(summary: CostSummary) -> None:
    """Totals as lower–upper bounds, what could not be priced and why, and the assumptions."""
    from IPython.display import Markdown, display

    lines = [
        f"**{summary.builds:,} builds, {summary.currency} {summary.cost_lower:,.2f} – "
        f"{summary.cost_upper:,.2f}** ({summary.priced_builds:,} priced, "
        f"{summary.unpriced_builds:,} unpriced, {summary.in_progress_builds:,} in progress).",
    ]
    lines += [
        f"- unpriced: {reason} ({count:,} builds)"
        for reason, count in summary.unpriced_reasons.items()
    ]
    lines += ["", "Assumptions:"] + [f"- {a}" for a in summary.assumptions]
    display(Markdown("\n".join(lines)))


def show_findings(findings: Sequence[Finding]) -> None:
    """Findings as a ranked list: what was found, its worth, the evidence, what to do."""
    from IPython.display import Markdown, display

    lines = []
    for rank, f in enumerate(findings, start=1):
        worth = (
            f" — **${f.usd_per_month_high:,.2f}/month**" if f.usd_per_month_high is not None else ""
        )
        lines.append(f"{rank}. **{f.title}**{worth} ({f.strength})  ")
        lines.append(f"   {f.evidence}  ")
        lines.append(f"   *What to do:* {f.action}" + (f" — `{f.command}`" if f.command else ""))
    display(Markdown("\n".join(lines) or "No findings."))
