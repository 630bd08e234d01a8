"""`collect`: AWS → normalise → store, per account and region, with a ledger row per run.

Order per region (docs/design.md, "Collect"): projects → builds → batches → reports →
metrics (→ logs with `--logs`). Every account is opened and every region checked before any work,
so bad credentials or a mistyped region fail in one line with nothing half done.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from ciwb.collect import stages
from ciwb.collect.aws import (
    AwsAccount,
    CallCounter,
    explain_aws_error,
    is_access_denied,
    open_account,
    resolve_regions,
)
from ciwb.collect.incremental import BuildSync, Skip
from ciwb.collect.ledger import finish_run, load_region_state, start_run, utcnow
from ciwb.collect.logs import DEFAULT_LOG_CAP_BYTES
from ciwb.collect.normalise import NormalisedBatch
from ciwb.collect.progress import CollectProgress, NullProgress
from ciwb.collect.sources.archive import RawArchive
from ciwb.errors import CiwbError
from ciwb.store import connect, resolve_db_path, write_batch

__all__ = ["CollectOptions", "CollectSummary", "StoreWriter", "collect", "parse_since"]

_SINCE_RE = re.compile(r"^(\d+)([hdw])$")


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """`90d`, `12h`, `2w`, or a date/ISO timestamp → naive UTC."""
    if not text:
        return None
    now = now or utcnow()
    match = _SINCE_RE.match(text.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return (
            now
            - {
                "h": timedelta(hours=amount),
                "d": timedelta(days=amount),
                "w": timedelta(weeks=amount),
            }[unit]
        )
    from ciwb.collect.normalise import to_utc

    try:
        return to_utc(text)
    except ValueError:
        raise CiwbError(f"--since {text!r}: expected e.g. 90d, 12h, 2w or 2025-01-31") from None


@dataclass
class CollectOptions:
    profiles: Sequence[str | None] = (None,)
    role_arn: str | None = None
    regions: Sequence[str] = ()
    all_regions: bool = False
    since: datetime | None = None
    projects: Sequence[str] = ()
    logs: bool = False
    metrics: bool = True
    batches: bool = True
    reports: bool = True
    save_raw: Path | None = None
    db: Path | None = None
    log_cap_bytes: int = DEFAULT_LOG_CAP_BYTES
    max_attempts: int = 10


@dataclass
class CollectSummary:
    run_id: str
    status: str
    started_at: datetime
    ended_at: datetime
    accounts: list[str]
    regions: list[str]
    projects: int
    builds_fetched: int
    api_calls: dict[str, int]
    rows_written: dict[str, int]
    skipped: list[dict[str, str]]
    errors: list[dict[str, str]]
    raw_archive: str | None = None
    stage_seconds: dict[str, float] | None = None  # wall time per stage, all regions
    store: str | None = None  # the store written, absolute

    @property
    def exit_code(self) -> int:
        return 0 if self.status == "SUCCEEDED" else 1

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["started_at"] = self.started_at.isoformat()
        out["ended_at"] = self.ended_at.isoformat()
        out["exit_code"] = self.exit_code
        return out


class StoreWriter:
    """Writes each unit of work in one transaction.

    The connection is reused for at most `hold_s` seconds and then closed, so the file is
    held for one short batch of work at a time (docs/design.md, "The store") without paying an
    open and checkpoint per 100 builds.
    """

    def __init__(self, db: Path | str | None, hold_s: float = 2.0) -> None:
        self.db = db
        self.hold_s = hold_s
        self.rows: Counter[str] = Counter()
        self._ctx: Any = None
        self._con: Any = None
        self._opened = 0.0

    def __call__(self, batch: NormalisedBatch, extra: Mapping[str, Sequence[NamedTuple]]) -> None:
        if self._con is None:
            self._ctx = connect(self.db)
            self._con = self._ctx.__enter__()
            self._opened = time.monotonic()
        for table, count in write_batch(self._con, batch, extra).items():
            self.rows[table] += count
        if time.monotonic() - self._opened >= self.hold_s:
            self.close()

    def close(self) -> None:
        if self._ctx is not None:
            ctx, self._ctx, self._con = self._ctx, None, None
            ctx.__exit__(None, None, None)


class BackgroundWriter:
    """A `StoreWriter` on its own thread, so fetching the next page overlaps writing this one.

    Batches are written in the order given, each in its own transaction (with the cursors it
    completes), so the kill-safety argument is unchanged: whatever was queued but not yet
    committed when the process dies is simply fetched again by the next run. At most
    `depth` batches wait in memory. `drain()` waits until everything queued is committed
    (before a stage reads the store) and re-raises a write error in the caller's thread.
    """

    def __init__(self, db: Path | str | None, depth: int = 4) -> None:
        self._writer = StoreWriter(db)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ciwb-store-writer", daemon=True)
        self._thread.start()

    @property
    def rows(self) -> Counter[str]:
        return self._writer.rows

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._writer.hold_s)
            except queue.Empty:
                self._writer.close()  # idle: do not hold the file while we wait on AWS
                continue
            try:
                if item is None:
                    return
                if self._error is None:
                    self._writer(*item)
            except BaseException as exc:  # surfaced by the next call or drain()
                self._error = exc
            finally:
                self._queue.task_done()

    def _check(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def __call__(self, batch: NormalisedBatch, extra: Mapping[str, Sequence[NamedTuple]]) -> None:
        self._check()
        self._queue.put((batch, extra))

    def drain(self) -> None:
        self._queue.join()
        self._check()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._writer.close()
        self._check()


def _log_parser() -> Callable[[str, Any], list]:
    """The agent-log parser shared with the replay engine, reading CloudWatch events."""
    from ciwb.collect.agent_log import command_rows

    def parse(build_arn: str, events: Any) -> list:
        return command_rows(events, build_arn=build_arn, source_name="cloudwatch")

    return parse


def collect(options: CollectOptions, progress: CollectProgress | None = None) -> CollectSummary:
    """Run one sync; the summary says what was read, written, skipped and failed."""
    progress = progress or NullProgress()
    counter = CallCounter()
    parser = _log_parser() if options.logs else None
    # Open every account and check every region first: failures here are one line each.
    accounts: list[tuple[AwsAccount, list[str]]] = []
    for profile in options.profiles:
        first_region = options.regions[0] if options.regions else None
        account = open_account(
            profile,
            role_arn=options.role_arn,
            counter=counter,
            region=first_region,
            max_attempts=options.max_attempts,
        )
        accounts.append(
            (account, resolve_regions(account.session, list(options.regions), options.all_regions))
        )
    run = start_run(
        options.db,
        "aws",
        {
            "profiles": list(options.profiles),
            "role_arn": options.role_arn,
            "regions": list(options.regions),
            "all_regions": options.all_regions,
            "since": options.since.isoformat() if options.since else None,
            "projects": list(options.projects),
            "logs": options.logs,
            "metrics": options.metrics,
        },
    )
    archive = RawArchive(options.save_raw, run.run_id) if options.save_raw else None
    if archive:
        counter.listeners.append(archive.record)
    writer = BackgroundWriter(options.db)
    skips: list[Skip] = []
    errors: list[dict[str, str]] = []
    builds_fetched = projects_seen = 0
    seconds: Counter[str] = Counter()
    status = "FAILED"
    now = utcnow()
    try:
        for account, regions in accounts:
            for region in regions:
                key = f"{account.account_id}/{region}"
                try:
                    fetched, n_projects, region_skips = _collect_region(
                        account, region, options, writer, progress, key, now, parser, seconds
                    )
                except Exception as exc:
                    if is_access_denied(exc):
                        error = exc.response.get("Error", {})  # type: ignore[attr-defined]
                        skips.append(
                            Skip(
                                account.account_id,
                                region,
                                "region",
                                exc.operation_name,  # type: ignore[attr-defined]
                                error.get("Code", ""),
                                error.get("Message", ""),
                            )
                        )
                        continue
                    explained = explain_aws_error(exc, account.label)
                    if isinstance(explained, CiwbError):
                        raise explained from None
                    if not _is_client_error(exc):
                        raise
                    errors.append(
                        {
                            "account_id": account.account_id,
                            "region": region,
                            "error": f"{type(exc).__name__}: {exc}",
                        }
                    )
                    continue
                builds_fetched += fetched
                projects_seen += n_projects
                skips.extend(region_skips)
        writer.drain()  # a failed write must not be reported as success
        status = "PARTIAL" if skips or errors else "SUCCEEDED"
    except KeyboardInterrupt:
        status = "INTERRUPTED"
        raise
    finally:
        close_error: BaseException | None = None
        try:
            writer.close()
        except BaseException as exc:  # re-raised once the ledger row is written
            close_error, status = exc, "FAILED"
        if archive:
            archive.close()
        row = finish_run(
            options.db,
            run,
            status=status,
            accounts=sorted({a.account_id for a, _ in accounts}),
            regions=sorted({r for _, rs in accounts for r in rs}),
            api_calls=dict(counter.calls),
            rows_written=dict(writer.rows),
            errors=errors,
            skipped=[s.as_dict() for s in skips],
        )
        if close_error is not None:
            raise close_error
    return CollectSummary(
        run.run_id,
        status,
        run.started_at,
        row.ended_at or utcnow(),
        row.accounts,
        row.regions,
        projects_seen,
        builds_fetched,
        dict(sorted(counter.calls.items())),
        dict(writer.rows),
        [s.as_dict() for s in skips],
        errors,
        str(archive.path) if archive else None,
        {k: round(v, 3) for k, v in seconds.items()},
        str(resolve_db_path(options.db).absolute()),
    )


def _is_client_error(exc: BaseException) -> bool:
    import botocore.exceptions

    return isinstance(exc, botocore.exceptions.ClientError)


def _collect_region(
    account: AwsAccount,
    region: str,
    options: CollectOptions,
    writer: BackgroundWriter,
    progress: CollectProgress,
    key: str,
    now: datetime,
    parser: Any,
    seconds: Counter[str],
) -> tuple[int, int, list[Skip]]:
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now_s = time.perf_counter()
        seconds[stage] += now_s - clock
        clock = now_s

    codebuild = account.client("codebuild", region)
    names = stages.collect_projects(codebuild, options.projects, writer, now)
    progress.region_started(key, len(names))
    lap("projects")
    writer.drain()
    state = load_region_state(options.db, account.account_id, region)
    sync = BuildSync(
        codebuild,
        account.account_id,
        region,
        state,
        options.since,
        now,
        writer,
        on_fetched=lambda n: progress.builds_fetched(key, n),
    )
    for name in names:
        progress.project_started(key, name)
        sync.sync_project(name)
        progress.project_done(key, name)
    sync.finish()
    writer.drain()  # the later stages read what the builds stage wrote
    lap("builds")
    skips = list(sync.skips)
    denied = {s.target for s in skips}
    readable = [n for n in names if n not in denied]
    if options.batches:
        progress.stage(key, "build batches")
        skips += stages.collect_build_batches(
            codebuild, options.db, account.account_id, region, readable, writer, now
        )
        writer.drain()
        lap("build_batches")
    if options.reports:
        progress.stage(key, "reports")
        skips += stages.collect_reports(
            codebuild,
            options.db,
            account.account_id,
            region,
            readable,
            not options.projects,
            writer,
            now,
        )
        writer.drain()
        lap("reports")
    if options.metrics:
        progress.stage(key, "metrics")
        pairs = stages.pending_metric_pairs(
            options.db, account.account_id, region, readable, options.since, now
        )
        stages.collect_metrics(account.client("cloudwatch", region), pairs, writer)
        writer.drain()
        lap("metrics")
    if parser is not None:
        progress.stage(key, "logs")
        stages.collect_logs(
            account.client("logs", region),
            options.db,
            account.account_id,
            region,
            readable,
            options.since,
            parser,
            options.log_cap_bytes,
            writer,
            now,
        )
        writer.drain()
        lap("logs")
    progress.region_done(key)
    return sync.fetched, len(names), skips
