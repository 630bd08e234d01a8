"""The batch planner: a buildspec's `batch:` section → layers of child builds (pure)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

from ciwb.buildspec import BatchSpec, BatchTask
from ciwb.errors import BatchCycleError, CiwbError

__all__ = ["BatchPlan", "PlannedBuild", "plan_batch"]


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
