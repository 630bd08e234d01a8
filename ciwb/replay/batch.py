"""Batch builds: a planner (batch spec → layers of builds) and a runner that runs the layers.

Kept apart, nektos/act style: `plan_batch` is pure and tested alone; `run_batch` executes a
plan with `run_replay` for each child. Rules (reference "Batch builds"): build-list runs
its tasks in parallel; build-graph starts a task when its `depend-on` tasks finished (the
graph is layered, a cycle is an error naming the cycle); build-matrix is the cartesian
product of the dynamic axes over the static settings; build-fanout runs `parallelism`
shards. Each child gets CODEBUILD_BATCH_BUILD_IDENTIFIER. `fast-fail` stops running builds
when one fails; `ignore-failure` keeps a child's failure from failing the batch.
Matrix and fanout child identifiers are not documented by AWS: here `matrix_<n>`/`shard_<n>`.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ciwb.codebuild import arns
from ciwb.codebuild.clock import utcnow
from ciwb.errors import CiwbError
from ciwb.replay.buildspec import BatchSpec, BatchTask

__all__ = ["BatchCycleError", "BatchPlan", "BatchResult", "PlannedBuild", "plan_batch", "run_batch"]


class BatchCycleError(CiwbError):
    """A build-graph whose depend-on links form a cycle."""


@dataclass(frozen=True)
class PlannedBuild:
    identifier: str
    buildspec: str | None = None
    env_variables: dict[str, str] = field(default_factory=dict)
    compute_type: str | None = None
    image: str | None = None
    env_type: str | None = None
    ignore_failure: bool = False
    depend_on: tuple[str, ...] = ()


@dataclass
class BatchPlan:
    kind: str
    fast_fail: bool
    layers: list[list[PlannedBuild]]

    @property
    def builds(self) -> list[PlannedBuild]:
        return [b for layer in self.layers for b in layer]


def _planned(task: BatchTask, identifier: str | None = None, **changes: Any) -> PlannedBuild:
    build = PlannedBuild(
        identifier=identifier or task.identifier,
        buildspec=task.buildspec,
        env_variables=dict(task.env_variables),
        compute_type=task.compute_type,
        image=task.image,
        env_type=task.env_type,
        ignore_failure=task.ignore_failure,
        depend_on=tuple(task.depend_on),
    )
    return replace(build, **changes) if changes else build


def _find_cycle(deps: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in deps.get(node, ()):
            if state.get(dep) == 1:
                return stack[stack.index(dep) :] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in deps:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _layers(tasks: list[PlannedBuild]) -> list[list[PlannedBuild]]:
    by_id = {t.identifier: t for t in tasks}
    for task in tasks:
        for dep in task.depend_on:
            if dep not in by_id:
                raise CiwbError(f"batch task {task.identifier!r} depends on unknown {dep!r}")
    cycle = _find_cycle({t.identifier: list(t.depend_on) for t in tasks})
    if cycle:
        # written in run order: each task runs after the one before it
        raise BatchCycleError("build-graph has a cycle: " + " → ".join(reversed(cycle)))
    done: set[str] = set()
    layers = []
    remaining = list(tasks)
    while remaining:
        layer = [t for t in remaining if set(t.depend_on) <= done]
        layers.append(layer)
        done.update(t.identifier for t in layer)
        remaining = [t for t in remaining if t.identifier not in done]
    return layers


def plan_batch(batch: BatchSpec) -> BatchPlan:
    """Pure planning: which child builds, in which order (layers run one after another)."""
    if batch.kind == "build-list":
        builds = [_planned(t, depend_on=()) for t in batch.tasks]
        return BatchPlan(batch.kind, batch.fast_fail, [builds] if builds else [])
    if batch.kind == "build-graph":
        return BatchPlan(batch.kind, batch.fast_fail, _layers([_planned(t) for t in batch.tasks]))
    if batch.kind == "build-matrix":
        static = batch.matrix_static or BatchTask("")
        var_names = list(batch.matrix_variables)
        axes = [
            batch.matrix_buildspecs or [static.buildspec],
            batch.matrix_images or [static.image],
            batch.matrix_compute_types or [static.compute_type],
            *[batch.matrix_variables[n] or [""] for n in var_names],
        ]
        builds = []
        for n, combo in enumerate(itertools.product(*axes), 1):
            buildspec, image, compute, *values = combo
            variables = {**static.env_variables, **dict(zip(var_names, values, strict=True))}
            builds.append(
                _planned(
                    static,
                    f"matrix_{n}",
                    buildspec=buildspec,
                    image=image,
                    compute_type=compute,
                    env_variables=variables,
                    depend_on=(),
                )
            )
        return BatchPlan(batch.kind, batch.fast_fail, [builds])
    if batch.kind == "build-fanout":
        builds = [PlannedBuild(f"shard_{n}") for n in range(1, batch.fanout_parallelism + 1)]
        return BatchPlan(batch.kind, batch.fast_fail, [builds])
    raise CiwbError(f"unknown batch kind {batch.kind!r}")


@dataclass
class BatchResult:
    batch_id: str
    batch_arn: str
    status: str
    children: dict[str, Any]  # identifier → ReplayResult (None when not run)
    record: dict[str, Any]
    stored: dict[str, int] | None = None
    skipped: list[str] = field(default_factory=list)


def run_batch(request: Any, plan: BatchPlan, *, max_parallel: int = 2) -> BatchResult:
    """Run a plan layer by layer; `request` is the parent ReplayRequest."""
    from ciwb.replay.build import run_replay
    from ciwb.replay.record import store_replay

    project = request.project or request.source.resolve().name or "replay"
    batch_uuid = str(uuid.uuid4())
    batch_id = arns.build_id(project, batch_uuid)
    batch_arn = arns.batch_arn(request.region, request.account, batch_id)
    started = utcnow()
    cancel = threading.Event()
    results: dict[str, Any] = {}
    failed_ids: set[str] = set()
    skipped: list[str] = []
    lock = threading.Lock()
    number = int(time.time())

    def child(build: PlannedBuild, n: int) -> None:
        sub = replace(
            request,
            project=project,
            buildspec=build.buildspec or request.buildspec,
            env_overrides={**build.env_variables, **request.env_overrides},
            batch_identifier=build.identifier,
            batch_arn=batch_arn,
            build_number=number + n,
            environment_type=build.env_type,
            compute_type=build.compute_type,
            image=build.image,
            cancel=cancel,
        )
        result = run_replay(sub)
        with lock:
            results[build.identifier] = result
            if result.status != "SUCCEEDED":
                failed_ids.add(build.identifier)
                if plan.fast_fail and not build.ignore_failure:
                    cancel.set()

    n = 0
    try:
        for layer in plan.layers:
            runnable = []
            for build in layer:
                blocked = [d for d in build.depend_on if d in failed_ids or d in skipped]
                if cancel.is_set() or blocked:
                    skipped.append(build.identifier)
                else:
                    runnable.append(build)
            with ThreadPoolExecutor(max_workers=max(1, max_parallel)) as pool:
                futures = []
                for build in runnable:
                    n += 1
                    futures.append(pool.submit(child, build, n))
                for future in futures:
                    future.result()
    except KeyboardInterrupt:
        cancel.set()
        raise
    ended = utcnow()
    by_id = {b.identifier: b for b in plan.builds}
    bad = [i for i in failed_ids | set(skipped) if not by_id[i].ignore_failure]
    status = "FAILED" if bad else "SUCCEEDED"
    if cancel.is_set() and status == "SUCCEEDED":
        status = "STOPPED"
    record = _batch_record(batch_id, batch_arn, project, plan, results, status, started, ended)
    stored = None
    if request.store:
        stored = store_replay(request.db, batch=record)
    return BatchResult(batch_id, batch_arn, status, results, record, stored, skipped)


def _batch_record(
    batch_id: str,
    arn: str,
    project: str,
    plan: BatchPlan,
    results: dict[str, Any],
    status: str,
    started: datetime,
    ended: datetime,
) -> dict[str, Any]:
    groups = []
    for build in plan.builds:
        result = results.get(build.identifier)
        group: dict[str, Any] = {
            "identifier": build.identifier,
            "dependsOn": list(build.depend_on),
            "ignoreFailure": build.ignore_failure,
        }
        if result is not None:
            group["currentBuildSummary"] = {
                "arn": result.build_arn,
                "requestedOn": result.record["startTime"],
                "buildStatus": result.status,
            }
        groups.append(group)
    return {
        "id": batch_id,
        "arn": arn,
        "startTime": started,
        "endTime": ended,
        "currentPhase": status,
        "buildBatchStatus": status,
        "projectName": project,
        "phases": [
            {
                "phaseType": "SUBMITTED",
                "phaseStatus": "SUCCEEDED",
                "startTime": started,
                "endTime": started,
                "durationInSeconds": 0,
            },
            {
                "phaseType": "IN_PROGRESS",
                "phaseStatus": status,
                "startTime": started,
                "endTime": ended,
                "durationInSeconds": int((ended - started).total_seconds()),
            },
            {"phaseType": status, "startTime": ended},
        ],
        "buildGroups": groups,
        "complete": True,
        "batchType": plan.kind.upper().replace("-", "_"),
    }
