"""Replays and experiments on real CodeBuild: the `codebuild` remote runner.

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
from typing import Any

from ciwb.buildspec import load_buildspec, locate_buildspec
from ciwb.codebuild.clock import to_utc, utcnow
from ciwb.codebuild.normalise import arch_of
from ciwb.experiments.codebuild import (
    CodeBuildCell,
    CodeBuildProject,
    CodeBuildRun,
    cache_override,
    phase_seconds,
)
from ciwb.experiments.runs import Cell, ExperimentResult, ExperimentRunRow, make_run_row
from ciwb.replay.options import ReplayOptions
from ciwb.replay.request import ReplayResult
from ciwb.replay.runner import PhaseResult
from ciwb.replay.signals import sigterm_as_interrupt

__all__ = ["CodeBuildRunner", "buildspec_text"]


def buildspec_text(source: Path, buildspec: str | None) -> str:
    """The buildspec file's text, after the same checks a local replay makes."""
    path = locate_buildspec(source.resolve(), buildspec)
    text = path.read_text() if path.is_file() else None
    load_buildspec(path, text)  # BuildspecError: file:line:col: message
    return text or ""


class CodeBuildRunner:
    """The `codebuild` remote runner: builds in an existing project, stored with origin aws."""

    name = "codebuild"
    isolation = (
        "codebuild executor: real CodeBuild builds in your AWS account (billed); "
        "the buildspec is sent as buildspecOverride, the source is the project's"
    )

    def __init__(self, project: str | None = None, **options: Any) -> None:
        self.builds = CodeBuildProject(project, **options)

    @classmethod
    def for_replay(cls, options: ReplayOptions) -> CodeBuildRunner:
        """The runner `replay run --executor codebuild` describes (its project, profile, wait)."""
        settings: dict[str, Any] = {
            "region": options.environment.region,
            "profile": options.environment.profile,
        }
        if options.executor.timeout_s:
            settings["timeout_s"] = options.executor.timeout_s
        return cls(options.source.project, **settings)

    def check(self, source: Path, buildspec: str | None) -> None:
        """A bad buildspec, a missing project or denied access: one line, nothing stored."""
        buildspec_text(source, buildspec)
        self.builds.project_record()

    def run_build(self, options: ReplayOptions) -> ReplayResult:
        """One real CodeBuild build of the project with SRC's buildspec; stored (origin aws)."""
        if options.source.batch:
            from ciwb.errors import CiwbError

            raise CiwbError("--batch is not supported with --executor codebuild")
        cell = CodeBuildCell(
            arch=options.executor.arch or "amd64",
            compute=options.executor.compute or "small",
            cache=options.cache.cache,
            image=options.executor.image,
            cache_location=options.cache.location,
        )
        cache_override(cell)  # a bad --cache / missing --cache-location: before any AWS call
        text = buildspec_text(options.source.source, options.source.buildspec)
        builds = self.builds
        with sigterm_as_interrupt():  # `kill` stops the build like Ctrl-C does
            runs = builds.start([cell], text, source_version=options.source.source_version)
            try:
                builds.wait(runs)
            finally:
                stored = builds.ingest(runs, options.output.db)
        return self._result(runs[0], stored)

    def _result(self, run: CodeBuildRun, stored: dict[str, int]) -> ReplayResult:
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
                v["name"]: v.get("value", "")
                for v in record.get("exportedEnvironmentVariables") or []
            },
            artifacts=[],
            reports=[],
            log_path=Path(where),
            out_dir=Path("."),
            record=record,
            notes=[self.isolation, f"build {run.arn} stored with origin aws"],
            stored=stored,
        )

    def run_cells(
        self,
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
        on_run: Callable[[ExperimentRunRow], None] | None = None,
    ) -> None:
        """Round 1 (cold) for every cell at once, wait; then each warm round the same way."""
        text = buildspec_text(source, buildspec)
        builds = self.builds
        builds.project_record()  # a missing project fails before anything starts
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
        result.notes.append(self.isolation)
        for repetition in range(1, repeat + 1):
            started = utcnow()
            with sigterm_as_interrupt():  # `kill` stops the builds like Ctrl-C does
                runs = builds.start(build_cells, text)
                try:
                    builds.wait(runs)
                finally:  # stopped or timed out builds are stored too, then the error goes on
                    self._record(
                        runs, cells, repetition, started, experiment_id, db, result, on_run
                    )

    def _record(
        self,
        runs: list[CodeBuildRun],
        cells: Sequence[Cell],
        repetition: int,
        started: datetime,
        experiment_id: str,
        db: Path | None,
        result: ExperimentResult,
        on_run: Callable[[ExperimentRunRow], None] | None,
    ) -> None:
        from ciwb.store import connect, upsert_rows

        self.builds.ingest(runs, db)
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


def _context(phase: dict[str, Any]) -> tuple[str | None, str | None]:
    contexts = phase.get("contexts") or []
    if not contexts:
        return None, None
    return contexts[0].get("statusCode") or None, contexts[0].get("message") or None
