"""Where build time goes: each phase's share of wall time and its percentiles.

Phase seconds come from phase timestamps (`build_phases.duration_s`, summed per build into
`builds.<phase>_s`), never from AWS's truncated `durationInSeconds`
(docs/reference/codebuild-facts.md, "Phases"). Wall time
is the build's `total_s` (end − start, which includes queueing). SUBMITTED, QUEUED and
PROVISIONING are reported on their own rows, flagged `waiting`: they are CodeBuild's
time, not the buildspec's.
"""

from __future__ import annotations

import polars as pl

from ciwb.codebuild.build_sql import FACT_PHASES, fact_column
from ciwb.store import DbLike, Selection, fetch_frame

__all__ = ["WAIT_PHASES", "phase_breakdown"]

# Phases a build spends waiting for CodeBuild rather than running its own commands.
WAIT_PHASES = ("SUBMITTED", "QUEUED", "PROVISIONING")


def phase_breakdown(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    successful_only: bool = True,
) -> pl.DataFrame:
    """One row per project × phase: builds, total/mean seconds, share of wall, p50–p99.

    `share_of_wall` is the phase's summed seconds over the summed wall time of the same
    builds, so a project's shares add up to ~1 (the gap is time between phases).
    """
    where, params = (selection or Selection()).where("b")
    if successful_only:
        where += " AND b.status = 'SUCCEEDED'"
    return fetch_frame(db, _SQL.replace("{where}", where), params)


# Each build carries its seconds per phase (`builds.<phase>_s`, materialised at write time
# from the same record as its `build_phases` rows; CodeBuild lists each phase once), so one
# pass over the chosen builds, grouped by project, gives every phase's figures: no join
# with the phase rows. The ten per-project rows are then unnested in phase order (at 200k
# builds ~2.5× faster than UNPIVOT into rows and one GROUP BY project, phase).
_COLUMNS = [(phase, fact_column(phase)) for phase in FACT_PHASES]
_PER_PHASE = ",\n".join(
    # one holistic aggregate for all four quantiles: one selection per group, not four
    f"count({col}) AS n{i}, sum({col}) AS t{i}, quantile_cont({col}, [0.50, 0.90, 0.95, 0.99])"
    f" AS q{i}"
    for i, (_, col) in enumerate(_COLUMNS)
)
_ROWS = ", ".join(
    f"{{'pos': {i}, 'phase_type': '{phase}', 'waiting': {str(phase in WAIT_PHASES).lower()},"
    f" 'builds': n{i}, 'total_s': t{i}, 'q': q{i}}}"
    for i, (phase, _) in enumerate(_COLUMNS)
)
_SQL = f"""
    WITH per_project AS (
        SELECT project_name, sum(total_s) AS wall_s,
               {_PER_PHASE}
        FROM builds b
        WHERE {{where}} AND b.build_complete AND b.total_s IS NOT NULL
        GROUP BY project_name
    ),
    per_phase AS (
        SELECT project_name, wall_s, unnest([{_ROWS}], recursive := true)
        FROM per_project
    )
    SELECT project_name, phase_type, waiting,
           builds, total_s, total_s / builds AS mean_s,
           total_s / nullif(wall_s, 0) AS share_of_wall,
           q[1] AS p50_s, q[2] AS p90_s, q[3] AS p95_s, q[4] AS p99_s
    FROM per_phase
    WHERE builds > 0
    ORDER BY project_name, pos
"""
