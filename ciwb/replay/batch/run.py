"""The batch runner: a plan's layers as child replays, then the batch record."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ciwb.codebuild import arns
from ciwb.codebuild.clock import utcnow
from ciwb.replay.batch.plan import BatchPlan, PlannedBuild
from ciwb.replay.build import run_replay
from ciwb.replay.options import ReplayOptions
from ciwb.replay.record import store_replay

__all__ = ["BatchResult", "run_batch"]


@dataclass
class BatchResult:
    batch_id: str
    batch_arn: str
    status: str
    children: dict[str, Any]  # identifier → ReplayResult (None when not run)
    record: dict[str, Any]
    stored: dict[str, int] | None = None
    skipped: list[str] = field(default_factory=list)


def run_batch(request: ReplayOptions, plan: BatchPlan, *, max_parallel: int = 2) -> BatchResult:
    """Run a plan layer by layer; `request` is the parent build's options."""
    request.check()  # a bad option fails once, before any child starts
    project = request.source.project or request.source.source.resolve().name or "replay"
    batch_uuid = str(uuid.uuid4())
    batch_id = arns.build_id(project, batch_uuid)
    environment = request.environment
    batch_arn = arns.batch_arn(environment.build_region, environment.account, batch_id)
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
            source=replace(
                request.source,
                project=project,
                buildspec=build.buildspec or request.source.buildspec,
            ),
            executor=replace(request.executor, image=build.image),
            build=replace(
                request.build,
                batch_identifier=build.identifier,
                batch_arn=batch_arn,
                build_number=number + n,
                env_variables=build.env_variables,  # under the parent's start-build overrides
                environment_type=build.env_type,
                compute_type=build.compute_type,
                cancel=cancel,
            ),
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
    if request.output.store:
        stored = store_replay(request.output.db, batch=record)
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
