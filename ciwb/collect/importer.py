"""Load records gathered elsewhere: raw archives, AWS CLI JSON, build logs, EventBridge events.

They travel the same normalisation path as a live collect, so a user without ciwb-side
credentials can hand over exported data. Each source is written in batches, one
transaction each, and recorded as one `collect_runs` row.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ciwb.codebuild.clock import utcnow
from ciwb.codebuild.normalise import (
    NormalisedBatch,
    normalise_build_batch,
    normalise_code_coverage,
    normalise_metric,
    normalise_project,
    normalise_report,
    normalise_test_case,
)
from ciwb.codebuild.records import CoverageRow
from ciwb.collect.ledger import finish_run, start_run
from ciwb.collect.sources.archive import RawPage, iter_raw_pages
from ciwb.collect.sources.events import (
    BUILD_PHASE_CHANGE,
    inferred_status,
    merge_phases,
    read_events,
)
from ciwb.collect.sources.logfiles import (
    FILTER_LOG_EVENTS,
    GET_LOG_EVENTS,
    is_text_log,
    read_text_log,
)
from ciwb.errors import CiwbError
from ciwb.store.connection import resolve_db_path
from ciwb.store.writer import StoreWriter

__all__ = ["ImportSummary", "import_events", "import_paths"]

_BATCH_ROWS = 2_000


@dataclass
class ImportSummary:
    run_id: str
    files: int
    pages: int
    records: dict[str, int]
    rows_written: dict[str, int]
    ignored: dict[str, int]
    store: str = ""  # the store written, absolute

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _Loader:
    def __init__(self, db: Any) -> None:
        self.write = StoreWriter(db)
        self.batch = NormalisedBatch()
        self.coverages: list[CoverageRow] = []
        self.records: Counter[str] = Counter()
        self.now = utcnow()
        # log events by stream name (None: a log that names no stream, for --build)
        self.logs: dict[str | None, list[tuple[int | None, str]]] = {}
        self.origins: dict[str | None, str] = {}

    def size(self) -> int:
        return sum(self.batch.counts().values()) + len(self.coverages)

    def maybe_flush(self) -> None:
        if self.size() >= _BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.size():
            self.write(self.batch, {"code_coverages": self.coverages} if self.coverages else {})
        self.batch = NormalisedBatch()
        self.coverages = []

    def page(self, page: RawPage) -> bool:
        """Add one page's records; False when the page holds nothing ciwb stores."""
        body, op, now = page.response, page.operation, self.now
        if op == "BatchGetBuilds":
            for record in body.get("builds") or ():
                self.batch.add_build(record, origin="aws", now=now)
                self.records["builds"] += 1
        elif op == "BatchGetProjects":
            for record in body.get("projects") or ():
                self.batch.projects.append(normalise_project(record, now=now))
                self.records["projects"] += 1
        elif op == "BatchGetBuildBatches":
            for record in body.get("buildBatches") or ():
                row, groups = normalise_build_batch(record, now=now)
                self.batch.build_batches.append(row)
                self.batch.build_batch_groups.extend(groups)
                self.records["build_batches"] += 1
        elif op == "BatchGetReports":
            for record in body.get("reports") or ():
                self.batch.reports.append(normalise_report(record, now=now))
                self.records["reports"] += 1
        elif op == "DescribeTestCases":
            for record in body.get("testCases") or ():
                self.batch.test_cases.append(normalise_test_case(record))
                self.records["test_cases"] += 1
        elif op == "DescribeCodeCoverages":
            for record in body.get("codeCoverages") or ():
                self.coverages.append(normalise_code_coverage(record))
                self.records["code_coverages"] += 1
        elif op == "GetMetricData":
            self._metrics(page)
        elif op in (GET_LOG_EVENTS, FILTER_LOG_EVENTS):
            self._log_events(page)
        else:
            return False
        self.maybe_flush()
        return True

    def _log_events(self, page: RawPage) -> None:
        for event in page.response.get("events") or ():
            # get-log-events does not name its stream: it belongs to --build
            stream = event.get("logStreamName") if page.operation == FILTER_LOG_EVENTS else None
            message = event.get("message") or ""
            self.logs.setdefault(stream, []).append((int(event["timestamp"]), message))
            self.origins.setdefault(stream, page.origin)

    def _metrics(self, page: RawPage) -> None:
        periods = {
            q["Id"]: (q.get("Label"), q.get("MetricStat", {}).get("Period"))
            for q in page.request.get("MetricDataQueries") or ()
        }
        for result in page.response.get("MetricDataResults") or ():
            label, period = periods.get(result["Id"], (result.get("Label"), None))
            if not label or " " not in label:
                continue  # not a query ciwb labelled with its build
            build_arn, metric = label.split(" ", 1)
            self.batch.build_metrics.append(
                normalise_metric(
                    build_arn,
                    metric,
                    timestamps=result.get("Timestamps") or [],
                    values=result.get("Values") or [],
                    period_s=period,
                )
            )
            self.records["build_metrics"] += 1


@contextmanager
def _ledgered_loader(db: Any, source: str, args: dict[str, Any]) -> Iterator[tuple[str, _Loader]]:
    """A loader inside one `collect_runs` row: SUCCEEDED once everything is flushed."""
    run = start_run(db, source, args)
    loader = _Loader(db)
    status = "FAILED"
    try:
        yield run.run_id, loader
        loader.flush()
        status = "SUCCEEDED"
    finally:
        loader.write.close()
        finish_run(
            db,
            run,
            status=status,
            accounts=[],
            regions=[],
            api_calls={},
            rows_written=dict(loader.write.rows),
            errors=[],
            skipped=[],
        )


def _find_build(con: Any, build: str) -> str:
    """The ARN of a stored build named by ARN or ID (`project:uuid`)."""
    rows = con.execute(
        "SELECT build_arn FROM builds WHERE build_arn = ? OR build_id = ? ORDER BY 1",
        [build, build],
    ).fetchall()
    if not rows:
        raise CiwbError(
            f"build {build}: not in the store",
            hint="collect or import the build first (e.g. `aws codebuild batch-get-builds` JSON)",
        )
    return str(rows[0][0])


def _attach_logs(db: Any, loader: _Loader, build: str | None) -> int:
    """Parse each gathered log into `build_commands` rows of its build; returns logs parsed.

    `--build` names the build of a log that names no stream (plain text, get-log-events) and of
    a single filter-log-events stream; other streams are matched to builds by their log stream.
    """
    from ciwb.codebuild.agent_log import command_rows
    from ciwb.store import connect

    if not loader.logs:
        return 0
    streams = [s for s in loader.logs if s is not None]
    if build is None and None in loader.logs:
        raise CiwbError(
            f"{loader.origins[None]}: this log does not say which build it is",
            hint="pass --build ARN|ID (a build already in the store)",
        )
    if build is not None and len(streams) + (None in loader.logs) > 1:
        raise CiwbError(
            f"--build {build}: these files hold the logs of {len(streams)} streams",
            hint="import one build's log per --build, or leave --build out for filter-log-events",
        )
    targets: dict[str | None, str] = {}
    with connect(db) as con:
        if build is not None:
            targets = {key: _find_build(con, build) for key in loader.logs}
        else:
            for stream in streams:
                rows = con.execute(
                    "SELECT build_arn FROM builds WHERE log_stream = ? OR build_id LIKE ?",
                    [stream, f"%:{stream}"],
                ).fetchall()
                if not rows:
                    raise CiwbError(
                        f"{loader.origins[stream]}: no stored build has log stream {stream}",
                        hint="pass --build ARN|ID, or collect/import the build first",
                    )
                targets[stream] = str(rows[0][0])
    for key, events in loader.logs.items():
        # pages saved in several files: in time order (stable, so one page's order stands)
        if all(ts is not None for ts, _ in events):
            events.sort(key=lambda e: e[0])
        rows = command_rows(events, build_arn=targets[key], source_name="cloudwatch")
        loader.batch.build_commands.extend(rows)
        loader.records["build_commands"] += len(rows)
    loader.records["logs"] += len(loader.logs)
    return len(loader.logs)


def import_paths(
    paths: Sequence[str | os.PathLike[str]],
    db: str | os.PathLike[str] | None = None,
    *,
    build: str | None = None,
) -> ImportSummary:
    """Load raw archives (`--save-raw` output), AWS CLI JSON files or directories, and logs.

    Logs: `aws logs get-log-events` / `filter-log-events` JSON and plain-text build logs
    (console downloads and copies) become `build_commands` rows of a stored build (`build`,
    an ARN or ID; filter-log-events output is matched by its log stream without it).
    """
    ignored: Counter[str] = Counter()
    pages = 0
    files: set[str] = set()
    text_logs = [Path(p) for p in paths if Path(p).is_file() and is_text_log(p)]
    others = [p for p in paths if Path(p) not in text_logs]
    with _ledgered_loader(db, "import", {"paths": [str(p) for p in paths]}) as (run_id, loader):
        if others:
            for page in iter_raw_pages(others):
                pages += 1
                files.add(page.origin.rsplit(":", 1)[0] if ":" in page.origin else page.origin)
                if not loader.page(page):
                    ignored[page.operation] += 1
        if len(text_logs) > 1 or (text_logs and None in loader.logs):
            raise CiwbError(
                f"{text_logs[0]}: a plain-text log is one build's whole log",
                hint="import each build's log on its own, with its --build",
            )
        for path in text_logs:
            files.add(str(path))
            pages += 1
            loader.logs.setdefault(None, []).extend((None, line) for line in read_text_log(path))
            loader.origins.setdefault(None, str(path))
        loader.flush()  # builds in these files first, so their logs can attach to them
        loader.write.close()
        _attach_logs(db, loader, build)
    return ImportSummary(
        run_id,
        len(files),
        pages,
        dict(loader.records),
        dict(loader.write.rows),
        dict(ignored),
        str(resolve_db_path(db).absolute()),
    )


def _stored_builds(db: Any, arns: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The raw records already in the store for `arns` (an absent store holds none)."""
    from ciwb.store import connect

    if not arns or not resolve_db_path(db).exists():
        return {}
    with connect(db) as con:
        rows = con.execute(
            "SELECT build_arn, raw FROM builds WHERE build_arn IN (SELECT unnest(?))", [list(arns)]
        ).fetchall()
    return {arn: orjson.loads(raw) for arn, raw in rows if raw}


def _apply_phase_event(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`base` (a Build record) with the phases a phase-change record reports.

    A build that the update says is complete becomes complete: end time from its phases,
    status inferred from them unless `base` already knows it (a state-change event or the API).
    """
    merged = dict(base)
    merged["phases"] = merge_phases(base.get("phases") or (), update.get("phases") or ())
    if update.get("buildComplete") and not base.get("buildComplete"):
        merged["buildComplete"] = True
        merged["currentPhase"] = "COMPLETED"
        if base.get("buildStatus") in (None, "IN_PROGRESS"):
            merged["buildStatus"] = inferred_status(merged["phases"])
        merged["endTime"] = update.get("endTime")
    elif not base.get("buildComplete") and update.get("currentPhase"):
        merged["currentPhase"] = update["currentPhase"]
    for key, value in update.items():  # fields the base lacks (an event may know the logs)
        merged.setdefault(key, value)
    return merged


def import_events(
    sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    db: str | os.PathLike[str] | None = None,
) -> ImportSummary:
    """Load EventBridge CodeBuild events from files, gzip files, directories and s3:// prefixes.

    Any saved shape is read (NDJSON, pretty-printed, arrays, Firehose's concatenated objects;
    see `sources.events`). A build seen in several state-change events keeps its most
    advanced state: a complete record beats an in-progress one, then the later event wins,
    whatever order they come in. "Build Phase Change" events then update the phases of their
    build: the one in these events, else the one already in the store, else a build made from
    the phase events alone.
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    ignored: Counter[str] = Counter()
    states: dict[str, tuple[bool, int, dict[str, Any]]] = {}
    phase_events: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    events = 0
    origins: set[str] = set()
    args = {"paths": [os.fspath(s) for s in sources]}
    with _ledgered_loader(db, "events", args) as (run_id, loader):
        for event in read_events(sources):
            events += 1
            origins.add(event.origin.rsplit(":", 1)[0])
            record = event.record
            if record is None:
                ignored[event.detail_type or "unknown"] += 1
                continue
            if event.detail_type == BUILD_PHASE_CHANGE:
                phase_events.setdefault(record["arn"], []).append((event.seq, record))
                continue
            rank = (bool(record.get("buildComplete")), event.seq)
            current = states.get(record["arn"])
            if current is None or rank > current[:2]:
                states[record["arn"]] = (*rank, record)
        builds = {arn: record for arn, (_, _, record) in states.items()}
        stored = _stored_builds(db, [arn for arn in phase_events if arn not in builds])
        for arn, updates in phase_events.items():
            base = builds.get(arn) or stored.get(arn)
            for _, update in sorted(updates, key=lambda u: (bool(u[1].get("buildComplete")), u[0])):
                base = update if base is None else _apply_phase_event(base, update)
            builds[arn] = base
        for record in builds.values():
            loader.batch.add_build(record, origin="aws", now=loader.now)
            loader.records["builds"] += 1
            loader.maybe_flush()
    return ImportSummary(
        run_id,
        len(origins),
        events,
        dict(loader.records),
        dict(loader.write.rows),
        dict(ignored),
        str(resolve_db_path(db).absolute()),
    )
