"""Replay a buildspec on this machine, faithfully: plan phases → executor → store as a build.

The buildspec language is ciwb.buildspec; matrices and remote runners are ciwb.experiments.
"""

from ciwb.replay.batch import BatchPlan, BatchResult, plan_batch, run_batch
from ciwb.replay.build import Replay, run_replay
from ciwb.replay.environment import SecretSource, load_secrets_file, read_env_file
from ciwb.replay.local import replay_locally
from ciwb.replay.options import (
    BuildContext,
    CacheOptions,
    EnvironmentOptions,
    ExecutorOptions,
    OutputOptions,
    ReplayOptions,
    SourceOptions,
)
from ciwb.replay.request import ReplayResult

__all__ = [
    "BatchPlan",
    "BatchResult",
    "BuildContext",
    "CacheOptions",
    "EnvironmentOptions",
    "ExecutorOptions",
    "OutputOptions",
    "Replay",
    "ReplayOptions",
    "ReplayResult",
    "SecretSource",
    "SourceOptions",
    "load_secrets_file",
    "plan_batch",
    "read_env_file",
    "replay_locally",
    "run_batch",
    "run_replay",
]
