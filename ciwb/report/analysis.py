"""The analysis pass of `ciwb report`: every report's findings and tables computed once.

Each report notebook asks for its analytics through `notebook.cached` (and its findings
through `notebook.show_findings`); run one after the other, each kernel computed again what
the others had (the phase breakdown four times, every what-if twice, the costed builds eight
times). Here `NEEDS` lists, per report, what its findings and cells read. The pass computes
them for the whole run, grouped into *families* that share work on one store connection
(the costed builds, the fleets' replays; `ciwb.store.session`), one process per family and
as many at once as there are cores (`plan` orders them), each `dump`ing its results; a
report's kernel starts once the families it reads are done, loads their files
(`notebook.setup`) and finds everything already there.

A notebook runs the same without the pass (in JupyterLab, or one `NEEDS` does not list): the
memo computes what it does not find. So `NEEDS` is an optimisation, never a second source
of truth — a cell whose call is missing from it is slower, not wrong.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ciwb import analytics, cost
from ciwb.report.findings import _memo
from ciwb.report.findings.base import produced, producers
from ciwb.report.findings.cost import summary, whatif
from ciwb.report.headline import COSTED, window
from ciwb.report.scope import scope_for
from ciwb.store import Selection
from ciwb.store.session import shared_reading

__all__ = ["NEEDS", "Need", "analyse", "families_of", "needs_of", "plan", "worker_count"]

Compute = Callable[[Path, Selection], Any]


@dataclass(frozen=True)
class Need:
    """One result a report reads: `compute(db, sel)` fills the memo the notebook reads."""

    family: str  # needs of one family share a connection's work, so one process runs them
    label: str
    compute: Compute


def _cached(family: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Need:
    """What `notebook.cached(fn, db, sel, **kwargs)` reads (with `args` before db)."""
    shown = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
    return Need(
        family,
        f"{fn.__qualname__}({shown})",
        lambda db, sel: _memo.memo(fn, *args, db, sel, **kwargs),
    )


def _whatif(kind: str) -> Need:
    return Need("costs", f"whatif({kind!r})", lambda db, sel: whatif(kind, db, sel))


def _cost_by(by: str) -> Need:
    return Need("costs", f"cost_summary(by={by!r})", lambda db, sel: summary(db, sel, by=by))


_WINDOW = Need("phases", "window", lambda db, sel: window(db, sel))

# Which family a module's findings producers belong to (by module, ciwb.report.findings.*).
_PRODUCER_FAMILY = {
    "bill": "costs",
    "bottlenecks": "phases",
    "cache": "costs",
    "cost": "costs",
    "explore": "phases",
    # The fleets' findings price the fleets' builds: the costed builds table and the fleets'
    # replay (`_ciwb_overflow`) that the costs family makes anyway, so on its connection
    # they are made once, not once in each of two processes (~4 s of a 1M-build pass).
    "fleets": "costs",
    "graviton": "costs",
}

# Seconds each family takes on a 1M-build store (measured; only to order `plan`).
_WEIGHT = {"costs": 21.0, "phases": 8.4}

# What each report's cells read besides its findings (notebooks/generate.py writes the cells).
NEEDS: dict[str, list[Need]] = {
    "explore": [
        _cached("phases", analytics.projects_overview),
        _cached("phases", analytics.phase_breakdown),
        _cached("phases", analytics.duration_trends, period="week"),
        _cached("phases", analytics.failure_causes),
    ],
    "bottleneck_report": [
        _cached("phases", analytics.phase_breakdown),
        _cached("phases", analytics.duration_regressions),
        _cached("phases", analytics.duration_trends, period="day"),
        _cached("phases", analytics.failure_causes),
        _cached("phases", analytics.failure_rates),
        _cached("phases", analytics.failing_commands),
        _cached("phases", analytics.flaky_tests),
        _cached("phases", analytics.command_hotspots),
        _cached("phases", analytics.batch_critical_paths),
    ],
    "cache_tuning": [
        _cached("phases", analytics.cache_hit_rate_by_gap),
        _cached("costs", analytics.cache_idle_expiry),
        _whatif("cache"),
        _cached("phases", analytics.phase_breakdown),
    ],
    "graviton_vs_x86": [
        _cached("phases", analytics.arch_comparison),
        _whatif("arm64"),
    ],
    "cost_report": [
        _cost_by("project"),
        _cost_by("month"),
        _cached("costs", cost.phase_cost_shares),
        _whatif("rightsize"),
        _whatif("lambda"),
        _whatif("reserved"),
        _cached("phases", analytics.phase_breakdown),
    ],
    "reconciliation": [
        _cost_by("month"),
    ],
}


def needs_of(report: str) -> list[Need]:
    """Everything `report` reads: its findings (each producer), headline and cells."""
    found = [
        Need(
            _PRODUCER_FAMILY.get(p.__module__.rsplit(".", 1)[-1], "other"),
            f"findings {p.__qualname__}",
            lambda db, sel, p=p: produced(p, db=db, selection=sel),
        )
        for p in producers(report)
    ]
    headline = [_WINDOW, _cost_by("project")] if report in COSTED else [_WINDOW]
    return [*found, *headline, *NEEDS.get(report, [])]


def families_of(report: str) -> set[str]:
    """The families whose results `report`'s kernel reads (none for an unknown notebook)."""
    if report not in NEEDS and not producers(report):
        return set()
    return {need.family for need in needs_of(report)}


def plan(reports: Sequence[str]) -> list[str]:
    """The families the run's reports read, heaviest first: the order to start them in, so
    the longest finishes soonest and the reports waiting on the light ones start early."""
    families = {f for r in reports for f in families_of(r)}
    return sorted(families, key=lambda f: (-_WEIGHT.get(f, 1.0), f))


def analyse(
    db: Path,
    reports: Mapping[str, Mapping[str, Any]],
    family: str,
    out: Path,
) -> float:
    """Compute the needs of `family` for `reports` (name → parameter values) on one
    connection, write the results to `out` (`_memo.load` reads them); returns seconds."""
    t0 = time.monotonic()
    _memo.clear()
    with shared_reading(db):
        for name, values in reports.items():
            scope = scope_for(
                str(values.get("db") or db),
                since=values.get("since"),
                until=values.get("until"),
                projects=values.get("projects"),
                region=values.get("region"),
            )
            for need in needs_of(name):
                if need.family == family:
                    need.compute(scope.db, scope.selection)
    _memo.dump(out)
    return time.monotonic() - t0


def worker_count() -> int:
    """Processes for a run: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
