"""Generate → normalise → store: the demo history through the real normalisation path."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ciwb.codebuild.agent_log import command_rows
from ciwb.codebuild.clock import utcnow
from ciwb.codebuild.normalise import (
    NormalisedBatch,
    normalise_build_batch,
    normalise_fleet,
    normalise_metric,
    normalise_project,
    normalise_report,
    normalise_test_case,
)
from ciwb.demo.generator import (
    LOG_RETENTION_DAYS,
    DemoConfig,
    DemoHistory,
    generate,
    iter_chunks,
)
from ciwb.demo.planted import PlantedFacts
from ciwb.errors import CiwbError
from ciwb.store import compact, connect, write_batches

__all__ = ["DemoSummary", "history_batches", "load_demo", "planted_path_for"]

ORIGIN = "demo"
# build_commands.source for commands read from CloudWatch Logs: the value the collector writes.
LOG_SOURCE = "cloudwatch"
# Large batches let DuckDB write full row groups straight to the file instead of via the WAL.
CHUNK = 25_000

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DemoSummary:
    db: Path
    builds: int
    projects: int
    rows: dict[str, int]
    first: datetime
    last: datetime
    planted_path: Path


def planted_path_for(db: Path) -> Path:
    """The planted-facts JSON lives beside the demo DB: data/demo.duckdb → data/demo.planted.json."""
    return db.with_suffix(".planted.json")


def history_batches(history: DemoHistory, chunk: int = CHUNK) -> Iterator[NormalisedBatch]:
    """The whole history as normalised batches: first the non-build records, then builds
    (with their metrics) `chunk` at a time."""
    now = utcnow()
    first = NormalisedBatch()
    for project in history.projects:
        first.projects.append(normalise_project(project, origin=ORIGIN, now=now))
    for fleet in history.fleets:
        first.fleets.append(normalise_fleet(fleet, origin=ORIGIN, now=now))
    for record in history.build_batches:
        row, groups = normalise_build_batch(record, origin=ORIGIN, now=now)
        first.build_batches.append(row)
        first.build_batch_groups.extend(groups)
    build_of_report = {}
    for record in history.reports:
        row = normalise_report(record, origin=ORIGIN, now=now)
        first.reports.append(row)
        build_of_report[row.report_arn] = row.build_arn
    for case in history.test_cases:
        first.test_cases.append(
            normalise_test_case(case, build_arn=build_of_report[case["reportArn"]])
        )
    metrics_by_build: dict[str, list] = {}
    for metric in history.metrics:
        metrics_by_build.setdefault(metric.build_arn, []).append(metric)
    log_of_build = {stream.build_arn: stream for stream in history.log_streams}
    yield first
    for records in iter_chunks(history.builds, chunk):
        batch = NormalisedBatch()
        for record in records:
            batch.add_build(record, origin=ORIGIN, now=now)
            for metric in metrics_by_build.get(record["arn"], ()):
                batch.build_metrics.append(
                    normalise_metric(
                        metric.build_arn,
                        metric.metric_name,
                        timestamps=metric.result["Timestamps"],
                        values=metric.result["Values"],
                        period_s=metric.period_s,
                    )
                )
            stream = log_of_build.get(record["arn"])
            if stream is not None:  # through the same parser as collected CloudWatch logs
                batch.build_commands.extend(
                    command_rows(
                        ((event["timestamp"], event["message"]) for event in stream.events),
                        build_arn=record["arn"],
                        source_name=LOG_SOURCE,
                    )
                )
        yield batch


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Millions of short-lived acyclic rows: the cyclic GC would only rescan them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _prepare_target(db: Path) -> None:
    """Start from an empty file, but never throw away collected or replayed history."""
    if not db.exists():
        return
    with connect(db) as con:
        foreign = con.execute("SELECT count(*) FROM builds WHERE origin <> ?", [ORIGIN]).fetchall()[
            0
        ][0]
    if foreign:
        raise CiwbError(
            f"{db}: holds {foreign:,} builds that are not demo data; refusing to overwrite it",
            hint="choose another --db for the demo",
        )
    db.unlink()
    wal = Path(f"{db}.wal")
    if wal.exists():
        wal.unlink()


def _count(db: Path, table: str) -> int:
    with connect(db, read_only=True) as con:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def _with_bill(db: Path, planted: PlantedFacts, *, seed: int, report: Progress) -> PlantedFacts:
    import shutil
    from dataclasses import replace

    from ciwb.bill import import_bill
    from ciwb.demo.bill import demo_bill_dir, write_demo_bill

    root = demo_bill_dir(db)
    if root.exists():
        shutil.rmtree(root)
    report("writing the bill", 0, 1)
    with connect(db) as con:
        export, facts = write_demo_bill(con, root, seed=seed)
    import_bill(
        export, db, progress=lambda stage, done, total: report("importing the bill", done, total)
    )
    return replace(planted, bill=facts)


def load_demo(
    db: str | os.PathLike[str] = "data/demo.duckdb",
    *,
    builds: int = 50_000,
    seed: int = 7,
    days: int = 90,
    log_days: int = LOG_RETENTION_DAYS,
    progress: Progress | None = None,
    bill: bool = False,
) -> DemoSummary:
    """Generate a demo history into `db` (recreated) and write its planted facts beside it.

    With `bill`, also write a CUR 2.0 export of the demo's CodeBuild usage with planted
    differences beside the DB (data/demo.bill/) and import it (ciwb.demo.bill).
    """
    db = Path(db)
    report = progress or (lambda stage, done, total: None)
    _prepare_target(db)
    report("generating", 0, builds)
    history = generate(DemoConfig(builds=builds, seed=seed, days=days, log_days=log_days))
    report("generating", builds, builds)
    total = len(history.builds)
    stored = 0

    def written(batch: NormalisedBatch, _rows: dict[str, int]) -> None:
        nonlocal stored
        stored += batch.build_count()
        report("storing", stored, total)

    with _no_cyclic_gc(), connect(db) as con:  # the whole load is one batch of work
        # the next chunk is normalised while this one is written (write_batches)
        rows = write_batches(con, history_batches(history), written)
    planted = history.planted
    assert planted is not None
    if bill:
        planted = _with_bill(db, planted, seed=seed, report=report)
        rows["bill_line_items"] = _count(db, "bill_line_items")
    # Written chunk by chunk, the file keeps the blocks each checkpoint freed when it
    # rewrote a table's last, growing row group (up to ~120,000 rows of it); a new demo
    # is handed over without them.
    report("compacting", 0, 1)
    compact(db)
    report("compacting", 1, 1)
    path = planted.write(planted_path_for(db))
    starts = [b["startTime"] for b in history.builds]
    return DemoSummary(
        db=db,
        builds=total,
        projects=len(history.projects),
        rows=rows,
        first=min(starts),
        last=max(starts),
        planted_path=path,
    )
