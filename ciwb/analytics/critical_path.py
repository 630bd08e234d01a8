"""Critical path of batch builds: which child builds the batch actually waited for.

A batch's build graph comes from `build_batch_groups` (`depends_on` lists identifiers)
and each child's times from its build. Walking back from the child that finished last,
each step follows the dependency that finished last — the one that held the next child
back. Each child also gets its exclusive time: the seconds of the batch during which it
was the only child running, i.e. time that shortening it alone would certainly save.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from ciwb.store import DbLike, Selection, fetch_frame

__all__ = ["batch_critical_paths", "critical_path_summary", "summarise_critical_paths"]

_SCHEMA = {
    "batch_arn": pl.Utf8,
    "project_name": pl.Utf8,
    "identifier": pl.Utf8,
    "build_arn": pl.Utf8,
    "depends_on": pl.List(pl.Utf8),
    "start_time": pl.Datetime("us"),
    "end_time": pl.Datetime("us"),
    "duration_s": pl.Float64,
    "wait_s": pl.Float64,
    "exclusive_s": pl.Float64,
    "on_critical_path": pl.Boolean,
    "path_position": pl.Int64,
}


def _exclusive_seconds(intervals: dict[str, tuple[float, float]]) -> dict[str, float]:
    """Seconds during which each interval is the only one open (sweep over all edges)."""
    events = sorted(
        [(start, 1, key) for key, (start, _) in intervals.items()]
        + [(end, -1, key) for key, (_, end) in intervals.items()]
    )
    exclusive = dict.fromkeys(intervals, 0.0)
    open_now: set[str] = set()
    last = None
    for t, kind, key in events:
        if last is not None and len(open_now) == 1:
            exclusive[next(iter(open_now))] += t - last
        if kind == 1:
            open_now.add(key)
        else:
            open_now.discard(key)
        last = t
    return exclusive


def batch_critical_paths(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    batch_arns: Sequence[str] | None = None,
) -> pl.DataFrame:
    """One row per child build of each completed batch, with its place on the critical path.

    `wait_s` is the time between the last of its dependencies finishing (or the batch
    starting) and the child starting; `path_position` counts from 1 at the chain's start.
    """
    where, params = (selection or Selection()).where("bb")
    if batch_arns:
        where += " AND bb.batch_arn IN (SELECT unnest(?::VARCHAR[]))"
        params.append(list(batch_arns))
    sql = f"""
        SELECT g.batch_arn, bb.project_name, bb.start_time AS batch_start, g.identifier,
               g.build_arn, coalesce(g.depends_on, []) AS depends_on,
               b.start_time, b.end_time
        FROM build_batches bb
        JOIN build_batch_groups g USING (batch_arn)
        JOIN builds b ON b.build_arn = g.build_arn
        WHERE {where} AND bb.complete AND b.start_time IS NOT NULL AND b.end_time IS NOT NULL
        ORDER BY g.batch_arn, b.start_time
    """
    children = fetch_frame(db, sql, params)
    # Plain lists, one pass over the batches (the rows come ordered by batch): a polars frame
    # per batch and a dict per row were most of the cost at a million builds. Seconds are
    # integer microseconds over 10**6, as timedelta.total_seconds() gives them.
    batch = children["batch_arn"].to_list()
    idents = children["identifier"].to_list()
    depends = children["depends_on"].to_list()
    starts = children["start_time"].dt.epoch("us").to_list()
    ends = children["end_time"].dt.epoch("us").to_list()
    batch_starts = children["batch_start"].dt.epoch("us").to_list()
    taken: list[int] = []
    computed: dict[str, list] = {
        "duration_s": [],
        "wait_s": [],
        "exclusive_s": [],
        "on_critical_path": [],
        "path_position": [],
    }
    first = 0
    while first < len(batch):
        last = first
        while last < len(batch) and batch[last] == batch[first]:
            last += 1
        nodes: dict[str, int] = {}  # identifier → its (last) row, in first-seen order
        for row in range(first, last):
            nodes[idents[row]] = row
        t0 = batch_starts[first]
        if t0 is None:
            t0 = min(starts[first:last])
        secs = {
            ident: ((starts[row] - t0) / 10**6, (ends[row] - t0) / 10**6)
            for ident, row in nodes.items()
        }
        exclusive = _exclusive_seconds(secs)
        chain: list[str] = []
        current = max(secs, key=lambda i: secs[i][1])
        while current is not None and current not in chain:
            chain.append(current)
            deps = [d for d in depends[nodes[current]] if d in secs]
            current = max(deps, key=lambda d: secs[d][1]) if deps else None
        chain.reverse()
        position = {ident: i + 1 for i, ident in enumerate(chain)}
        for ident, row in nodes.items():
            ready = max((secs[d][1] for d in depends[row] if d in secs), default=0.0)
            taken.append(row)
            computed["duration_s"].append(secs[ident][1] - secs[ident][0])
            computed["wait_s"].append(max(secs[ident][0] - ready, 0.0))
            computed["exclusive_s"].append(exclusive[ident])
            computed["on_critical_path"].append(ident in position)
            computed["path_position"].append(position.get(ident))
        first = last
    passed = [c for c in _SCHEMA if c not in computed]
    return pl.concat(
        [
            children[taken].select(passed),
            pl.DataFrame(computed, schema={c: _SCHEMA[c] for c in computed}),
        ],
        how="horizontal",
    ).select(pl.col(c).cast(t) for c, t in _SCHEMA.items())


def summarise_critical_paths(paths: pl.DataFrame) -> pl.DataFrame:
    """Per project × child identifier, from `batch_critical_paths` rows.

    How often it was on the critical path, its median duration, exclusive and waiting
    seconds: the children worth speeding up first have a high share and exclusive time.
    """
    batches = paths.select("project_name", "batch_arn").unique()
    per_project = batches.group_by("project_name").agg(pl.len().alias("batches"))
    return (
        paths.group_by("project_name", "identifier")
        .agg(
            pl.col("on_critical_path").mean().alias("critical_share"),
            pl.col("duration_s").median().alias("median_duration_s"),
            pl.col("exclusive_s").median().alias("median_exclusive_s"),
            pl.col("wait_s").median().alias("median_wait_s"),
            pl.col("path_position").median().alias("median_position"),
        )
        .join(per_project, on="project_name")
        .sort(
            ["project_name", "critical_share", "median_duration_s"],
            descending=[False, True, True],
        )
    )


def critical_path_summary(
    db: DbLike = None,
    selection: Selection | None = None,
) -> pl.DataFrame:
    """`summarise_critical_paths` over the selection's batches."""
    return summarise_critical_paths(batch_critical_paths(db, selection))
