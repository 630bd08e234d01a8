"""CPU and memory utilisation per project, from CloudWatch's per-build metrics.

`CPUUtilizedPercent` and `MemoryUtilizedPercent` exist only for builds over a minute
(shared/reference/codebuild-facts.md, "CloudWatch metrics"). A project is flagged
over-provisioned when its p95 load, scaled to the next general1 size down (vCPU and memory
from the reference's compute table; the steps are not uniform: xlarge → large is 36 → 8
vCPU on x86), would still leave `headroom_pct` spare. Pricing the change is `ciwb.cost`'s.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from ciwb.analytics._store import BuildFilter, DbLike, TimeLike, query, reading

__all__ = ["resource_utilisation"]

# (arch, rank, compute type, vCPU, memory GB): shared/reference/codebuild-facts.md,
# "Compute types" (LINUX_CONTAINER for x86_64, ARM_CONTAINER for arm64).
_LADDER = [
    ("x86_64", 1, "BUILD_GENERAL1_SMALL", 2, 3),
    ("x86_64", 2, "BUILD_GENERAL1_MEDIUM", 4, 7),
    ("x86_64", 3, "BUILD_GENERAL1_LARGE", 8, 15),
    ("x86_64", 4, "BUILD_GENERAL1_XLARGE", 36, 70),
    ("x86_64", 5, "BUILD_GENERAL1_2XLARGE", 72, 145),
    ("arm64", 1, "BUILD_GENERAL1_SMALL", 2, 4),
    ("arm64", 2, "BUILD_GENERAL1_MEDIUM", 4, 8),
    ("arm64", 3, "BUILD_GENERAL1_LARGE", 8, 16),
    ("arm64", 4, "BUILD_GENERAL1_XLARGE", 32, 64),
    ("arm64", 5, "BUILD_GENERAL1_2XLARGE", 48, 96),
]
_SIZES = ", ".join(f"('{a}', {r}, '{c}', {v}.0, {m}.0)" for a, r, c, v, m in _LADDER)


def resource_utilisation(
    db: DbLike = None,
    *,
    headroom_pct: float = 20.0,
    min_builds: int = 20,
    since: TimeLike = None,
    until: TimeLike = None,
    projects: Sequence[str] | str | None = None,
    region: str | None = None,
) -> pl.DataFrame:
    """Per project × compute type: p95 over builds of each build's p95 CPU % and peak memory %.

    `cpu_next_pct` / `memory_next_pct` are those loads scaled to `next_size_down`;
    `over_provisioned` is true when both are ≤ 100 − `headroom_pct` and the project has
    ≥ `min_builds` measured builds.
    """
    where, params = BuildFilter(since, until, projects, region).sql("b")
    sql = f"""
        WITH sizes(arch, rank, compute_type, vcpu, memory_gb) AS (VALUES {_SIZES}),
        ladder AS (
            SELECT s.arch, s.compute_type, s.vcpu, s.memory_gb,
                   d.compute_type AS next_size_down, d.vcpu AS next_vcpu,
                   d.memory_gb AS next_memory_gb
            FROM sizes s JOIN sizes d ON d.arch = s.arch AND d.rank = s.rank - 1
        ),
        measured AS (
            SELECT b.project_name, b.compute_type, b.arch, b.build_arn,
                   max(m.p95_value) FILTER (WHERE m.metric_name = 'CPUUtilizedPercent') AS cpu,
                   max(m.max_value) FILTER (WHERE m.metric_name = 'MemoryUtilizedPercent')
                       AS memory
            FROM builds b JOIN build_metrics m USING (build_arn)
            WHERE {where} AND m.points > 0
            GROUP BY ALL
        ),
        per_project AS (
            SELECT project_name, compute_type, arch, count(*) AS builds,
                   quantile_cont(cpu, 0.95) AS cpu_p95_pct,
                   quantile_cont(memory, 0.95) AS memory_p95_pct
            FROM measured
            WHERE cpu IS NOT NULL AND memory IS NOT NULL
            GROUP BY ALL
        ),
        sized AS (
            SELECT p.*, l.next_size_down,
                   p.cpu_p95_pct * l.vcpu / l.next_vcpu AS cpu_next_pct,
                   p.memory_p95_pct * l.memory_gb / l.next_memory_gb AS memory_next_pct
            FROM per_project p
            LEFT JOIN ladder l ON l.compute_type = p.compute_type AND l.arch = p.arch
        )
        SELECT *,
               coalesce(builds >= ? AND greatest(cpu_next_pct, memory_next_pct) <= 100 - ?,
                        FALSE) AS over_provisioned
        FROM sized
        ORDER BY greatest(cpu_p95_pct, memory_p95_pct), project_name
    """
    with reading(db) as con:
        return query(con, sql, [*params, min_builds, headroom_pct])
