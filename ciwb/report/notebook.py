"""The first cell of every report notebook: resolve the store and the selection."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ciwb.report import charts

if TYPE_CHECKING:
    from ciwb.cost import CostSummary, WhatIf

__all__ = [
    "DEMO_DB",
    "Selection",
    "cost_over_time",
    "setup",
    "show_cost_summary",
    "show_findings",
    "show_whatif",
    "table",
    "cached",
    "whatif",
]

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

    @property
    def period(self) -> dict[str, Any]:
        """The filters `ciwb.cost` takes (it has no region filter: costs span regions)."""
        return {k: v for k, v in self.filters.items() if k != "region"}

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
    """Chart and table defaults on; the store is `db`, else $CIWB_DB, else the demo DB."""
    from ciwb.report import tables
    from ciwb.report.findings import _memo

    _memo.clear()  # a re-run reads the store afresh
    charts.setup()
    _table_defaults()
    tables.setup()
    path = Path(db or os.environ.get("CIWB_DB") or DEMO_DB)
    if isinstance(projects, str):
        projects = [p.strip() for p in projects.split(",") if p.strip()]
    return Selection(path, since or None, until or None, projects or None, region or None)


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

    from ciwb.report import tables

    lines = [
        f"**Assumes:** {whatif.assumption}",
        f"**Evidence:** {whatif.evidence}",
        f"**Uncertainty:** {whatif.uncertainty}",
    ]
    if whatif.unpriced_builds:
        lines.append(f"**Unpriced builds:** {whatif.unpriced_builds:,} (no price known; not zero)")
    lines += [f"- {note}" for note in whatif.notes]
    display(Markdown("\n\n".join(lines)))
    display(tables.show(whatif.display()))


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


def show_findings(report: str, sel: Selection) -> None:
    """The report's window and ranked findings, as HTML, with the same data attached as JSON
    for `ciwb report` (findings.json, the index page)."""
    import json

    from IPython.display import display

    from ciwb.report.findings_view import headline_html
    from ciwb.report.headline import MIMETYPE, headline

    found = headline(report, selection=sel)
    data = json.loads(json.dumps(found.as_dict(), default=str))
    display({"text/html": headline_html(found), MIMETYPE: data}, raw=True)


def whatif(kind: str, sel: Selection) -> WhatIf:
    """The what-if `kind` for the selection: the one the findings were computed from."""
    from ciwb.report.findings.cost import whatif as cached

    return cached(kind, sel.db, sel)


def table(frame: Any, **options: Any) -> Any:
    """A table for people (`ciwb.report.tables.show`)."""
    from ciwb.report import tables

    return tables.show(frame, **options)


def cost_over_time(sel: Selection) -> Any:
    """Cost per day by month, partial first and last months marked."""
    from ciwb.report.findings.cost import summary
    from ciwb.report.headline import days_per_month, window

    table = summary(sel.db, sel, by="month").table
    return charts.cost_over_time(table, days_per_month(window(selection=sel)))


def cached(fn: Any, sel: Selection, *, cost: bool = False, **options: Any) -> Any:
    """`fn(store, **filters)` computed once per report (the findings share it)."""
    from ciwb.report.findings._memo import memo

    given = sel.period if cost else sel.filters
    return memo(fn, sel.db, **given, **options)
