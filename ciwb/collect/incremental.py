"""Incremental build sync for one account and region.

Per project (docs/design.md, "Collect"): list build ids newest first and stop at the cursor
(the newest id the last complete sync listed), queue every id the store does not hold as
complete plus the ids that were in progress last time, and fetch queued ids 100 to a
BatchGetBuilds call. The queue spans projects, so a run with a few new builds in each of
many projects still makes ⌈new builds / 100⌉ BatchGetBuilds calls.

Interruption safety: each BatchGetBuilds result is written in one transaction, and a
project's cursor is written in the same transaction as the last of its builds (or on its
own when nothing was fetched). The store, not the cursor, says which builds are already
held, so a run killed anywhere is completed by the next one with the same rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from ciwb.codebuild.clock import to_utc
from ciwb.codebuild.normalise import NormalisedBatch
from ciwb.codebuild.records import CursorRow
from ciwb.collect.aws import is_access_denied
from ciwb.collect.ledger import RegionState
from ciwb.collect.sources import live

__all__ = ["EPOCH", "BuildSync", "Skip"]

# covered_since for "everything AWS still has" (no --since).
EPOCH = datetime(1970, 1, 1)

Writer = Callable[[NormalisedBatch, Mapping[str, Sequence[NamedTuple]]], None]


@dataclass(frozen=True)
class Skip:
    """Something not collected, and why (recorded in collect_runs.skipped)."""

    account_id: str
    region: str
    target: str
    operation: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return self.__dict__.copy()


@dataclass
class _Pending:
    newest_id: str | None
    newest_start: datetime | None
    covered_since: datetime


@dataclass
class BuildSync:
    client: Any
    account_id: str
    region: str
    state: RegionState
    since: datetime | None
    now: datetime
    write: Writer
    on_fetched: Callable[[int], None] = lambda n: None
    skips: list[Skip] = field(default_factory=list)
    fetched: int = 0

    def __post_init__(self) -> None:
        self._buffer: list[tuple[str, str]] = []
        self._queued: set[str] = set()
        self._outstanding: Counter[str] = Counter()
        self._pending: dict[str, _Pending] = {}
        self._in_progress: dict[str, set[str]] = {}
        self._newest_start: dict[str, datetime | None] = {}
        self._newest_id: dict[str, str | None] = {}
        self._reached_since: set[str] = set()
        self._failed: set[str] = set()

    # ------------------------------------------------------------------ listing

    def _cursor_usable(self, cursor: CursorRow | None) -> bool:
        if cursor is None or cursor.covered_since is None or not cursor.newest_build_id:
            return False
        wanted = self.since or EPOCH
        return wanted >= cursor.covered_since

    def sync_project(self, project: str) -> None:
        cursor = self.state.cursors.get(project)
        usable = self._cursor_usable(cursor)
        known = self.state.known_for(project)
        stop_id = cursor.newest_build_id if usable and cursor else None
        newest: str | None = None
        self._in_progress.setdefault(project, set())
        try:
            for ids in live.list_build_id_pages(self.client, project):
                if newest is None and ids:
                    newest = self._newest_id[project] = ids[0]
                done = False
                for build_id in ids:
                    if build_id == stop_id:
                        done = True
                        break
                    have = known.get(build_id)
                    if have and self.since and have.start_time and have.start_time < self.since:
                        done = True  # newest first: everything further is older still
                        break
                    if have and have.complete:
                        continue
                    self._queue(project, build_id)
                if done or project in self._reached_since or project in self._failed:
                    break
        except Exception as exc:
            if not is_access_denied(exc):
                raise
            self._skip(project, "ListBuildsForProject", exc)
            return
        for build_id in cursor.in_progress_ids if cursor else ():
            if build_id not in self._queued:
                self._queue(project, build_id)
        if project in self._failed:
            return
        newest_id = newest or (cursor.newest_build_id if cursor else None)
        if newest_id and newest_id in known:
            newest_start = known[newest_id].start_time
        elif cursor and newest_id == cursor.newest_build_id:
            newest_start = cursor.newest_start_time
        else:
            newest_start = None  # set when the build is fetched
        self._newest_id[project] = newest_id
        self._pending[project] = _Pending(
            newest_id=newest_id,
            newest_start=newest_start,
            covered_since=(
                cursor.covered_since
                if usable and cursor and cursor.covered_since
                else (self.since or EPOCH)
            ),
        )
        # The cursor is written with the batch holding this project's last builds, or by
        # finish() with the others when nothing of it was queued.

    def _skip(self, project: str, operation: str, exc: Exception) -> None:
        error = getattr(exc, "response", {}).get("Error", {})
        self.skips.append(
            Skip(
                self.account_id,
                self.region,
                project,
                operation,
                error.get("Code", type(exc).__name__),
                error.get("Message", str(exc)),
            )
        )
        self._failed.add(project)
        self._pending.pop(project, None)

    def _queue(self, project: str, build_id: str) -> None:
        self._queued.add(build_id)
        self._buffer.append((project, build_id))
        self._outstanding[project] += 1
        if len(self._buffer) >= live.BATCH_GET_LIMIT:
            self._flush()

    # ------------------------------------------------------------------ fetching

    def _fetch(self, chunk: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], list[str]]:
        """BatchGetBuilds for a chunk; on AccessDenied retry per project to skip only those
        that deny."""
        try:
            return live.get_builds(self.client, [bid for _, bid in chunk])
        except Exception as exc:
            if not is_access_denied(exc):
                raise
            projects = sorted({p for p, _ in chunk})
            if len(projects) == 1:
                self._skip(projects[0], "BatchGetBuilds", exc)
                return [], []
        builds: list[dict[str, Any]] = []
        missing: list[str] = []
        for project in projects:
            got, gone = self._fetch([(p, b) for p, b in chunk if p == project])
            builds.extend(got)
            missing.extend(gone)
        return builds, missing

    def _flush(self) -> None:
        chunk = self._buffer[: live.BATCH_GET_LIMIT]
        del self._buffer[: live.BATCH_GET_LIMIT]
        builds, _not_found = self._fetch(chunk)
        batch = NormalisedBatch()
        project_of = dict((bid, p) for p, bid in chunk)
        for record in builds:
            project = project_of.get(record["id"], record.get("projectName", ""))
            start = to_utc(record.get("startTime"))
            if self.since and start and start < self.since:
                self._reached_since.add(project)
                continue
            if record["id"] == self._newest_id.get(project):
                self._newest_start[project] = start
            progress = self._in_progress.setdefault(project, set())
            if record.get("buildComplete"):
                progress.discard(record["id"])
            else:
                progress.add(record["id"])
            batch.add_build(record, origin="aws", now=self.now)
        returned = {r["id"] for r in builds}  # once per chunk, not once per id in it
        for project, build_id in chunk:
            self._outstanding[project] -= 1
            if build_id not in returned:
                self._in_progress.get(project, set()).discard(build_id)
        self.fetched += batch.build_count()
        self.on_fetched(batch.build_count())
        self._write_cursors(batch)

    def _write_cursors(self, batch: NormalisedBatch) -> None:
        """Write the batch with the cursors of every project now wholly written."""
        ready = [p for p in self._pending if self._outstanding[p] <= 0]
        rows = []
        for project in ready:
            pending = self._pending.pop(project)
            newest_start = self._newest_start.get(project) or pending.newest_start
            rows.append(
                CursorRow(
                    self.account_id,
                    self.region,
                    project,
                    pending.newest_id,
                    newest_start,
                    sorted(self._in_progress.get(project, ())),
                    self.now,
                    pending.covered_since,
                )
            )
        if batch.build_count() or rows:
            self.write(batch, {"collect_cursors": rows} if rows else {})

    def finish(self) -> None:
        """Fetch what is still queued and write the remaining cursors."""
        while self._buffer:
            self._flush()
        if self._pending:
            self._write_cursors(NormalisedBatch())
