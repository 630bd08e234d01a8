"""Where a build runs when it is not this host: the remote-runner protocol and its registry.

A local replay goes through an executor (ciwb.replay.executors: `local`, `docker`), which
prepares a workspace here. A remote runner (`codebuild`) has no workspace: it starts builds
elsewhere, waits for them and stores what they report. `replay run` and `replay experiment`
find either by the `--executor` name; no caller branches on a runner's name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

from ciwb.errors import CiwbError
from ciwb.experiments.codebuild_runner import CodeBuildRunner
from ciwb.experiments.runs import Cell, ExperimentResult, ExperimentRunRow
from ciwb.replay.batch import BatchResult
from ciwb.replay.executors import EXECUTORS
from ciwb.replay.local import replay_locally
from ciwb.replay.options import ReplayOptions
from ciwb.replay.request import ReplayResult

__all__ = [
    "REMOTE_RUNNERS",
    "RemoteRunner",
    "executor_names",
    "register_remote_runner",
    "remote_runner",
    "run_source",
]


class RemoteRunner(Protocol):
    """Builds that run elsewhere: one build, or an experiment's cells round by round."""

    name: ClassVar[str]
    isolation: ClassVar[str]  # one plain sentence shown to the user

    @classmethod
    def for_replay(cls, options: ReplayOptions) -> RemoteRunner:
        """The runner `replay run --executor NAME` describes (project, profile, timeout)."""

    def check(self, source: Path, buildspec: str | None) -> None:
        """Everything that can fail before a build starts or a row is stored."""

    def run_build(self, options: ReplayOptions) -> ReplayResult:
        """One build of SRC's buildspec (`ciwb replay run --executor NAME`)."""

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
        """Every cell `repeat` times (cold, then warm); append and store each run's row."""


# name → the runner's class; constructed with (project, **options)
REMOTE_RUNNERS: dict[str, type[RemoteRunner]] = {}


def register_remote_runner(cls: type[RemoteRunner]) -> type[RemoteRunner]:
    REMOTE_RUNNERS[cls.name] = cls
    return cls


def executor_names() -> list[str]:
    """Every `--executor` value: local executors and remote runners."""
    return sorted({*EXECUTORS, *REMOTE_RUNNERS})


def remote_runner(name: str, project: str | None, **options: Any) -> RemoteRunner | None:
    """The remote runner called `name` (None: a local executor's name)."""
    cls = REMOTE_RUNNERS.get(name)
    if cls is None:
        if name not in EXECUTORS:
            raise CiwbError(f"unknown executor {name!r} (known: {', '.join(executor_names())})")
        return None
    return cls(project, **options)  # type: ignore[call-arg]


def run_source(options: ReplayOptions) -> ReplayResult | BatchResult:
    """`ciwb replay run`: a local replay (one build or a batch), or one remote build."""
    name = options.executor.executor
    if name not in EXECUTORS and name not in REMOTE_RUNNERS:
        raise CiwbError(f"unknown executor {name!r} (known: {', '.join(executor_names())})")
    if name in REMOTE_RUNNERS:
        options.environment.secrets()  # the same option checks as a local replay, first
        runner: RemoteRunner = REMOTE_RUNNERS[name].for_replay(options)
        return runner.run_build(options)
    return replay_locally(options)


register_remote_runner(CodeBuildRunner)
