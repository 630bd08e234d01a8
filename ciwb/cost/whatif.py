"""What-if results and the registry that runs them by name (`ciwb cost whatif KIND`).

Every what-if is a table that says what it assumes, what evidence it rests on and how
uncertain it is; where there is no evidence it says "unknown" instead of guessing.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ciwb.errors import CiwbError
from ciwb.store import DbLike, Selection

__all__ = ["WHATIFS", "WhatIf", "register_whatif", "rows_by_project", "run_whatif"]

MONTH_DAYS = 30.4375


@dataclass
class WhatIf:
    kind: str
    assumption: str
    evidence: str
    uncertainty: str
    table: pl.DataFrame
    unpriced_builds: int = 0
    notes: list[str] = field(default_factory=list)
    columns: tuple[str, ...] = ()  # the ones worth showing in a terminal; all go to JSON

    def display(self) -> pl.DataFrame:
        shown = [c for c in self.columns if c in self.table.columns]
        return self.table.select(shown) if shown else self.table

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "assumption": self.assumption,
            "evidence": self.evidence,
            "uncertainty": self.uncertainty,
            "unpriced_builds": self.unpriced_builds,
            "notes": self.notes,
            "table": self.table.to_dicts(),
        }


WHATIFS: dict[str, Callable[..., WhatIf]] = {}


def register_whatif(kind: str) -> Callable[[Callable[..., WhatIf]], Callable[..., WhatIf]]:
    def decorate(func: Callable[..., WhatIf]) -> Callable[..., WhatIf]:
        WHATIFS[kind] = func
        return func

    return decorate


def _load_builtin() -> None:
    # Importing the modules registers them (papermill-style registry).
    import importlib

    for name in ("arm64", "rightsize", "cache", "reserved", "lambda_compute"):
        try:
            importlib.import_module(f"ciwb.cost.{name}")
        except ModuleNotFoundError as exc:  # a what-if not written yet
            if exc.name != f"ciwb.cost.{name}":
                raise


def run_whatif(
    kind: str, db: DbLike = None, selection: Selection | None = None, **options: Any
) -> WhatIf:
    """Run the what-if called `kind` (arm64, rightsize, cache, reserved, lambda) on `selection`."""
    _load_builtin()
    if kind not in WHATIFS:
        raise CiwbError(f"no what-if called {kind!r}", hint=f"use one of {', '.join(WHATIFS)}")
    func = WHATIFS[kind]
    accepted = inspect.signature(func).parameters
    for name in options:
        if name not in accepted:
            flag = "--" + name.replace("_", "-")
            raise CiwbError(f"{flag} does not apply to the {kind} what-if")
    return func(db, selection, **options)


def months_covered(con: Any, table: str = "_ciwb_c") -> float:
    """Months spanned by the costed builds (at least one day), to turn totals into per-month."""
    rows = con.execute(
        f"SELECT epoch(max(end_time)) - epoch(min(start_time)) FROM {table}"
    ).fetchall()
    seconds = rows[0][0] or 0.0
    return max(float(seconds) / 86400.0, 1.0) / MONTH_DAYS


def rows_by_project(frame: pl.DataFrame) -> Callable[[str | None], pl.DataFrame]:
    """`name` → `frame`'s rows for that project (in order), split once: a what-if loops
    over every project, and filtering the whole history per project was O(projects × rows)."""
    parts = frame.partition_by("project_name", as_dict=True, maintain_order=True)
    empty = frame.clear()

    def rows(name: str | None) -> pl.DataFrame:
        # a NULL name matches no row, as `filter(col == name)` would
        return parts.get((name,), empty) if name is not None else empty

    return rows


def billed_sql(seconds: str, granularity_s: int, minimum_s: int) -> str:
    """SQL for billed seconds under a rule: round up to the granularity, at least the minimum."""
    return (
        f"CASE WHEN ({seconds}) <= 0 THEN 0.0 ELSE greatest(ceil(({seconds}) / {granularity_s})"
        f" * {granularity_s}, {minimum_s}) END"
    )
