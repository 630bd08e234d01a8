"""The first cell of every report notebook: resolve the store and the selection."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ciwb.report import charts
from ciwb.report.scope import DEMO_DB, Scope, scope_for
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
