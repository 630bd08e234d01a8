"""Replays and experiments on real CodeBuild (the `codebuild` executor).

`replay run --executor codebuild` is one StartBuild; `replay experiment --executor codebuild`
starts every cell's cold build at once, waits for all of them, then each round of warm ones
(CodeBuild runs them side by side: this is how a big matrix scales out). Every build is
stored through the collector's path (origin `aws`) and, for experiments, as an
`experiment_runs` row marked native with its build ARN. The buildspec is checked here first,
so a bad file fails before anything is billed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ciwb.codebuild.clock import to_utc, utcnow
from ciwb.codebuild.normalise import arch_of
from ciwb.replay.buildspec import load_buildspec
from ciwb.replay.executors.codebuild import (
    CodeBuildCell,
    CodeBuildExecutor,
    CodeBuildRun,
    cache_override,
    phase_seconds,
)

if TYPE_CHECKING:
    from ciwb.replay.build import ReplayResult
    from ciwb.replay.experiments import Cell, ExperimentResult, ExperimentRunRow

__all__ = ["buildspec_text", "run_codebuild_cells", "run_codebuild_replay"]


def buildspec_text(source: Path, buildspec: str | None) -> str:
    """The buildspec file's text, after the same checks a local replay makes."""
    from ciwb.replay.build import ReplayRequest, _buildspec_path

    path = _buildspec_path(ReplayRequest(source=source, buildspec=buildspec), source.resolve())
    text = path.read_text() if path.is_file() else None
    load_buildspec(path, text)  # BuildspecError: file:line:col: message
    return text or ""


def run_codebuild_replay(
    source: Path,
    *,
    project: str | None,
    buildspec: str | None = None,
    db: Path | None = None,
    arch: str | None = None,
    compute: str | None = None,
    image: str | None = None,
    cache: str = "none",
    cache_location: str | None = None,
    source_version: str | None = None,
    profile: str | None = None,
    region: str | None = None,
    timeout_s: float | None = None,
    executor: CodeBuildExecutor | None = None,
) -> ReplayResult:
    """One real CodeBuild build of the project with SRC's buildspec; stored (origin aws)."""
    from ciwb.replay.build import ReplayResult
    from ciwb.replay.runner import PhaseResult

    cell = CodeBuildCell(
        arch=arch or "amd64",
        compute=compute or "small",
        cache=cache,
        image=image,
        cache_location=cache_location,
    )
    cache_override(cell)  # a bad --cache / missing --cache-location: before any AWS call
    text = buildspec_text(source, buildspec)
    runner = executor or _executor(project, profile, region, timeout_s)
    from ciwb.replay.build import _sigterm_as_interrupt

    with _sigterm_as_interrupt():  # `kill` stops the build like Ctrl-C does
        runs = runner.start([cell], text, source_version=source_version)
        try:
            runner.wait(runs)
        finally:
            stored = runner.ingest(runs, db)
    run = runs[0]
    record = run.record
    phases = [
        PhaseResult(
            p["phaseType"],
            p.get("phaseStatus") or "",
            to_utc(p.get("startTime")) or utcnow(),
            to_utc(p.get("endTime")),
            *_context(p),
        )
        for p in record.get("phases") or []
    ]
    logs = record.get("logs") or {}
    where = logs.get("deepLink") or f"{logs.get('groupName')}/{logs.get('streamName')}"
    return ReplayResult(
        build_id=run.build_id,
        build_arn=run.arn,
        status=run.status,
        phases=phases,
        exported={
            v["name"]: v.get("value", "") for v in record.get("exportedEnvironmentVariables") or []
        },
        artifacts=[],
        reports=[],
        log_path=Path(where),
        out_dir=Path("."),
        record=record,
        notes=[runner.isolation, f"build {run.arn} stored with origin aws"],
        stored=stored,
    )


def _context(phase: dict[str, Any]) -> tuple[str | None, str | None]:
    contexts = phase.get("contexts") or []
    if not contexts:
        return None, None
    return contexts[0].get("statusCode") or None, contexts[0].get("message") or None


def _executor(
    project: str | None, profile: str | None, region: str | None, timeout_s: float | None
) -> CodeBuildExecutor:
    options: dict[str, Any] = {"region": region, "profile": profile}
    if timeout_s:
        options["timeout_s"] = timeout_s
    return CodeBuildExecutor(project, **options)


def run_codebuild_cells(
    source: Path,
    cells: Sequence[Cell],
    *,
    experiment_id: str,
    repeat: int,
    buildspec: str | None,
    db: Path | None,
    image: str | None,
    cache_options: dict[str, dict[str, Any]],
    result: ExperimentResult,
    runner: CodeBuildExecutor,
    on_run: Callable[[ExperimentRunRow], None] | None = None,
) -> None:
    """Round 1 (cold) for every cell at once, wait; then each warm round the same way."""
    text = buildspec_text(source, buildspec)
    runner.project_record()  # a missing project fails before anything starts
    build_cells = []
    for cell in cells:
        location = cache_options.get(cell.cache, {}).get("location")
        if cell.cache == "s3" and location:
            # A fresh prefix per experiment and cell, so the cold run really starts empty.
            location = f"{str(location).rstrip('/')}/ciwb-exp-{experiment_id[:8]}/{cell.arch}-"
            location += cell.compute
        build_cells.append(CodeBuildCell(cell.arch, cell.compute, cell.cache, image, location))
    if any(c.cache == "local" for c in cells):
        result.notes.append(
            "codebuild local cache is best-effort per build host: a warm run may miss, "
            "and a cold run may find a host's earlier cache"
        )
    result.notes.append(runner.isolation)
    from ciwb.replay.build import _sigterm_as_interrupt

    for repetition in range(1, repeat + 1):
        started = utcnow()
        with _sigterm_as_interrupt():  # `kill` stops the builds like Ctrl-C does
            runs = runner.start(build_cells, text)
            try:
                runner.wait(runs)
            finally:  # stopped or timed out builds are stored too, then the error goes on
                _record(runner, runs, cells, repetition, started, experiment_id, db, result, on_run)


def _record(
    runner: CodeBuildExecutor,
    runs: list[CodeBuildRun],
    cells: Sequence[Cell],
    repetition: int,
    started: datetime,
    experiment_id: str,
    db: Path | None,
    result: ExperimentResult,
    on_run: Callable[[ExperimentRunRow], None] | None,
) -> None:
    from ciwb.replay.experiments import make_run_row
    from ciwb.store import connect, upsert_rows

    runner.ingest(runs, db)
    rows = []
    for cell, run in zip(cells, runs, strict=True):
        env = run.record.get("environment") or {}
        rows.append(
            make_run_row(
                experiment_id,
                cell,
                repetition,
                phase_seconds(run.record) if run.arn else {},
                emulated=False,  # CodeBuild ran it on the architecture it names
                host_arch=arch_of(env.get("type")),
                host_cpu=f"codebuild {env.get('computeType') or cell.compute}",
                image_digest=env.get("image"),
                build_arn=run.arn or run.build_id,
                status=run.status,
                started_at=to_utc(run.record.get("startTime")) or started,
                cache=run.record.get("cache") or {},
                notes=[f"codebuild build {run.build_id}"],
            )
        )
    with connect(db) as con:
        upsert_rows(con, "experiment_runs", rows)
    for row in rows:
        result.runs.append(row)
        if on_run is not None:
            on_run(row)
