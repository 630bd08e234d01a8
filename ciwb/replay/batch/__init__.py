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

from ciwb.replay.batch.plan import BatchPlan, PlannedBuild, plan_batch
from ciwb.replay.batch.run import BatchResult, run_batch

__all__ = ["BatchPlan", "BatchResult", "PlannedBuild", "plan_batch", "run_batch"]
