"""`ciwb replay experiment`: the same source across architectures × compute sizes × caches.

Each cell runs `repeat` times: the first cold (its cache cleared), the rest warm. Every run is
a stored replay build and a row in `experiment_runs` (cell, repetition, cold/warm, emulated
or native, host CPU and arch, image id), written as it finishes so an interrupted experiment
keeps what ran. Emulated timings are kept and marked; they are never presented as native
speed (docs/design.md, "Replay"), and ciwb.cost ignores them for speed factors.
"""

from __future__ import annotations

import json
import statistics
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from ciwb.codebuild.clock import utcnow
from ciwb.errors import CiwbError
from ciwb.images.host import host_arch, host_cpu, normalise_arch
from ciwb.replay.build import ReplayRequest, ReplayResult, run_replay

__all__ = [
    "Cell",
    "ExperimentResult",
    "ExperimentRunRow",
    "PhaseSummary",
    "make_run_row",
    "run_experiment",
]

SUMMARY_PHASES = ("PROVISIONING", "INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD", "TOTAL")


class ExperimentRow(NamedTuple):
    experiment_id: str
    created_at: datetime
    source_dir: str
    buildspec: str | None
    executor: str
    matrix: str  # JSON
    repeat: int
    host_arch: str
    host_cpu: str
    notes: str | None


class ExperimentRunRow(NamedTuple):
    run_id: str
    experiment_id: str
    cell: str
    arch: str
    compute: str
    cache: str
    repetition: int
    temperature: str  # cold | warm
    emulated: bool
    host_arch: str
    host_cpu: str
    image_digest: str | None
    build_arn: str
    status: str
    total_s: float
    started_at: datetime
    details: str  # JSON: phase seconds, cache restore/save figures, notes


@dataclass(frozen=True)
class Cell:
    arch: str
    compute: str
    cache: str

    @property
    def name(self) -> str:
        return f"{self.arch}/{self.compute}/{self.cache}"


@dataclass(frozen=True)
class PhaseSummary:
    cell: str
    temperature: str
    phase: str
    runs: int
    median_s: float
    min_s: float
    max_s: float
    emulated: bool

    @property
    def spread_s(self) -> float:
        return self.max_s - self.min_s


@dataclass
class ExperimentResult:
    experiment_id: str
    runs: list[ExperimentRunRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> list[PhaseSummary]:
        """Per cell, temperature and phase: median and range of the phase's seconds."""
        groups: dict[tuple[str, str, str], list[float]] = {}
        emulated: dict[str, bool] = {}
        for run in self.runs:
            emulated[run.cell] = run.emulated
            seconds = json.loads(run.details)["phases"]
            seconds["TOTAL"] = run.total_s
            for phase in SUMMARY_PHASES:
                if seconds.get(phase) is not None:
                    groups.setdefault((run.cell, run.temperature, phase), []).append(seconds[phase])
        return [
            PhaseSummary(
                cell, temp, phase, len(v), statistics.median(v), min(v), max(v), emulated[cell]
            )
            for (cell, temp, phase), v in groups.items()
        ]


def _split(values: Sequence[str] | str) -> list[str]:
    items = values.split(",") if isinstance(values, str) else list(values)
    return [v.strip() for v in items if v.strip()]


def _phase_seconds(result: ReplayResult) -> dict[str, float | None]:
    return {p.phase_type: p.seconds for p in result.phases}


def make_run_row(
    experiment_id: str,
    cell: Cell,
    repetition: int,
    seconds: dict[str, float | None],
    *,
    emulated: bool,
    host_arch: str,
    host_cpu: str,
    image_digest: str | None,
    build_arn: str,
    status: str,
    started_at: datetime,
    cache: dict[str, Any],
    notes: list[str],
) -> ExperimentRunRow:
    """One run's row: repetition 1 is cold, the rest warm; the total leaves out the queue."""
    total = sum(s for p, s in seconds.items() if s is not None and p not in ("SUBMITTED", "QUEUED"))
    return ExperimentRunRow(
        run_id=str(uuid.uuid4()),
        experiment_id=experiment_id,
        cell=cell.name,
        arch=cell.arch,
        compute=cell.compute,
        cache=cell.cache,
        repetition=repetition,
        temperature="cold" if repetition == 1 else "warm",
        emulated=emulated,
        host_arch=host_arch,
        host_cpu=host_cpu,
        image_digest=image_digest,
        build_arn=build_arn,
        status=status,
        total_s=total,
        started_at=started_at,
        details=json.dumps({"phases": seconds, "cache": cache, "notes": notes}, default=str),
    )


def run_experiment(
    source: Path,
    *,
    archs: Sequence[str] | str = ("amd64",),
    computes: Sequence[str] | str = ("small",),
    caches: Sequence[str] | str = ("none",),
    repeat: int = 3,
    executor: str = "docker",
    buildspec: str | None = None,
    db: Path | None = None,
    out: Path | None = None,
    cache_options: Callable[[str], dict[str, Any]] | None = None,
    project: str | None = None,
    image: str | None = None,
    on_run: Callable[[ExperimentRunRow], None] | None = None,
    executor_options: dict[str, Any] | None = None,
) -> ExperimentResult:
    """Run the matrix; store `experiments` and `experiment_runs`; return the runs."""
    from ciwb.replay.cache import get_cache
    from ciwb.store import connect, upsert_rows

    if repeat < 1:
        raise CiwbError("--repeat must be at least 1")
    source = source.resolve()
    aws_project = project  # the codebuild executor needs the real one, no default
    project = project or source.name
    cells = [
        Cell(normalise_arch(a), c, k)
        for a in _split(archs)
        for c in _split(computes)
        for k in _split(caches)
    ]
    if not cells:
        raise CiwbError("an experiment needs at least one arch, compute and cache")
    remote = None
    if executor == "codebuild":
        # Real CodeBuild builds: --project names the AWS project (required), checked now.
        from ciwb.replay.executors import get_executor

        remote = get_executor(executor, project=aws_project, **(executor_options or {}))
    options = cache_options or (lambda _name: {})
    # Every cache's options up front: a missing --cache-location fails before any run.
    cache_opts_by_name = {name: options(name) for name in {c.cache for c in cells}}
    experiment_id = str(uuid.uuid4())
    now = utcnow()
    machine, cpu = host_arch(), host_cpu()
    matrix = {
        "project": project,
        "arch": sorted({c.arch for c in cells}),
        "compute": sorted({c.compute for c in cells}),
        "cache": sorted({c.cache for c in cells}),
        "image": image,
    }
    result = ExperimentResult(experiment_id)
    if remote is not None:
        from ciwb.replay.remote import buildspec_text

        buildspec_text(source, buildspec)  # a bad buildspec fails before anything is stored
        remote.project_record()  # a missing project or denied access: one line, nothing stored
    with connect(db) as con:
        upsert_rows(
            con,
            "experiments",
            [
                ExperimentRow(
                    experiment_id,
                    now,
                    str(source),
                    buildspec,
                    executor,
                    json.dumps(matrix),
                    repeat,
                    machine,
                    cpu,
                    None,
                )
            ],
        )
    if remote is not None:
        from ciwb.replay.remote import run_codebuild_cells

        run_codebuild_cells(
            source,
            cells,
            experiment_id=experiment_id,
            repeat=repeat,
            buildspec=buildspec,
            db=db,
            image=image,
            cache_options=cache_opts_by_name,
            result=result,
            runner=remote,  # type: ignore[arg-type]
            on_run=on_run,
        )
        return result
    for cell in cells:
        # Each cell has its own cache namespace, so "cold" really starts empty.
        cache_project = f"{project}-exp-{experiment_id[:8]}-{cell.arch}-{cell.compute}"
        cache_opts = cache_opts_by_name[cell.cache]
        if cell.cache != "none":
            get_cache(cell.cache, project=cache_project, **cache_opts).clear()
        for repetition in range(1, repeat + 1):
            request = ReplayRequest(
                source=source,
                buildspec=buildspec,
                executor=executor,
                project=project,
                db=db,
                out_dir=out,
                arch=cell.arch,
                compute=cell.compute,
                image=image,
                cache=cell.cache,
                cache_options=cache_opts,
                cache_project=cache_project,
            )
            started = utcnow()
            replay = run_replay(request)
            row = make_run_row(
                experiment_id,
                cell,
                repetition,
                _phase_seconds(replay),
                emulated=replay.emulated,
                host_arch=machine,
                host_cpu=cpu,
                image_digest=replay.image_id
                or (replay.record.get("environment") or {}).get("image"),
                build_arn=replay.build_arn,
                status=replay.status,
                started_at=started,
                cache=replay.cache,
                notes=replay.notes,
            )
            with connect(db) as con:
                upsert_rows(con, "experiment_runs", [row])
            result.runs.append(row)
            for note in replay.notes:
                if note not in result.notes:
                    result.notes.append(note)
            if on_run is not None:
                on_run(row)
    return result
