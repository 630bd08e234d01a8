"""What-if: switch x86 projects to arm64 (Graviton), costed at arm prices.

The speed factor (arm seconds / x86 seconds over the compute-bound phases INSTALL, PRE_BUILD,
BUILD and POST_BUILD) comes from paired evidence only, in this order:
1. a factor the user gives;
2. native replay experiments (`experiment_runs`, never emulated runs: docs/design.md, "Replay");
3. the project's own history on both architectures, same compute type, the builds just
   before and just after a switch.
The factor multiplies durations, so it is estimated in log space: the ratio of geometric
means (efficient for the log-normal spread of build times); its interval is a percentile
bootstrap of that ratio. No evidence → "unknown":
the table then shows only the break-even factor (x86 price / arm price), which is a fact.
The arm and x86 shapes differ (docs/reference/codebuild-facts.md, "Compute types"):
both shown.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import polars as pl
import pyarrow as pa

from ciwb.codebuild.build_sql import fact_column
from ciwb.codebuild.phases import COMMAND_PHASES
from ciwb.codebuild.shapes import shape_of
from ciwb.cost.billing import BILLING_RULES, BillingOptions
from ciwb.cost.estimate import materialise_costs
from ciwb.cost.whatif import WhatIf, billed_sql, months_covered, register_whatif, rows_by_project
from ciwb.stats import bootstrap_interval, geometric_mean_ratio, log_mean_ratio
from ciwb.store import DbLike, Selection, fetch_frame, reading

__all__ = ["COMPARABLE_PHASES", "Arm64Verdict", "arm64_switch", "arm64_verdict", "speed_factor"]

COMPARABLE_PHASES = COMMAND_PHASES  # the buildspec phases: the compute-bound part
_COMPARABLE_SQL = " + ".join(f"coalesce({fact_column(p)}, 0)" for p in COMPARABLE_PHASES)


def speed_factor(
    arm: np.ndarray, x86: np.ndarray, *, resamples: int = 2000, confidence: float = 0.95
) -> tuple[float, float, float]:
    """(factor, low, high): geometric-mean arm seconds / x86 seconds, bootstrap interval."""
    point = float(geometric_mean_ratio(arm, x86))
    low, high = bootstrap_interval(
        geometric_mean_ratio, [arm, x86], resamples=resamples, confidence=confidence
    )
    return point, low, high


def _history_samples(
    builds: pl.DataFrame, window: int
) -> tuple[np.ndarray, np.ndarray, str, str] | None:
    """Same-compute-type x86 and arm samples around the switch, with a description."""
    both = (
        builds.group_by("compute_type", "arch")
        .len()
        .pivot(on="arch", index="compute_type", values="len")
    )
    if "x86_64" not in both.columns or "arm64" not in both.columns:
        return None
    both = (
        both.drop_nulls()
        .with_columns(pl.min_horizontal("x86_64", "arm64").alias("pairs"))
        .sort("pairs", descending=True)
    )
    if both.height == 0:
        return None
    compute = both["compute_type"][0]
    same = builds.filter(pl.col("compute_type") == compute).sort("start_time")
    x86 = same.filter(pl.col("arch") == "x86_64")
    arm = same.filter(pl.col("arch") == "arm64")
    switch = arm["start_time"].min()
    before = x86.filter(pl.col("start_time") < switch)
    if before.height and before.height >= x86.height / 2:
        # A switch: the builds just before it against the ones just after it.
        x86 = before.tail(window)
        arm = arm.head(window)
        how = (
            f"switch on {switch:%Y-%m-%d}: last {x86.height} x86 before, "
            f"first {arm.height} arm64 after"
        )
    else:
        x86, arm = x86.tail(window), arm.tail(window)
        how = f"both architectures in use: latest {x86.height} x86 and {arm.height} arm64"
    return (
        arm["comparable_s"].to_numpy(),
        x86["comparable_s"].to_numpy(),
        f"history ({compute}; {how})",
        compute,
    )


_EXPERIMENT_SQL = """
SELECT coalesce(json_extract_string(e.matrix, '$.project'),
                regexp_extract(rtrim(e.source_dir, '/'), '([^/]+)$', 1)) AS project_name,
       CASE WHEN lower(r.arch) IN ('arm64', 'aarch64') THEN 'arm64'
            WHEN lower(r.arch) IN ('amd64', 'x86_64', 'x86-64') THEN 'x86_64' END AS arch,
       coalesce(r.compute, '') || '|' || coalesce(r.cache, '') || '|'
           || coalesce(r.temperature, '') AS cell,
       r.total_s, coalesce(r.emulated, false) AS emulated
FROM experiment_runs r JOIN experiments e USING (experiment_id)
WHERE r.status = 'SUCCEEDED' AND r.total_s > 0
"""


def _experiment_factor(
    runs: pl.DataFrame, resamples: int, confidence: float
) -> tuple[float, float, float, str] | None:
    """Geometric mean over matched cells of the per-cell ratio of geometric means."""
    native = runs.filter(~pl.col("emulated"))
    cells = []
    for _, cell in native.group_by("cell"):
        arm = cell.filter(pl.col("arch") == "arm64")["total_s"].to_numpy()
        x86 = cell.filter(pl.col("arch") == "x86_64")["total_s"].to_numpy()
        if len(arm) and len(x86):
            cells.append((arm, x86))
    if not cells:
        return None

    def log_ratio(*drawn_logs: np.ndarray) -> np.ndarray:
        # each cell's geometric-mean ratio from its resampled logs (taken once per run,
        # not once per draw: log(s)[d] is log(s[d]))
        logs = [
            np.log(log_mean_ratio(drawn_logs[i], drawn_logs[i + 1]))
            for i in range(0, len(drawn_logs), 2)
        ]
        return np.exp(np.mean(logs, axis=0))

    flat = [np.log(s) for pair in cells for s in pair]
    point = float(log_ratio(*[s[np.newaxis, :] for s in flat])[0])
    low, high = bootstrap_interval(log_ratio, flat, resamples=resamples, confidence=confidence)
    emulated = runs.filter(pl.col("emulated")).height
    runs_used = sum(len(a) + len(b) for a, b in cells)
    note = f"native experiments ({len(cells)} matched cells, {runs_used} runs"
    note += f"; {emulated} emulated runs ignored)" if emulated else ")"
    return point, low, high, note


@register_whatif("arm64")
def arm64_switch(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    factor: float | None = None,
    factors: dict[str, float] | None = None,
    window: int = 300,
    min_builds: int = 10,
    resamples: int = 2000,
    confidence: float = 0.95,
    options: BillingOptions | None = None,
) -> WhatIf:
    """Per x86 project: speed factor with interval, and monthly cost now vs on arm64."""
    user = dict(factors or {})
    with reading(db) as con:
        materialise_costs(con, selection, options=options)
        months = months_covered(con)
        history = fetch_frame(
            con,
            f"""
            SELECT project_name, arch, compute_type, start_time,
                   {_COMPARABLE_SQL} AS comparable_s
            FROM build_facts
            WHERE status = 'SUCCEEDED' AND environment_type IN ('LINUX_CONTAINER', 'ARM_CONTAINER')
              AND ({_COMPARABLE_SQL}) > 0  -- logs need positive seconds
            """,
        )
        experiments = fetch_frame(con, _EXPERIMENT_SQL)
        x86_projects = fetch_frame(
            con,
            """
            SELECT project_name, arg_max(compute_type, start_time) AS compute_type,
                   arg_max(arch, start_time) AS current_arch, count(*) AS x86_builds
            FROM _ciwb_c WHERE environment_type = 'LINUX_CONTAINER' AND fleet_arn IS NULL
            GROUP BY project_name ORDER BY project_name
            """,
        )
        rows: list[dict[str, Any]] = []
        history_of, experiments_of = rows_by_project(history), rows_by_project(experiments)
        for project in x86_projects.to_dicts():
            name = project["project_name"]
            row: dict[str, Any] = {"project_name": name, "compute_type": project["compute_type"]}
            found: tuple[float, float, float, str] | None = None
            if name in user or factor is not None:
                value = user.get(name, factor)
                found = (value, value, value, "user-given factor (no interval stated)")
            if found is None and experiments.height:
                mine = experiments_of(name)
                if mine.height:
                    found = _experiment_factor(mine, resamples, confidence)
            if found is None:
                paired = _history_samples(history_of(name), window)
                if paired and min(len(paired[0]), len(paired[1])) >= min_builds:
                    arm, x86, how, _ = paired
                    found = (
                        *speed_factor(arm, x86, resamples=resamples, confidence=confidence),
                        how,
                    )
                    row["arm_builds"], row["x86_builds"] = len(arm), len(x86)
            if found is None:
                row.update(
                    speed_factor=None,
                    factor_low=None,
                    factor_high=None,
                    evidence="unknown: no paired evidence",
                )
            else:
                row.update(
                    speed_factor=found[0],
                    factor_low=found[1],
                    factor_high=found[2],
                    evidence=found[3],
                )
            x86_shape = shape_of("LINUX_CONTAINER", project["compute_type"])
            arm_shape = shape_of("ARM_CONTAINER", project["compute_type"])
            row.update(
                x86_vcpu=x86_shape.vcpu if x86_shape else None,
                x86_memory_gb=x86_shape.memory_gb if x86_shape else None,
                arm_vcpu=arm_shape.vcpu if arm_shape else None,
                arm_memory_gb=arm_shape.memory_gb if arm_shape else None,
            )
            rows.append(row)
        evidence = pl.DataFrame(
            rows,
            schema_overrides={
                "speed_factor": pl.Float64,
                "factor_low": pl.Float64,
                "factor_high": pl.Float64,
            },
            infer_schema_length=None,
        )
        table = _cost(con, evidence, months) if evidence.height else evidence
    unpriced = (
        int(table["arm_unpriced_builds"].sum()) if "arm_unpriced_builds" in table.columns else 0
    )
    return WhatIf(
        kind="arm64",
        assumption=(
            "arm64 runs the compute-bound phases (INSTALL, PRE_BUILD, BUILD, POST_BUILD) "
            "`speed_factor` times as long as x86; other phases unchanged; same compute size "
            "at arm prices, per-minute rounding; break_even_factor = x86 price / arm price; "
            "monthly figures average the x86 builds over the whole period (narrow it with "
            "--since)"
        ),
        evidence="per project, column `evidence`: user factor, native experiments, or "
        "same-project history around an x86→arm64 switch",
        uncertainty=f"{confidence:.0%} percentile-bootstrap interval of the ratio of geometric means "
        "(factor_low..factor_high), costed as saving_month_low..saving_month_high; "
        "shapes differ (vCPU/memory columns)",
        table=table,
        unpriced_builds=unpriced,
        columns=(
            "project_name",
            "compute_type",
            "evidence",
            "speed_factor",
            "factor_low",
            "factor_high",
            "break_even_factor",
            "x86_vcpu",
            "x86_memory_gb",
            "arm_vcpu",
            "arm_memory_gb",
            "cost_now_month_lower",
            "cost_arm_month_lower",
            "saving_month_low",
            "saving_month_high",
        ),
    )


def _cost(con: Any, evidence: pl.DataFrame, months: float) -> pl.DataFrame:
    rule = next(r for r in BILLING_RULES if "ARM_CONTAINER" in r.environment_types)
    factors = evidence.select("project_name", "speed_factor", "factor_low", "factor_high")
    con.register(
        "_ciwb_factors",
        pa.Table.from_pylist(factors.to_dicts()) if factors.height else factors.to_arrow(),
    )

    def projected(bound: str, f: str) -> str:
        seconds = f"{bound}_s - comparable_s * (1 - {f})"
        # No factor → no projection (NULL), never a guess.
        return (
            f"sum(CASE WHEN {f} IS NULL THEN NULL ELSE "
            f"{billed_sql(seconds, rule.granularity_s, rule.minimum_s)}"
            f" / arm.unit_s * arm.price END)"
        )

    costs = fetch_frame(
        con,
        f"""
        WITH x AS (
            SELECT c.*, {_COMPARABLE_SQL} AS comparable_s, f.speed_factor, f.factor_low,
                   f.factor_high
            FROM _ciwb_c c
            JOIN build_facts bf USING (build_arn)
            JOIN _ciwb_factors f ON f.project_name = c.project_name
            WHERE c.environment_type = 'LINUX_CONTAINER' AND c.unpriced_reason IS NULL
        )
        SELECT x.project_name,
               count(*) AS builds_costed,
               count(*) FILTER (WHERE arm.price IS NULL) AS arm_unpriced_builds,
               max(x.price) / max(arm.price) AS break_even_factor,
               sum(x.cost_lower) / {months} AS cost_now_month_lower,
               sum(x.cost_upper) / {months} AS cost_now_month_upper,
               {projected("lower", "speed_factor")} / {months} AS cost_arm_month_lower,
               {projected("upper", "speed_factor")} / {months} AS cost_arm_month_upper,
               {projected("lower", "factor_high")} / {months} AS cost_arm_month_worst,
               {projected("lower", "factor_low")} / {months} AS cost_arm_month_best
        FROM x LEFT JOIN _ciwb_prices arm
          ON arm.region = x.region AND arm.environment_type = 'ARM_CONTAINER'
         AND arm.compute_type = x.compute_type
        GROUP BY x.project_name
        """,
    )
    con.unregister("_ciwb_factors")
    table = (
        evidence.join(costs, on="project_name", how="left")
        .with_columns(
            (pl.col("cost_now_month_lower") - pl.col("cost_arm_month_lower")).alias(
                "saving_month_lower"
            ),
            (pl.col("cost_now_month_upper") - pl.col("cost_arm_month_upper")).alias(
                "saving_month_upper"
            ),
            (pl.col("cost_now_month_lower") - pl.col("cost_arm_month_worst")).alias(
                "saving_month_low"
            ),
            (pl.col("cost_now_month_lower") - pl.col("cost_arm_month_best")).alias(
                "saving_month_high"
            ),
        )
        .drop("cost_arm_month_worst", "cost_arm_month_best")
    )
    return table.sort("project_name")


Arm64Verdict = Literal["switch", "keep", "unknown"]


def arm64_verdict(
    factor_low: float | None, factor_high: float | None, break_even: float | None
) -> Arm64Verdict:
    """What a project's measured speed factor says, the one rule every report applies.

    `switch` when even the slow end of the factor's interval beats the break-even factor (x86
    price / arm price), `keep` when even its fast end does not, else `unknown`: the interval
    straddles break-even (or there is no factor or no arm price), and only more evidence
    (a replay on both architectures) decides.
    """
    if any(v is None or math.isnan(v) for v in (factor_low, factor_high, break_even)):
        return "unknown"
    if factor_high < break_even:
        return "switch"
    if factor_low > break_even:
        return "keep"
    return "unknown"
