"""The first cell of every report notebook: resolve the store and the selection."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ciwb.report import charts
from ciwb.store import Selection

if TYPE_CHECKING:
    from ciwb.cost import CostSummary, WhatIf

__all__ = [
    "DEMO_DB",
    "RESULTS_ENV",
    "Scope",
    "cached",
    "cost_over_time",
    "setup",
    "show_cost_summary",
    "show_findings",
    "show_whatif",
    "scope_for",
    "table",
    "whatif",
]

# Set by `ciwb report` for its kernels: the result files of its analysis pass, os.pathsep-joined.
RESULTS_ENV = "CIWB_REPORT_RESULTS"

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
    from ciwb.report import tables
    from ciwb.report.findings import _memo

    _memo.clear()  # a re-run reads the store afresh
    # Under `ciwb report`: what its analysis pass computed for every report of the run.
    results = os.environ.get(RESULTS_ENV)
    if results:
        _memo.load(p for p in results.split(os.pathsep) if p)
    charts.setup()
    _table_defaults()
    tables.setup()
    scope = scope_for(db, since=since, until=until, projects=projects, region=region)
    print(scope)
    return scope


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


def show_findings(report: str, db: Path, sel: Selection) -> None:
    """The report's window and ranked findings, as HTML, with the same data attached as JSON
    for `ciwb report` (findings.json, the index page)."""
    import json

    from IPython.display import display

    from ciwb.report.findings_view import headline_html
    from ciwb.report.headline import MIMETYPE, headline

    found = headline(report, db, sel)
    data = json.loads(json.dumps(found.as_dict(), default=str))
    display({"text/html": headline_html(found), MIMETYPE: data}, raw=True)


def whatif(kind: str, db: Path, sel: Selection) -> WhatIf:
    """The what-if `kind` for the selection: the one the findings were computed from."""
    from ciwb.report.findings.cost import whatif as shared

    return shared(kind, db, sel)


def table(frame: Any, **options: Any) -> Any:
    """A table for people (`ciwb.report.tables.show`)."""
    from ciwb.report import tables

    return tables.show(frame, **options)


def cost_over_time(db: Path, sel: Selection) -> Any:
    """Cost per day by month, partial first and last months marked."""
    from ciwb.report.findings.cost import summary
    from ciwb.report.headline import days_per_month, window

    months = summary(db, sel, by="month").table
    return charts.cost_over_time(months, days_per_month(window(db, sel)))


def cached(fn: Any, db: Path, sel: Selection, **options: Any) -> Any:
    """`fn(db, sel, **options)`, computed once per report (the findings share it)."""
    from ciwb.report.findings._memo import memo

    return memo(fn, db, sel, **options)
