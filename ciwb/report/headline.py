"""A report's headline: the window it covers, the builds and cost in it, and its findings.

The notebook shows it above the findings and attaches it to its output as JSON
(`MIMETYPE`); `ciwb report` writes that JSON beside the HTML (`<stem>.findings.json`) and the
index page shows each report's headline from it, so all three say the same thing.
"""

from __future__ import annotations

import calendar
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl

from ciwb.report.findings import Finding, findings_for
from ciwb.report.findings._memo import memo

__all__ = ["COSTED", "MIMETYPE", "Headline", "Window", "days_per_month", "headline", "window"]

MIMETYPE = "application/vnd.ciwb.findings+json"


@dataclass(frozen=True)
class Window:
    first: datetime | None  # first build's start
    last: datetime | None  # last build's end (or start, while it runs)
    builds: int


@dataclass(frozen=True)
class Headline:
    report: str
    window: Window
    cost_low: float | None
    cost_high: float | None
    unpriced_builds: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def top(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["window"] = {
            "first": self.window.first.isoformat() if self.window.first else None,
            "last": self.window.last.isoformat() if self.window.last else None,
            "builds": self.window.builds,
        }
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Headline:
        w = data.get("window") or {}
        return cls(
            report=data["report"],
            window=Window(
                datetime.fromisoformat(w["first"]) if w.get("first") else None,
                datetime.fromisoformat(w["last"]) if w.get("last") else None,
                int(w.get("builds") or 0),
            ),
            cost_low=data.get("cost_low"),
            cost_high=data.get("cost_high"),
            unpriced_builds=int(data.get("unpriced_builds") or 0),
            findings=[Finding(**f) for f in data.get("findings", [])],
        )


def _window(db: Any, selection: Any = None) -> Window:
    from ciwb.store import Selection, reading

    where, params = (selection or Selection()).where("b")
    with reading(db) as con:
        first, last, builds = con.execute(
            "SELECT min(b.start_time), max(coalesce(b.end_time, b.start_time)), count(*) "
            f"FROM builds b WHERE {where}",
            params,
        ).fetchone()
    return Window(first, last, int(builds or 0))


def window(db: Any = None, selection: Any = None) -> Window:
    """First build, last build and number of builds in the selection."""
    return memo(_window, db, selection)


# Reports whose headline carries the total cost: pricing every build takes a second or two,
# and the other reports of a run cover the same builds (the index shows it once, from these).
COSTED = frozenset({"cost_report"})


def headline(report: str, db: Any = None, selection: Any = None) -> Headline:
    found = findings_for(report, db=db, selection=selection)
    low = high = None
    unpriced = 0
    if report in COSTED:
        from ciwb.cost import cost_summary

        costs = memo(cost_summary, db, selection, by="project")
        if costs.priced_builds:
            low, high = costs.cost_lower, costs.cost_upper
        unpriced = costs.unpriced_builds
    return Headline(
        report=report,
        window=window(db, selection),
        cost_low=low,
        cost_high=high,
        unpriced_builds=unpriced,
        findings=found,
    )


def days_per_month(win: Window) -> pl.DataFrame:
    """Month → days of it the window covers, and its length: to normalise partial months."""
    schema = {"month": pl.Date, "days": pl.Int64, "days_in_month": pl.Int64}
    if win.first is None or win.last is None:
        return pl.DataFrame(schema=schema)
    rows = []
    day = date(win.first.year, win.first.month, 1)
    while day <= win.last.date():
        length = calendar.monthrange(day.year, day.month)[1]
        start = max(win.first.date(), day)
        end = min(win.last.date(), date(day.year, day.month, length))
        rows.append({"month": day, "days": (end - start).days + 1, "days_in_month": length})
        day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return pl.DataFrame(rows, schema=schema)
