"""Experiments: the same source across arch × compute × cache, cold then warm, stored per run.

Cells run as local replays (ciwb.replay executors) or on a remote runner (`codebuild`),
found by name through the runner registry.
"""

from ciwb.experiments.matrix import run_experiment
from ciwb.experiments.runners import (
    RemoteRunner,
    executor_names,
    register_remote_runner,
    remote_runner,
    run_source,
)
from ciwb.experiments.runs import (
    Cell,
    ExperimentResult,
    ExperimentRunRow,
    PhaseSummary,
    make_run_row,
)

__all__ = [
    "Cell",
    "ExperimentResult",
    "ExperimentRunRow",
    "PhaseSummary",
    "RemoteRunner",
    "executor_names",
    "make_run_row",
    "register_remote_runner",
    "remote_runner",
    "run_experiment",
    "run_source",
]
