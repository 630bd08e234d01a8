"""`collect`: AWS → normalise → store, per account and region, with a ledger row per run.

Order per region (docs/design.md, "Collect"): projects → builds → batches → reports →
metrics (→ logs with `--logs`). Every account is opened and every region checked before any work,
so bad credentials or a mistyped region fail in one line with nothing half done.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ciwb.codebuild.clock import utcnow
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
from ciwb.collect.ledger import finish_run, load_region_state, start_run
from ciwb.collect.logs import DEFAULT_LOG_CAP_BYTES
from ciwb.collect.progress import CollectProgress, NullProgress
from ciwb.collect.sources.archive import RawArchive
from ciwb.errors import CiwbError
from ciwb.store.connection import resolve_db_path
from ciwb.store.writer import BackgroundWriter

__all__ = ["CollectOptions", "CollectSummary", "collect"]


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


def _log_parser() -> Callable[[str, Any], list]:
    """The agent-log parser shared with the replay engine, reading CloudWatch events."""
    from ciwb.codebuild.agent_log import command_rows

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
