"""Replay a buildspec on this machine, faithfully: parse → plan phases → executor → store."""

from ciwb.buildspec import (
    Buildspec,
    BuildspecError,
    Diagnostic,
    load_buildspec,
    parse_buildspec,
    validate_files,
)
from ciwb.replay.batch import BatchPlan, BatchResult, plan_batch, run_batch
from ciwb.replay.build import ReplayRequest, ReplayResult, run_replay
from ciwb.replay.environment import SecretSource, load_secrets_file, read_env_file

__all__ = [
    "BatchPlan",
    "BatchResult",
    "Buildspec",
    "BuildspecError",
    "Diagnostic",
    "ReplayRequest",
    "ReplayResult",
    "SecretSource",
    "load_buildspec",
    "load_secrets_file",
    "parse_buildspec",
    "plan_batch",
    "read_env_file",
    "run_batch",
    "run_replay",
    "validate_files",
]
