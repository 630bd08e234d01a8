"""The sync ledger (`collect_runs`, one row per run) and the per-project cursors
(`collect_cursors`, one row per account, region and project).

A run's row is written when it starts (status RUNNING) and rewritten when it ends. A run
killed outright stays RUNNING; the next run marks it INTERRUPTED if its process is gone.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ciwb.codebuild.clock import utcnow
from ciwb.codebuild.records import CursorRow, RunRow
from ciwb.store import connect, upsert_rows

__all__ = [
    "KnownBuild",
    "RegionState",
    "finish_run",
    "finish_run_on",
    "load_region_state",
    "start_run",
    "start_run_on",
]


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS).decode()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_run(db: Path | str | None, source: str, args: dict[str, Any]) -> RunRow:
    """Record a new run as RUNNING; mark this host's dead RUNNING runs INTERRUPTED."""
    with connect(db) as con:
        return start_run_on(con, source, args)


def start_run_on(con: Any, source: str, args: dict[str, Any]) -> RunRow:
    """`start_run` on an open store connection."""
    now = utcnow()
    run_id = f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    host = socket.gethostname()
    full_args = {**args, "pid": os.getpid(), "host": host}
    row = RunRow(
        run_id, now, None, "RUNNING", source, [], [], "{}", "{}", "[]", "[]", _json(full_args)
    )
    stale = con.execute(
        "SELECT run_id, args->>'pid', args->>'host' FROM collect_runs WHERE status = 'RUNNING'"
    ).fetchall()
    for stale_id, pid, stale_host in stale:
        if stale_host == host and pid and not _alive(int(pid)):
            con.execute(
                "UPDATE collect_runs SET status = 'INTERRUPTED' WHERE run_id = ?", [stale_id]
            )
    upsert_rows(con, "collect_runs", [row])
    return row


def finish_run(
    db: Path | str | None,
    run: RunRow,
    *,
    status: str,
    accounts: list[str],
    regions: list[str],
    api_calls: dict[str, int],
    rows_written: dict[str, int],
    errors: list[dict[str, Any]],
    skipped: list[dict[str, Any]],
) -> RunRow:
    """The run's row rewritten with how it ended."""
    with connect(db) as con:
        return finish_run_on(
            con,
            run,
            status=status,
            accounts=accounts,
            regions=regions,
            api_calls=api_calls,
            rows_written=rows_written,
            errors=errors,
            skipped=skipped,
        )


def finish_run_on(
    con: Any,
    run: RunRow,
    *,
    status: str,
    accounts: list[str],
    regions: list[str],
    api_calls: dict[str, int],
    rows_written: dict[str, int],
    errors: list[dict[str, Any]],
    skipped: list[dict[str, Any]],
) -> RunRow:
    """`finish_run` on an open store connection."""
    row = run._replace(
        ended_at=utcnow(),
        status=status,
        accounts=accounts,
        regions=regions,
        api_calls=_json(dict(sorted(api_calls.items()))),
        rows_written=_json(rows_written),
        errors=_json(errors),
        skipped=_json(skipped),
    )
    upsert_rows(con, "collect_runs", [row])
    return row


@dataclass(frozen=True)
class KnownBuild:
    complete: bool
    start_time: datetime | None


@dataclass
class RegionState:
    """What the store already holds for one account and region."""

    cursors: dict[str, CursorRow]
    known: dict[str, dict[str, KnownBuild]]  # project → build id → what we have

    def known_for(self, project: str) -> dict[str, KnownBuild]:
        return self.known.setdefault(project, {})


def load_region_state(db: Path | str | None, account_id: str, region: str) -> RegionState:
    with connect(db) as con:
        cursors = {
            row[2]: CursorRow(*row)
            for row in con.execute(
                "SELECT account_id, region, project_name, newest_build_id, newest_start_time,"
                " in_progress_ids, updated_at, covered_since FROM collect_cursors"
                " WHERE account_id = ? AND region = ?",
                [account_id, region],
            ).fetchall()
        }
        known: dict[str, dict[str, KnownBuild]] = {}
        for project, build_id, complete, start in con.execute(
            "SELECT project_name, build_id, build_complete, start_time FROM builds"
            " WHERE account_id = ? AND region = ?",
            [account_id, region],
        ).fetchall():
            known.setdefault(project, {})[build_id] = KnownBuild(bool(complete), start)
    for cursor in cursors.values():
        if cursor.in_progress_ids is None:
            cursors[cursor.project_name] = cursor._replace(in_progress_ids=[])
    return RegionState(cursors, known)
