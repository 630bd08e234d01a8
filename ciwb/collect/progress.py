"""Progress reporting for long collects: a protocol, a silent one, and a rich one."""

from __future__ import annotations

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
    def region_started(self, key: str, projects: int) -> None: ...
    def project_started(self, key: str, project: str) -> None: ...
    def builds_fetched(self, key: str, count: int) -> None: ...
    def project_done(self, key: str, project: str) -> None: ...
    def stage(self, key: str, text: str) -> None: ...
    def region_done(self, key: str) -> None: ...


class NullProgress:
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
    """One bar per account/region counting projects; its label names the current project
    and the builds fetched so far. Use as a context manager."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.fields[key]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TextColumn("[dim]{task.fields[builds]} builds"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
        )
        self._tasks: dict[str, TaskID] = {}
        self._builds: dict[str, int] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.stop()

    def region_started(self, key: str, projects: int) -> None:
        self._builds[key] = 0
        self._tasks[key] = self._progress.add_task("projects", total=projects, key=key, builds=0)

    def project_started(self, key: str, project: str) -> None:
        self._progress.update(self._tasks[key], description=project)

    def builds_fetched(self, key: str, count: int) -> None:
        self._builds[key] += count
        self._progress.update(self._tasks[key], builds=self._builds[key])

    def project_done(self, key: str, project: str) -> None:
        self._progress.advance(self._tasks[key])

    def stage(self, key: str, text: str) -> None:
        self._progress.update(self._tasks[key], description=text)

    def region_done(self, key: str) -> None:
        self._progress.update(self._tasks[key], description="done")
