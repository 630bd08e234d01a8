"""`ciwb replay run` on this host: one build, or the buildspec's batch."""

from __future__ import annotations

from pathlib import Path

from ciwb.buildspec import load_buildspec
from ciwb.errors import CiwbError
from ciwb.replay.batch import BatchResult, plan_batch, run_batch
from ciwb.replay.build import run_replay
from ciwb.replay.options import ReplayOptions
from ciwb.replay.request import ReplayResult

__all__ = ["replay_locally"]


def replay_locally(options: ReplayOptions) -> ReplayResult | BatchResult:
    """One build (or the buildspec's batch) on this host, through a local executor."""
    options.check()  # a bad option fails before the buildspec is read
    if options.source.batch:
        path = Path(options.source.buildspec or "buildspec.yml")
        source = options.source.source
        spec = load_buildspec(path if path.is_absolute() else source / path)
        if spec.batch is None:
            raise CiwbError(f"{spec.path} has no batch section")
        return run_batch(options, plan_batch(spec.batch))
    return run_replay(options)
