"""`collect`: AWS → normalise → store, per account and region, with a ledger row per run.

Order per region (docs/design.md, "Collect"): projects → builds → batches → reports →
metrics (→ logs with `--logs`). Every account is opened and every region checked before any work,
so bad credentials or a mistyped region fail in one line with nothing half done (with `--org`,
an account whose role cannot be assumed is skipped and named instead).

The account × region walks run concurrently on a bounded pool (`--concurrency`), each with its
own boto3 clients, all writing through one `BackgroundWriter`. A walk's batches
commit in its own order, each with the cursors it completes, so the kill-safety argument of
`ciwb.collect.incremental` holds per walk and therefore for the run.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ciwb.codebuild.clock import utcnow
from ciwb.collect import org, stages
from ciwb.collect.aws import (
    AwsAccount,
    CallCounter,
    explain_aws_error,
    is_access_denied,
    open_account,
    resolve_regions,
)
from ciwb.collect.gc_tuning import fewer_gc_passes
from ciwb.collect.incremental import BuildSync, Skip
from ciwb.collect.ledger import finish_run_on, load_region_state, start_run_on
from ciwb.collect.logs import DEFAULT_LOG_CAP_BYTES
from ciwb.collect.org import DEFAULT_ORG_ROLE
from ciwb.collect.progress import CollectProgress, NullProgress
from ciwb.collect.sources.archive import RawArchive
from ciwb.errors import CiwbError
from ciwb.store.connection import connect as connect_store
from ciwb.store.connection import resolve_db_path
from ciwb.store.writer import BackgroundWriter

__all__ = ["CollectOptions", "CollectSummary", "collect", "default_concurrency"]


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
    # --org: every active account of the organisation, through `org_role` in each
    org: bool = False
    org_role: str = DEFAULT_ORG_ROLE
    accounts: Sequence[str] = ()  # --accounts globs (id or name); all when empty
    exclude: Sequence[str] = ()
    concurrency: int | None = None  # None: default_concurrency(walks)
    role_session_s: int | None = None  # AssumeRole DurationSeconds (None: the role's default)


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
    stage_seconds: dict[str, float] | None = None  # time per stage, summed over walks
    inactive_accounts: list[str] | None = None  # --org: suspended / closing, not read
    concurrency: int = 1
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


def default_concurrency(walks: int, cpus: int | None = None) -> int:
    """Concurrent account × region walks when --concurrency is not given.

    A walk makes one request at a time against its own account and region, and AWS's API
    limits are per account and region, so walks never share a rate limit: the bound is this
    machine. A walk waits on AWS (50-500 ms a call) about ten times longer than it spends
    parsing and normalising the answer, so eight walks per core keep the cores busy without
    piling up clients and connections that only wait; the one store writer
    takes batches from all of them. At most 32, and never more walks than there are.
    """
    cpus = cpus or os.cpu_count() or 1
    return max(1, min(walks, 8 * cpus, 32))


class _Cancelled(Exception):
    """Another walk failed or the run was interrupted: stop at the next safe point."""


@dataclass
class _Walk:
    account: AwsAccount
    region: str

    @property
    def key(self) -> str:
        return f"{self.account.account_id}/{self.region}"


@dataclass
class _Run:
    """What every walk adds to, under one lock."""

    skips: list[Skip] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    builds_fetched: int = 0
    projects_seen: int = 0
    seconds: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    cancel: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        if self.cancel.is_set():
            raise _Cancelled


def _log_parser() -> Callable[[str, Any], list]:
    """The agent-log parser shared with the replay engine, reading CloudWatch events."""
    from ciwb.codebuild.agent_log import command_rows

    def parse(build_arn: str, events: Any) -> list:
        return command_rows(events, build_arn=build_arn, source_name="cloudwatch")

    return parse


def _check_options(options: CollectOptions) -> None:
    if not options.org:
        for flag, given in (
            ("--accounts", options.accounts),
            ("--exclude", options.exclude),
            ("--org-role", options.org_role != DEFAULT_ORG_ROLE),
        ):
            if given:
                raise CiwbError(f"{flag} needs --org", hint="add --org, or drop " + flag)
    elif len(options.profiles) > 1:
        raise CiwbError(
            "--org reads the organisation from one profile",
            hint="pass at most one --profile: the management or delegated-admin account",
        )
    if options.concurrency is not None and options.concurrency < 1:
        raise CiwbError("--concurrency must be at least 1")


def _open_accounts(
    options: CollectOptions, counter: CallCounter, progress: CollectProgress, run: _Run
) -> tuple[list[AwsAccount], list[str]]:
    """The accounts to read, and (with --org) the inactive ones left out."""
    first_region = options.regions[0] if options.regions else None
    opened = [
        open_account(
            profile,
            role_arn=options.role_arn,
            counter=counter,
            region=first_region,
            max_attempts=options.max_attempts,
            duration_s=options.role_session_s,
        )
        for profile in options.profiles
    ]
    if not options.org:
        return opened, []
    admin = opened[0]
    region = first_region or admin.session.region_name or "us-east-1"
    everyone = org.list_org_accounts(admin, region)
    inactive = [a.account_id for a in everyone if not a.active]
    chosen = org.select_accounts(everyone, options.accounts, options.exclude)
    if not chosen:
        raise CiwbError(
            "no active account of the organisation matches",
            hint="check --accounts / --exclude against `aws organizations list-accounts`",
        )
    for account in chosen:
        progress.account_state(account.account_id, "waiting")

    def assume(account: org.OrgAccount) -> AwsAccount | None:
        try:
            member = org.assume_member(
                admin, account, options.org_role, region, duration_s=options.role_session_s
            )
        except Exception as exc:
            if not org.is_unassumable(exc):
                raise explain_aws_error(
                    exc, f"{account.account_id} as {options.org_role}"
                ) from None
            error = exc.response.get("Error", {})  # type: ignore[attr-defined]
            with run.lock:
                run.skips.append(
                    Skip(
                        account.account_id,
                        "*",
                        "account",
                        "AssumeRole",
                        error.get("Code", ""),
                        error.get("Message", ""),
                    )
                )
            progress.account_state(account.account_id, "skipped: role not assumable")
            return None
        return member

    workers = options.concurrency or default_concurrency(len(chosen))
    with ThreadPoolExecutor(workers, thread_name_prefix="ciwb-assume") as pool:
        members = list(pool.map(assume, chosen))
    return [m for m in members if m is not None], inactive


def collect(options: CollectOptions, progress: CollectProgress | None = None) -> CollectSummary:
    """Run one sync; the summary says what was read, written, skipped and failed."""
    _check_options(options)
    with fewer_gc_passes():  # most of a run's allocations are answers that die young
        return _collect(options, progress)


def _collect(options: CollectOptions, progress: CollectProgress | None) -> CollectSummary:
    progress = progress or NullProgress()
    counter = CallCounter()
    parser = _log_parser() if options.logs else None
    state = _Run()
    # Open every account and check every region first: failures here are one line each.
    accounts, inactive = _open_accounts(options, counter, progress, state)
    regions_of: dict[str, list[str]] = {}
    walks: list[_Walk] = []
    for account in accounts:
        regions = resolve_regions(account.session, list(options.regions), options.all_regions)
        regions_of[account.account_id] = regions
        walks.extend(_Walk(account, r) for r in regions)
    concurrency = options.concurrency or default_concurrency(len(walks))
    # One writer for every walk: batches commit in the order queued, each with its cursors.
    # The run's ledger rows go through its connection too (`writer.run`).
    writer = BackgroundWriter(options.db, depth=max(4, 2 * concurrency))
    args = {
        "profiles": list(options.profiles),
        "role_arn": options.role_arn,
        "regions": list(options.regions),
        "all_regions": options.all_regions,
        "since": options.since.isoformat() if options.since else None,
        "projects": list(options.projects),
        "logs": options.logs,
        "metrics": options.metrics,
        "org": options.org,
        "org_role": options.org_role if options.org else None,
        "accounts": list(options.accounts),
        "exclude": list(options.exclude),
        "inactive_accounts": inactive,
        "concurrency": concurrency,
    }
    try:
        run = writer.run(lambda con: start_run_on(con, "aws", args))
    except BaseException:
        writer.close()
        raise
    archive = RawArchive(options.save_raw, run.run_id) if options.save_raw else None
    if archive:
        counter.listeners.append(archive.record)
    progress.planned({a.account_id: len(regions_of[a.account_id]) for a in accounts}, len(walks))
    status = "FAILED"
    now = utcnow()
    try:
        _run_walks(walks, concurrency, options, writer, progress, now, parser, state)
        writer.drain()  # a failed write must not be reported as success
        status = "PARTIAL" if state.skips or state.errors else "SUCCEEDED"
    except KeyboardInterrupt:
        status = "INTERRUPTED"
        raise
    finally:

        def ended(con: Any) -> Any:
            return finish_run_on(
                con,
                run,
                status=status,
                accounts=sorted({a.account_id for a in accounts}),
                regions=sorted({r for rs in regions_of.values() for r in rs}),
                api_calls=dict(counter.calls),
                rows_written=dict(writer.rows),
                errors=state.errors,
                skipped=[s.as_dict() for s in state.skips],
            )

        row = None
        if status in ("SUCCEEDED", "PARTIAL"):  # drained: all committed, the writer sound
            try:
                row = writer.run(ended)  # in the file the writer has open: no open of its own
            except Exception:
                row = None  # written below, on a connection of its own
        close_error: BaseException | None = None
        try:
            writer.close()
        except BaseException as exc:  # re-raised once the ledger row is written
            close_error, status = exc, "FAILED"
        if archive:
            archive.close()
        if row is None or close_error is not None:
            with connect_store(options.db) as con:
                row = ended(con)
        if close_error is not None:
            raise close_error
    return CollectSummary(
        run.run_id,
        status,
        run.started_at,
        row.ended_at or utcnow(),
        row.accounts,
        row.regions,
        state.projects_seen,
        state.builds_fetched,
        dict(sorted(counter.calls.items())),
        dict(writer.rows),
        [s.as_dict() for s in state.skips],
        state.errors,
        str(archive.path) if archive else None,
        {k: round(v, 3) for k, v in state.seconds.items()},
        inactive if options.org else None,
        concurrency,
        str(resolve_db_path(options.db).absolute()),
    )


def _run_walks(
    walks: Sequence[_Walk],
    concurrency: int,
    options: CollectOptions,
    writer: BackgroundWriter,
    progress: CollectProgress,
    now: datetime,
    parser: Any,
    run: _Run,
) -> None:
    """Every walk on a bounded pool; the first fatal error (or Ctrl-C) stops the others at
    their next safe point and is raised here. What they committed stays committed."""
    remaining: dict[str, int] = Counter(w.account.account_id for w in walks)

    def one(walk: _Walk) -> None:
        run.check()
        progress.account_state(walk.account.account_id, "collecting")
        _walk(walk, options, writer, progress, now, parser, run)
        with run.lock:
            remaining[walk.account.account_id] -= 1
            finished = remaining[walk.account.account_id] == 0
        if finished:
            progress.account_state(walk.account.account_id, "done")

    pool = ThreadPoolExecutor(concurrency, thread_name_prefix="ciwb-walk")
    futures = [pool.submit(one, w) for w in walks]
    first: BaseException | None = None
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
            for future in done:
                exc = future.exception()
                if exc is not None and not isinstance(exc, _Cancelled) and first is None:
                    first = exc
                    run.cancel.set()
    except BaseException:
        run.cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if first is not None:
        raise first


def _walk(
    walk: _Walk,
    options: CollectOptions,
    writer: BackgroundWriter,
    progress: CollectProgress,
    now: datetime,
    parser: Any,
    run: _Run,
) -> None:
    """One account and region: its own clients; AccessDenied on the region is
    recorded and skipped, other AWS errors recorded, anything else fatal to the run."""
    account, region = walk.account, walk.region
    try:
        fetched, n_projects, region_skips = _collect_region(
            account, region, options, writer, progress, walk.key, now, parser, run
        )
    except _Cancelled:
        raise
    except Exception as exc:
        if is_access_denied(exc):
            error = exc.response.get("Error", {})  # type: ignore[attr-defined]
            skip = Skip(
                account.account_id,
                region,
                "region",
                exc.operation_name,  # type: ignore[attr-defined]
                error.get("Code", ""),
                error.get("Message", ""),
            )
            with run.lock:
                run.skips.append(skip)
            return
        explained = explain_aws_error(exc, account.label)
        if isinstance(explained, CiwbError):
            raise explained from None
        if not _is_client_error(exc):
            raise
        with run.lock:
            run.errors.append(
                {
                    "account_id": account.account_id,
                    "region": region,
                    "error": f"{type(exc).__name__}: {exc}",
                }
            )
        return
    with run.lock:
        run.builds_fetched += fetched
        run.projects_seen += n_projects
        run.skips.extend(region_skips)


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
    run: _Run,
) -> tuple[int, int, list[Skip]]:
    """The stages of one account and region, on the calling thread.

    `writer.sync()` (this walk's batches committed) stands before each stage that reads what
    an earlier stage wrote; other walks keep writing meanwhile. The builds stage reads only
    builds and cursors, which the stages before it do not write, so it waits for nothing.
    """
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now_s = time.perf_counter()
        with run.lock:
            run.seconds[stage] += now_s - clock
        clock = now_s
        run.check()

    codebuild = account.client("codebuild", region)  # this walk's own client
    names = stages.collect_projects(codebuild, options.projects, writer, now)
    progress.region_started(key, len(names))
    lap("projects")
    _, fleet_skips = stages.collect_fleets(codebuild, account.account_id, region, writer, now)
    lap("fleets")
    # A connection of its own, not `writer.run`: that would wait for every walk's queued
    # batches, and the builds stage needs nothing they hold.
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
        run.check()
        progress.project_started(key, name)
        sync.sync_project(name)
        progress.project_done(key, name)
    sync.finish()
    if options.batches or options.reports or options.metrics or parser is not None:
        writer.sync()  # the later stages read what the builds stage wrote
    lap("builds")
    skips = list(sync.skips)
    denied = {s.target for s in skips}
    readable = [n for n in names if n not in denied]
    skips += fleet_skips
    if options.batches:
        progress.stage(key, "build batches")
        skips += stages.collect_build_batches(
            codebuild, options.db, account.account_id, region, readable, writer, now
        )
        writer.sync()
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
        writer.sync()
        lap("reports")
    if options.metrics:
        progress.stage(key, "metrics")
        pairs = stages.pending_metric_pairs(
            options.db, account.account_id, region, readable, options.since, now
        )
        stages.collect_metrics(account.client("cloudwatch", region), pairs, writer)
        writer.sync()
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
        writer.sync()
        lap("logs")
    progress.region_done(key)
    return sync.fetched, len(names), skips
