"""Cost per build (lower and upper bound), per project, month, compute type, arch and phase.

Everything is one DuckDB query over `builds` and `build_phases` (the same data behind the
`build_facts` view), so it scales to millions of builds; polars DataFrames come out.
Bounds (docs/reference/codebuild-facts.md, "Pricing": queue billing is unverified):
lower = billed from the PROVISIONING start, upper = billed from the SUBMITTED start.
A build with no price row, no billing rule, or on a reserved fleet is *unpriced* and counted.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from ciwb.codebuild.build_sql import FACT_PHASES, fact_column
from ciwb.codebuild.clock import utcnow
from ciwb.codebuild.shapes import SHAPES
from ciwb.cost.billing import BillingOptions, register_billing_rules
from ciwb.cost.prices import register_prices
from ciwb.errors import CiwbError
from ciwb.store import DbLike, Selection, connect, fetch_frame, reading
from ciwb.store.session import is_shared, reuse

__all__ = [
    "GROUPINGS",
    "CostSummary",
    "build_costs",
    "build_costs_sql",
    "materialise_costs",
    "save_build_costs",
    "cost_summary",
    "phase_cost_shares",
    "prepare_cost_relations",
]

GROUPINGS = {
    "project": ("project_name",),
    "month": ("month",),
    "compute": ("environment_type", "compute_type"),
    "arch": ("arch",),
}


def _billed(seconds: str) -> str:
    """Round billed time up to the rule's granularity; a build that ran bills the minimum."""
    return (
        f"CASE WHEN unpriced_reason IS NOT NULL THEN NULL WHEN {seconds} <= 0 THEN 0.0 "
        f"ELSE greatest(ceil({seconds} / granularity_s) * granularity_s, minimum_s) END"
    )


def build_costs_sql(where: str = "", *, free_tier: bool = False) -> str:
    """SELECT of one row per completed build with its bounds, billed seconds and cost.

    Needs the relations `_ciwb_rules`, `_ciwb_free_tier` and `_ciwb_prices` registered on
    the connection (see `prepare_cost_relations`). `where` filters `builds b`.
    """
    free = (
        """
        , credited AS (
            SELECT billed.*,
                CASE WHEN ft.allowance_id IS NULL THEN 0.0 ELSE greatest(0.0, least(
                    billed_lower_s, ft.allowance_s - (sum(billed_lower_s) OVER w - billed_lower_s)
                )) END AS free_lower_s,
                CASE WHEN ft.allowance_id IS NULL THEN 0.0 ELSE greatest(0.0, least(
                    billed_upper_s, ft.allowance_s - (sum(billed_upper_s) OVER w - billed_upper_s)
                )) END AS free_upper_s
            FROM billed
            LEFT JOIN _ciwb_free_tier ft
              ON ft.environment_type = billed.environment_type
             AND ft.compute_type = billed.compute_type
             AND billed.unpriced_reason IS NULL
            WINDOW w AS (
                PARTITION BY billed.account_id, billed.month, ft.allowance_id
                ORDER BY billed.start_time, billed.build_arn
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        )"""
        if free_tier
        else """
        , credited AS (SELECT billed.*, 0.0 AS free_lower_s, 0.0 AS free_upper_s FROM billed)"""
    )
    return f"""
    WITH prov AS (
        SELECT build_arn, min(start_time) AS provisioning_start
        FROM build_phases WHERE phase_type = 'PROVISIONING' GROUP BY build_arn
    ),
    base AS (
        SELECT b.build_arn, b.project_name, b.account_id, b.region, b.arch,
               b.environment_type, b.compute_type, b.status, b.start_time, b.end_time,
               b.fleet_arn, b.privileged_mode,
               ov.build_arn IS NOT NULL AS fleet_overflow,
               CASE WHEN b.compute_type = 'ATTRIBUTE_BASED_COMPUTE' THEN (
                   SELECT s.compute_type FROM _ciwb_shapes s
                   WHERE s.environment_type = b.environment_type
                     AND s.memory_gb >= b.compute_memory_gb
                     AND s.vcpu >= coalesce(b.compute_vcpu, 0)
                   ORDER BY s.rank LIMIT 1)
                    ELSE b.compute_type END AS price_compute_type,
               CAST(date_trunc('month', b.start_time) AS DATE) AS month,
               -- rounded to the millisecond so float noise never adds a billed minute
               round(greatest(b.total_s, 0), 3) AS upper_s,
               CASE WHEN p.provisioning_start IS NULL THEN 0.0 ELSE round(greatest(
                   epoch_us(b.end_time) - epoch_us(p.provisioning_start), 0) / 1e6, 3)
               END AS lower_s
        FROM builds b LEFT JOIN prov p USING (build_arn)
        LEFT JOIN _ciwb_overflow ov USING (build_arn)
        WHERE b.build_complete AND b.start_time IS NOT NULL AND b.end_time IS NOT NULL
        {where}
    ),
    rated AS (
        SELECT base.*, r.rule, r.granularity_s, r.minimum_s,
               pr.unit, pr.unit_s, pr.price, pr.currency, pr.as_of AS price_as_of,
               pr.confidence AS price_confidence,
               CASE WHEN base.fleet_arn IS NOT NULL AND NOT base.fleet_overflow
                        THEN 'billed by reserved fleet'
                    WHEN r.rule IS NULL
                        THEN 'no billing rule for ' || coalesce(base.environment_type, 'unknown')
                    WHEN base.compute_type = 'ATTRIBUTE_BASED_COMPUTE'
                         AND base.price_compute_type IS NULL
                        THEN 'no listed size covers ' || base.region || ' '
                        || base.environment_type || ' ATTRIBUTE_BASED_COMPUTE'
                    WHEN pr.price IS NULL THEN 'no price for ' || base.region || ' '
                        || base.environment_type || ' ' || coalesce(base.compute_type, '?')
               END AS unpriced_reason
        FROM base
        LEFT JOIN _ciwb_rules r ON r.environment_type = base.environment_type
        LEFT JOIN _ciwb_prices pr
          ON pr.region = base.region
         AND pr.environment_type = r.price_environment_type
         AND pr.compute_type = base.price_compute_type
    ),
    billed AS (
        SELECT rated.*,
               {_billed("lower_s")} AS billed_lower_s,
               {_billed("upper_s")} AS billed_upper_s
        FROM rated
    ){free}
    SELECT credited.* EXCLUDE (granularity_s, minimum_s),
           (billed_lower_s - free_lower_s) / unit_s * price AS cost_lower,
           (billed_upper_s - free_upper_s) / unit_s * price AS cost_upper
    FROM credited
    """


_SHAPE_SCHEMA = pa.schema(
    [
        ("environment_type", pa.string()),
        ("compute_type", pa.string()),
        ("vcpu", pa.float64()),
        ("memory_gb", pa.float64()),
        ("rank", pa.int32()),
    ]
)


def register_fleet_relations(con: duckdb.DuckDBPyConnection) -> None:
    """`_ciwb_overflow` (fleet builds that ran on demand) and `_ciwb_shapes` (general1 sizes,
    smallest first, for pricing ATTRIBUTE_BASED_COMPUTE) on `con`."""
    from ciwb.store.fleets import overflowed_builds

    # Replays every fleet's builds: once per shared connection (ciwb.store.session).
    overflow = reuse(
        con, "ciwb.cost.estimate: overflowed builds", lambda: sorted(overflowed_builds(con))
    )
    con.register("_ciwb_overflow", pa.table({"build_arn": pa.array(overflow, pa.string())}))
    # On-demand EC2 compute sizes as the container sizes they are priced as (billing.py).
    mirrors = {
        "LINUX_CONTAINER": ("LINUX_CONTAINER", "LINUX_EC2"),
        "ARM_CONTAINER": ("ARM_CONTAINER", "ARM_EC2"),
    }
    shapes = [
        {
            "environment_type": env,
            "compute_type": s.compute_type,
            "vcpu": float(s.vcpu),
            "memory_gb": float(s.memory_gb),
            "rank": i,
        }
        for i, s in enumerate(SHAPES)
        if s.vcpu is not None and s.compute_type.startswith("BUILD_GENERAL1_")
        for env in mirrors.get(s.environment_type, (s.environment_type,))
    ]
    con.register("_ciwb_shapes", pa.Table.from_pylist(shapes, schema=_SHAPE_SCHEMA))


def prepare_cost_relations(con: duckdb.DuckDBPyConnection, options: BillingOptions) -> list:
    """Register prices, billing rules and fleet relations on `con`; returns the price rows."""
    register_billing_rules(con, options)
    register_fleet_relations(con)
    return register_prices(con, as_of=options.prices_as_of, prices=options.prices)


def materialise_costs(
    con: duckdb.DuckDBPyConnection,
    selection: Selection | None = None,
    *,
    options: BillingOptions | None = None,
    name: str = "_ciwb_c",
) -> list:
    """Create temp table `name` with one costed row per build (works read-only); on a shared
    connection (ciwb.store.session), a view `name` over the table made once for the
    selection and options.

    Returns the price rows in force, so callers can price alternatives with the same table.
    """
    options = options or BillingOptions()
    prices = prepare_cost_relations(con, options)
    where, params = _where(selection)
    # On a shared connection (one `ciwb report` pass) the builds are costed once per
    # selection and options, into one table; every name asked for (`_ciwb_c`, the fleet,
    # retry and runner variants) is a view over the table for its selection, so every
    # what-if, summary and finding prices the builds once. A name asked for with another
    # selection is pointed at that selection's table, never left on a stale one.
    inner = build_costs_sql(where, free_tier=options.free_tier)
    if not is_shared(con):  # a connection of its own: the table is made for this call
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {inner}", params)
        return prices
    tables = reuse(con, "ciwb.cost.estimate: costed tables", dict)  # (selection, options) →
    views = reuse(con, "ciwb.cost.estimate: costed views", dict)  # name → the table it shows
    key = (selection or Selection(), options)
    if key not in tables:
        tables[key] = f"_ciwb_costed_{len(tables)}"
        con.execute(f"CREATE TEMP TABLE {tables[key]} AS {inner}", params)
    if views.get(name) != tables[key]:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {tables[key]}")
        views[name] = tables[key]
    return prices


def _where(selection: Selection | None) -> tuple[str, list[Any]]:
    """The selection as the `AND …` that `build_costs_sql` appends to its filter of `builds b`."""
    predicate, params = (selection or Selection()).where("b")
    return f"AND {predicate}", params


def build_costs(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    options: BillingOptions | None = None,
) -> pl.DataFrame:
    """One row per completed build: lower/upper seconds, billed seconds, price, cost bounds."""
    options = options or BillingOptions()
    where, params = _where(selection)
    with reading(db) as con:
        prepare_cost_relations(con, options)
        sql = build_costs_sql(where, free_tier=options.free_tier) + " ORDER BY start_time"
        return fetch_frame(con, sql, params)


@dataclass
class CostSummary:
    """Cost grouped one way, with what could not be priced and why."""

    by: str
    table: pl.DataFrame
    builds: int
    priced_builds: int
    unpriced_builds: int
    unpriced_reasons: dict[str, int]
    in_progress_builds: int
    cost_lower: float
    cost_upper: float
    currency: str
    assumptions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["table"] = self.table.to_dicts()
        return data


def cost_summary(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    by: str = "project",
    options: BillingOptions | None = None,
) -> CostSummary:
    """Cost bounds per project, month, compute type or arch, computed inside DuckDB."""
    if by not in GROUPINGS:
        raise CiwbError(f"cannot group by {by!r}", hint=f"use one of {', '.join(GROUPINGS)}")
    options = options or BillingOptions()
    keys = ", ".join(GROUPINGS[by])
    where, params = _where(selection)
    with reading(db) as con:
        # Materialised once, aggregated twice.
        materialise_costs(con, selection, options=options)
        table = fetch_frame(
            con,
            f"""
            SELECT {keys},
                   count(*) AS builds,
                   count(*) FILTER (WHERE unpriced_reason IS NULL) AS priced_builds,
                   count(*) FILTER (WHERE unpriced_reason IS NOT NULL) AS unpriced_builds,
                   round(sum(billed_lower_s) / 60, 1) AS billed_minutes_lower,
                   round(sum(billed_upper_s) / 60, 1) AS billed_minutes_upper,
                   sum(cost_lower) AS cost_lower,
                   sum(cost_upper) AS cost_upper,
                   sum(cost_lower)
                       / nullif(sum(sum(cost_lower)) OVER (), 0) AS share_lower
            FROM _ciwb_c GROUP BY ALL ORDER BY cost_upper DESC, {keys}
            """,
        )
        reasons = dict(
            con.execute(
                "SELECT unpriced_reason, count(*) FROM _ciwb_c "
                "WHERE unpriced_reason IS NOT NULL GROUP BY 1 ORDER BY 2 DESC"
            ).fetchall()
        )
        in_progress = con.execute(
            "SELECT count(*) FROM builds b WHERE NOT (b.build_complete "
            f"AND b.start_time IS NOT NULL AND b.end_time IS NOT NULL) {where}",
            params,
        ).fetchall()[0][0]
    builds = int(table["builds"].sum()) if table.height else 0
    priced = int(table["priced_builds"].sum()) if table.height else 0
    return CostSummary(
        by=by,
        table=table,
        builds=builds,
        priced_builds=priced,
        unpriced_builds=builds - priced,
        unpriced_reasons={str(k): int(v) for k, v in reasons.items()},
        in_progress_builds=int(in_progress),
        cost_lower=float(table["cost_lower"].sum()) if table.height else 0.0,
        cost_upper=float(table["cost_upper"].sum()) if table.height else 0.0,
        currency="USD",
        assumptions=options.describe(),
    )


def phase_cost_shares(
    db: DbLike = None,
    selection: Selection | None = None,
    *,
    options: BillingOptions | None = None,
) -> pl.DataFrame:
    """Per project and phase: seconds, and the cost bounds shared out pro rata to phase time.

    Upper-bound cost is shared over every phase; lower-bound cost only over the phases from
    PROVISIONING on (the lower bound bills nothing before it).
    """
    options = options or BillingOptions()
    with reading(db) as con:
        # The costed builds as every other cost output has them (made once per shared
        # connection, see materialise_costs).
        materialise_costs(con, selection, options=options)
        return fetch_frame(con, _PHASE_COST_SHARES_SQL)


# Each build carries its seconds per phase (`builds.<phase>_s`: the sum of its timed phase
# rows of that type, NULL with none), so the shares need one join of the costed builds with
# `builds` and one pass grouped by project, not a group-by over every phase row keyed by
# ARN (at a million builds that was most of the cost report's analysis). The per-project
# figures are then unnested into one row per phase, in phase order.
_UNBILLED = ("SUBMITTED", "QUEUED")  # the lower bound bills nothing before PROVISIONING
_SHARE_COLUMNS = [(phase, fact_column(phase)) for phase in FACT_PHASES]


def _phase_sum(columns: list[str]) -> str:
    """SQL for a build's seconds over `columns`: NULL when none has a value (as a sum of
    no phase rows)."""
    if not columns:
        return "NULL"
    return (
        f"CASE WHEN {' OR '.join(f'{c} IS NOT NULL' for c in columns)} THEN "
        + " + ".join(f"coalesce({c}, 0)" for c in columns)
        + " END"
    )


_ALL_S = _phase_sum([f"b.{c}" for _, c in _SHARE_COLUMNS])
_BILLED_S = _phase_sum([f"b.{c}" for phase, c in _SHARE_COLUMNS if phase not in _UNBILLED])
_PER_PHASE_SHARES = ",\n".join(
    f"count({col}) AS n{i}, sum({col}) AS s{i}, "
    + (
        f"sum(CASE WHEN {col} IS NOT NULL THEN 0.0 END) AS l{i}, "
        if phase in _UNBILLED
        else f"sum(c.cost_lower * {col} / nullif(c.billed_s, 0)) AS l{i}, "
    )
    + f"sum(c.cost_upper * {col} / nullif(c.all_s, 0)) AS u{i}"
    for i, (phase, col) in enumerate(_SHARE_COLUMNS)
)
_SHARE_ROWS = ", ".join(
    f"{{'pos': {i}, 'phase_type': '{phase}', 'builds': n{i}, 'seconds': s{i},"
    f" 'cost_lower': l{i}, 'cost_upper': u{i}}}"
    for i, (phase, _) in enumerate(_SHARE_COLUMNS)
)
_PHASE_COST_SHARES_SQL = f"""
    WITH c AS (
        SELECT c.build_arn, c.project_name, c.cost_lower, c.cost_upper,
               {_ALL_S} AS all_s, {_BILLED_S} AS billed_s,
               {", ".join(f"b.{col}" for _, col in _SHARE_COLUMNS)}
        FROM _ciwb_c c JOIN builds b USING (build_arn)
        WHERE c.unpriced_reason IS NULL
    ),
    per_project AS (
        SELECT c.project_name, {_PER_PHASE_SHARES}
        FROM c GROUP BY c.project_name
    ),
    per_phase AS (
        SELECT project_name, unnest([{_SHARE_ROWS}], recursive := true) FROM per_project
    )
    SELECT project_name, phase_type, builds, seconds, cost_lower, cost_upper,
           cost_lower / nullif(sum(cost_lower) OVER (PARTITION BY project_name), 0)
               AS share_lower,
           cost_upper / nullif(sum(cost_upper) OVER (PARTITION BY project_name), 0)
               AS share_upper
    FROM per_phase
    WHERE builds > 0
    ORDER BY project_name, pos
"""


_SAVED_COLUMNS = (
    "build_arn, project_name, account_id, region, month, arch, environment_type, compute_type,"
    " lower_s, upper_s, billed_lower_s, billed_upper_s, free_lower_s, free_upper_s, unit, price,"
    " currency, price_as_of, price_confidence, rule, cost_lower, cost_upper, unpriced_reason"
)


def save_build_costs(
    db: str | os.PathLike[str] | None = None, *, options: BillingOptions | None = None
) -> int:
    """Replace the store's `build_costs` snapshot with freshly computed bounds; returns rows."""
    import json

    options = options or BillingOptions()
    now = utcnow()
    with connect(db) as con:
        materialise_costs(con, options=options)
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM build_costs")
            con.execute(
                f"INSERT INTO build_costs ({_SAVED_COLUMNS}, computed_at, assumptions) "
                f"SELECT {_SAVED_COLUMNS}, ?, ? FROM _ciwb_c",
                [now, json.dumps(options.describe())],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return int(con.execute("SELECT count(*) FROM build_costs").fetchall()[0][0])
