"""Progress reporting for long collects: a protocol, a silent one, and a rich one.

Calls come from every concurrent walk's thread (keys are `account/region`), so the rich
one updates under a lock and draws one line per account, never one per account × region.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["CollectProgress", "NullProgress", "RichProgress"]


class CollectProgress(Protocol):
    def planned(self, accounts: dict[str, int], walks: int) -> None: ...
    def account_state(self, account: str, state: str) -> None: ...
    def region_started(self, key: str, projects: int) -> None: ...
    def project_started(self, key: str, project: str) -> None: ...
    def builds_fetched(self, key: str, count: int) -> None: ...
    def project_done(self, key: str, project: str) -> None: ...
    def stage(self, key: str, text: str) -> None: ...
    def region_done(self, key: str) -> None: ...


class NullProgress:
    def planned(self, accounts: dict[str, int], walks: int) -> None:
        pass

    def account_state(self, account: str, state: str) -> None:
        pass

    def region_started(self, key: str, projects: int) -> None:
        pass

    def project_started(self, key: str, project: str) -> None:
        pass

    def builds_fetched(self, key: str, count: int) -> None:
        pass

    def project_done(self, key: str, project: str) -> None:
        pass

    def stage(self, key: str, text: str) -> None:
        pass

    def region_done(self, key: str) -> None:
        pass


class RichProgress:
    """A first line for the whole run (account-regions done, builds read, accounts by
    state), then one line per account: regions done, each region's current project or
    stage, its builds. With more than `max_rows` accounts only the accounts being collected
    have a line; the others are counted on the first. Use as a context manager."""

    def __init__(self, console: Console | None = None, max_rows: int = 10) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.fields[key]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TextColumn("[dim]{task.fields[builds]:,} builds"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
        )
        self._max_rows = max_rows
        self._lock = threading.Lock()
        self._overall: TaskID | None = None
        self._accounts: dict[str, TaskID] = {}
        self._state: dict[str, str] = {}
        self._regions: dict[str, dict[str, str]] = {}  # account → region → what it is doing
        self._builds: Counter[str] = Counter()

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.stop()

    # -- lines

    def _account_task(self, account: str) -> TaskID:
        if account not in self._accounts:
            self._accounts[account] = self._progress.add_task(
                "waiting", total=None, key=account, builds=0, visible=False
            )
        return self._accounts[account]

    def _redraw(self, account: str | None = None) -> None:
        if self._overall is not None:
            counts = Counter(s.split(":")[0] for s in self._state.values())
            text = " · ".join(f"{n} {s}" for s, n in sorted(counts.items()))
            self._progress.update(
                self._overall, description=f"accounts: {text}", builds=sum(self._builds.values())
            )
        if account is None:
            return
        regions = self._regions.get(account, {})
        state = self._state.get(account, "waiting")
        if state == "collecting" or state == "done":
            description = ", ".join(f"{r} {what}" for r, what in regions.items()) or state
        else:
            description = state
        few = len(self._accounts) <= self._max_rows
        self._progress.update(
            self._account_task(account),
            description=description,
            builds=self._builds[account],
            visible=few or state == "collecting",
        )

    # -- the protocol

    def planned(self, accounts: dict[str, int], walks: int) -> None:
        with self._lock:
            self._overall = self._progress.add_task(
                "", total=walks, key="account-regions", builds=0
            )
            for account, regions in accounts.items():
                task = self._account_task(account)
                self._progress.update(task, total=regions)
                self._state.setdefault(account, "waiting")
            for account in accounts:
                self._redraw(account)
            self._redraw()

    def account_state(self, account: str, state: str) -> None:
        with self._lock:
            self._account_task(account)
            self._state[account] = state
            self._redraw(account)

    def _region(self, key: str, what: str) -> None:
        account, _, region = key.partition("/")
        self._regions.setdefault(account, {})[region] = what
        self._redraw(account)

    def region_started(self, key: str, projects: int) -> None:
        with self._lock:
            self._region(key, f"0/{projects} projects")

    def project_started(self, key: str, project: str) -> None:
        with self._lock:
            self._region(key, project)

    def builds_fetched(self, key: str, count: int) -> None:
        with self._lock:
            account = key.partition("/")[0]
            self._builds[account] += count
            self._redraw(account)

    def project_done(self, key: str, project: str) -> None:
        pass

    def stage(self, key: str, text: str) -> None:
        with self._lock:
            self._region(key, text)

    def region_done(self, key: str) -> None:
        with self._lock:
            account = key.partition("/")[0]
            self._progress.advance(self._account_task(account))
            if self._overall is not None:
                self._progress.advance(self._overall)
            self._region(key, "done")
            self._redraw()
