"""Changes → a plain-text table."""

from __future__ import annotations

from collections.abc import Iterable

from tabulate import tabulate

from sample.changes import Change


def render_table(changes: Iterable[Change]) -> str:
    rows = [(c.day.isoformat(), c.kind, c.text) for c in changes]
    return tabulate(rows, headers=("date", "kind", "change"), tablefmt="github")
