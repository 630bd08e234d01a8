"""`ciwb replay experiment`: the same source across architectures × compute sizes × caches.

Each cell runs `repeat` times: the first cold (its cache cleared), the rest warm. Every run is
a stored replay build and a row in `experiment_runs` (cell, repetition, cold/warm, emulated
or native, host CPU and arch, image id), written as it finishes so an interrupted experiment
keeps what ran. Emulated timings are kept and marked; they are never presented as native
speed (docs/design.md, "Replay"), and ciwb.cost ignores them for speed factors.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ciwb.codebuild.clock import utcnow
from ciwb.errors import CiwbError
from ciwb.experiments.runners import remote_runner
from ciwb.experiments.runs import (
    Cell,
    ExperimentResult,
    ExperimentRow,
    ExperimentRunRow,
    make_run_row,
)
from ciwb.images.host import host_arch, host_cpu, normalise_arch
from ciwb.replay.build import run_replay
from ciwb.replay.options import (
    BuildContext,
    CacheOptions,
    ExecutorOptions,
    OutputOptions,
    ReplayOptions,
    SourceOptions,
)
from ciwb.replay.request import ReplayResult

__all__ = ["run_experiment"]


def _split(values: Sequence[str] | str) -> list[str]:
    items = values.split(",") if isinstance(values, str) else list(values)
    return [v.strip() for v in items if v.strip()]


def _phase_seconds(result: ReplayResult) -> dict[str, float | None]:
    return {p.phase_type: p.seconds for p in result.phases}


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
    cache_options: CacheOptions | None = None,  # location / dir; each cell names its cache
    project: str | None = None,
    image: str | None = None,
    on_run: Callable[[ExperimentRunRow], None] | None = None,
    executor_options: dict[str, Any] | None = None,
) -> ExperimentResult:
    """Run the matrix; store `experiments` and `experiment_runs`; return the runs.

    `executor_options` go to a remote runner (codebuild: profile, region, source_version).
    """
    if repeat < 1:
        raise CiwbError("--repeat must be at least 1")
    source = source.resolve()
    cells = [
        Cell(normalise_arch(a), c, k)
        for a in _split(archs)
        for c in _split(computes)
        for k in _split(caches)
    ]
    if not cells:
        raise CiwbError("an experiment needs at least one arch, compute and cache")
    # A remote runner needs the real --project (no default), checked now.
    remote = remote_runner(executor, project, **(executor_options or {}))
    settings = cache_options or CacheOptions()
    cache_by_name = {name: replace(settings, cache=name) for name in {c.cache for c in cells}}
    # Every cache's options up front: a missing --cache-location fails before any run.
    cache_opts_by_name = {name: c.strategy_options() for name, c in cache_by_name.items()}
    if remote is not None:
        remote.check(source, buildspec)  # bad buildspec, missing project: nothing stored
    result = ExperimentResult(str(uuid.uuid4()))
    _store_experiment(
        result.experiment_id, source, cells, repeat, executor, buildspec, db, project, image
    )
    if remote is not None:
        remote.run_cells(
            source,
            cells,
            experiment_id=result.experiment_id,
            repeat=repeat,
            buildspec=buildspec,
            db=db,
            image=image,
            cache_options=cache_opts_by_name,
            result=result,
            on_run=on_run,
        )
        return result
    for cell in cells:
        _run_local_cell(
            cell,
            source,
            result,
            repeat=repeat,
            executor=executor,
            buildspec=buildspec,
            project=project or source.name,
            db=db,
            out=out,
            image=image,
            cache=cache_by_name[cell.cache],
            on_run=on_run,
        )
    return result


def _store_experiment(
    experiment_id: str,
    source: Path,
    cells: Sequence[Cell],
    repeat: int,
    executor: str,
    buildspec: str | None,
    db: Path | None,
    project: str | None,
    image: str | None,
) -> None:
    from ciwb.store import connect, upsert_rows

    matrix = {
        "project": project or source.name,
        "arch": sorted({c.arch for c in cells}),
        "compute": sorted({c.compute for c in cells}),
        "cache": sorted({c.cache for c in cells}),
        "image": image,
    }
    row = ExperimentRow(
        experiment_id,
        utcnow(),
        str(source),
        buildspec,
        executor,
        json.dumps(matrix),
        repeat,
        host_arch(),
        host_cpu(),
        None,
    )
    with connect(db) as con:
        upsert_rows(con, "experiments", [row])


def _run_local_cell(
    cell: Cell,
    source: Path,
    result: ExperimentResult,
    *,
    repeat: int,
    executor: str,
    buildspec: str | None,
    project: str,
    db: Path | None,
    out: Path | None,
    image: str | None,
    cache: CacheOptions,
    on_run: Callable[[ExperimentRunRow], None] | None,
) -> None:
    """One cell's repetitions as local replays, each stored as it finishes."""
    from ciwb.replay.cache import get_cache
    from ciwb.store import connect, upsert_rows

    experiment_id = result.experiment_id
    machine, cpu = host_arch(), host_cpu()
    # Each cell has its own cache namespace, so "cold" really starts empty.
    cache_project = f"{project}-exp-{experiment_id[:8]}-{cell.arch}-{cell.compute}"
    if cell.cache != "none":
        get_cache(cell.cache, project=cache_project, **cache.strategy_options()).clear()
    request = ReplayOptions(
        SourceOptions(source, buildspec=buildspec, project=project),
        executor=ExecutorOptions(executor, arch=cell.arch, compute=cell.compute, image=image),
        cache=cache,
        output=OutputOptions(db=db, out=out),
        build=BuildContext(cache_project=cache_project),
    )
    for repetition in range(1, repeat + 1):
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
            image_digest=replay.image_id or (replay.record.get("environment") or {}).get("image"),
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
