"""Line the bill up with the stored builds: coverage, and the residual explained.

Cells are account × region × usage type × UTC day (or month). In each cell:
- billed units B (charged usage), free units F (usage billed at zero: the free tier),
  gross cost (usage rows), and the discount, credit and other rows of that usage type;
- implied units I from the builds: each build's seconds rounded up per build by the billing
  rules of ciwb.cost.billing (per minute on EC2 compute, per second on Lambda), from the
  build's SUBMITTED start (the cost model's upper bound; the lower bound is shown beside it);
- the rate g: the cell's month gross cost ÷ B for that account and usage type, else the
  list price (so an estimate needs no list price where the bill has a rate).

The estimate is I × g; the bill is gross + discounts + credits + other. Their difference is
split into buckets that sum to it exactly: free tier (−min(F, I) × g), discounts, credits,
other charges (tax, fees), fleet standing charges (a reserved-capacity fleet's billed
instance-minutes beyond those its stored builds used, matched by fleet ARN), usage not in
the store (billed cells without builds, with the reason: account, region, usage type or day
not collected), unknown usage types, rounding (a unit gap of at most one unit per build), and
unexplained (the rest, including builds the bill does not show). Coverage is the share of the
bill's usage cost the builds explain: Σ min(B, I) × g ÷ Σ gross.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from ciwb.bill.charges import CHOSEN_LINE_ITEMS
from ciwb.bill.usage_types import _preferred_prefix, usage_mappings
from ciwb.cost.billing import BillingOptions, register_billing_rules
from ciwb.cost.prices import register_prices
from ciwb.errors import BillError
from ciwb.store.query import fetch_frame

__all__ = [
    "BUCKETS",
    "GRAINS",
    "Reconciliation",
    "implied_usage",
    "reconcile",
    "reconcile_con",
]

GRAINS = {"day": "day", "month": "month"}
# Residual buckets, in the order reports show them (USD, signed: + means the bill is higher).
BUCKETS = (
    "free_tier",
    "discounts",
    "credits",
    "other_charges",
    "fleet_standing",
    "not_in_store",
    "unknown_usage_type",
    "rounding",
    "unexplained",
)


@dataclass
class Reconciliation:
    """The bill against the builds: cells, a summary per billing period, and rates."""

    by: str
    cells: pl.DataFrame
    periods: pl.DataFrame
    rates: pl.DataFrame
    not_in_store: pl.DataFrame
    # per project and month, where the line items name a project (resource id or tag)
    projects: pl.DataFrame
    unknown_usage_types: dict[str, float]
    inferred_usage_types: list[str]
    open_periods: list[date]
    assumptions: list[str] = field(default_factory=list)

    @property
    def coverage(self) -> float | None:
        gross = float(self.periods["gross_cost"].sum()) if self.periods.height else 0.0
        explained = float(self.periods["explained_cost"].sum()) if self.periods.height else 0.0
        return explained / gross if gross else None

    def summary_table(self) -> pl.DataFrame:
        """One row per period: bill, estimate, coverage."""
        return self.periods.select(
            pl.col("billing_period").dt.strftime("%Y-%m").alias("period"),
            "period_open",
            "builds",
            "bill_cost",
            "estimate",
            "coverage",
        )

    def residual_table(self) -> pl.DataFrame:
        """The residual buckets as rows, one column per period."""
        return pl.DataFrame(
            {"residual (bill − estimate)": list(BUCKETS)}
            | {
                f"{row['billing_period']:%Y-%m}": [row[b] for b in BUCKETS]
                for row in self.periods.iter_rows(named=True)
            }
        )

    def latest_rates(self) -> pl.DataFrame:
        """Effective vs list rates of the newest period."""
        if not self.rates.height:
            return self.rates
        latest = self.rates.filter(pl.col("billing_period") == self.rates["billing_period"].max())
        return latest.select(
            "region", "usage_types", "unit", "effective_rate", "list_rate", "vs_list"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "coverage": self.coverage,
            "periods": self.periods.to_dicts(),
            "cells": self.cells.to_dicts(),
            "rates": self.rates.to_dicts(),
            "not_in_store": self.not_in_store.to_dicts(),
            "projects": self.projects.to_dicts(),
            "unknown_usage_types": self.unknown_usage_types,
            "inferred_usage_types": self.inferred_usage_types,
            "open_periods": [p.isoformat() for p in self.open_periods],
            "assumptions": self.assumptions,
        }


_BUILD_USAGE_SCHEMA = pa.schema(
    [
        ("environment_type", pa.string()),
        ("compute_type", pa.string()),
        ("usage_suffix", pa.string()),
        ("unit", pa.string()),
        ("unit_s", pa.int32()),
    ]
)
_PREFIX_SCHEMA = pa.schema([("region", pa.string()), ("prefix", pa.string())])


def _register_mapping(con: duckdb.DuckDBPyConnection) -> None:
    rows = [
        {
            "environment_type": m.environment_type,
            "compute_type": m.compute_type,
            "usage_suffix": m.usage_type,
            "unit": m.unit,
            "unit_s": 60 if m.unit == "minute" else 1,
        }
        for m in usage_mappings()
        if m.kind == "on_demand" and m.preferred
    ]
    con.register("_ciwb_build_usage", pa.Table.from_pylist(rows, schema=_BUILD_USAGE_SCHEMA))
    prefixes = [{"region": r, "prefix": p} for r, p in _preferred_prefix().items()]
    con.register("_ciwb_region_prefix", pa.Table.from_pylist(prefixes, schema=_PREFIX_SCHEMA))


COVERED = "AND CAST(date_trunc('month', b.start_time) AS DATE) IN (SELECT * FROM covered)"


def _builds_ctes(grain: str, where: str = "", keys: str = "") -> str:
    """CTEs ending in `built`: implied units per account, region, compute type and cell.

    Needs `_ciwb_rules`, `_ciwb_build_usage` and `_ciwb_region_prefix` registered.
    """
    return f"""
    prov AS (
        SELECT build_arn, min(start_time) AS provisioning_start
        FROM build_phases WHERE phase_type = 'PROVISIONING' GROUP BY build_arn
    ),
    b0 AS (
        SELECT b.account_id, b.region, r.price_environment_type AS environment_type,
               b.compute_type, b.project_name, b.start_time, r.granularity_s, r.minimum_s,
               round(greatest(b.total_s, 0), 3) AS upper_s,
               CASE WHEN p.provisioning_start IS NULL THEN 0.0 ELSE round(greatest(
                   epoch_us(b.end_time) - epoch_us(p.provisioning_start), 0) / 1e6, 3)
               END AS lower_s
        FROM builds b
        LEFT JOIN prov p USING (build_arn)
        JOIN _ciwb_rules r ON r.environment_type = b.environment_type
        WHERE b.build_complete AND b.start_time IS NOT NULL AND b.end_time IS NOT NULL
          AND b.fleet_arn IS NULL
          {where}
    ),
    b1 AS (
        SELECT b0.*, m.unit, m.unit_s,
               m.usage_suffix,
               CASE WHEN upper_s <= 0 THEN 0.0 ELSE greatest(
                   ceil(upper_s / granularity_s) * granularity_s, minimum_s) END AS billed_upper_s,
               CASE WHEN lower_s <= 0 THEN 0.0 ELSE greatest(
                   ceil(lower_s / granularity_s) * granularity_s, minimum_s) END AS billed_lower_s
        FROM b0 JOIN _ciwb_build_usage m
          ON m.environment_type = b0.environment_type AND m.compute_type = b0.compute_type
    ),
    built AS (
        SELECT account_id, region, environment_type, compute_type{keys},
               CAST(date_trunc('{grain}', start_time) AS DATE) AS cell,
               CAST(date_trunc('month', start_time) AS DATE) AS billing_period,
               coalesce(px.prefix || '-', '') || any_value(usage_suffix) AS build_usage_type,
               any_value(b1.unit) AS build_unit,
               count(*) AS builds,
               sum(billed_upper_s / unit_s) AS implied_units,
               sum(billed_lower_s / unit_s) AS implied_units_lower
        FROM b1 LEFT JOIN _ciwb_region_prefix px USING (region)
        GROUP BY account_id, region, environment_type, compute_type, cell, billing_period,
                 px.prefix{keys}
    )
    """


def implied_usage(
    con: duckdb.DuckDBPyConnection, *, grain: str = "day", by_project: bool = False
) -> pl.DataFrame:
    """Billed units the stored on-demand builds imply, per account, region, usage type, cell
    (and project)."""
    register_billing_rules(con, BillingOptions())
    _register_mapping(con)
    keys = ", project_name" if by_project else ""
    return fetch_frame(
        con, f"WITH {_builds_ctes(grain, keys=keys)} SELECT * FROM built ORDER BY ALL"
    )


def _cells_sql(grain: str) -> str:
    return f"""
    WITH li AS ({CHOSEN_LINE_ITEMS}),
    covered AS (SELECT DISTINCT billing_period FROM li),
    {_builds_ctes(grain, COVERED)},
    billed AS (
        SELECT usage_account_id AS account_id, region, environment_type, compute_type,
               CAST(date_trunc('{grain}', coalesce(usage_start, billing_period)) AS DATE) AS cell,
               billing_period,
               string_agg(DISTINCT usage_type, ', ' ORDER BY usage_type) AS bill_usage_type,
               any_value(usage_kind) AS usage_kind,
               bool_or(mapping_inferred) AS mapping_inferred,
               any_value(unit) AS bill_unit,
               coalesce(sum(usage_amount) FILTER (
                   WHERE charge_class = 'usage' AND unblended_cost > 0), 0) AS billed_units,
               coalesce(sum(usage_amount) FILTER (
                   WHERE charge_class = 'usage' AND unblended_cost = 0), 0) AS free_units,
               coalesce(sum(unblended_cost) FILTER (WHERE charge_class = 'usage'), 0)
                   AS gross_cost,
               coalesce(sum(unblended_cost) FILTER (WHERE charge_class = 'discount'), 0)
                   AS discount_cost,
               coalesce(sum(unblended_cost) FILTER (WHERE charge_class = 'credit'), 0)
                   AS credit_cost,
               coalesce(sum(unblended_cost) FILTER (WHERE charge_class = 'other'), 0)
                   AS other_cost,
               count(*) AS line_items
        FROM li GROUP BY ALL
    ),
    fleet_builds AS (
        SELECT b.account_id, b.region, b.fleet_arn,
               CAST(date_trunc('{grain}', b.start_time) AS DATE) AS cell,
               count(*) AS builds,
               -- a build holds one fleet instance while it runs: its minutes, rounded up
               sum(ceil(greatest(b.total_s, 0) / 60)) AS used_minutes
        FROM builds b
        WHERE b.fleet_arn IS NOT NULL AND b.build_complete AND b.start_time IS NOT NULL
          AND CAST(date_trunc('month', b.start_time) AS DATE) IN (SELECT * FROM covered)
        GROUP BY ALL
    ),
    fleet_used AS (
        SELECT f.account_id, f.region, f.environment_type, f.compute_type, f.cell,
               sum(coalesce(fb.builds, 0)) AS fleet_builds,
               sum(least(coalesce(fb.used_minutes, 0), f.units)) AS fleet_used_units
        FROM (
            SELECT usage_account_id AS account_id, region, environment_type, compute_type,
                   resource_id,
                   CAST(date_trunc('{grain}', coalesce(usage_start, billing_period)) AS DATE)
                       AS cell,
                   sum(usage_amount) AS units
            FROM li WHERE usage_kind = 'fleet' AND charge_class = 'usage' GROUP BY ALL
        ) f
        LEFT JOIN fleet_builds fb
          ON fb.account_id = f.account_id AND fb.region = f.region
         AND fb.fleet_arn = f.resource_id AND fb.cell = f.cell
        GROUP BY ALL
    ),
    month_rate AS (
        SELECT usage_account_id AS account_id, region, environment_type, compute_type,
               billing_period,
               sum(unblended_cost) FILTER (WHERE charge_class = 'usage')
                   / nullif(sum(usage_amount) FILTER (
                       WHERE charge_class = 'usage' AND unblended_cost > 0), 0) AS gross_rate
        FROM li WHERE environment_type IS NOT NULL GROUP BY ALL
    ),
    joined AS (
        SELECT coalesce(bd.account_id, bt.account_id) AS account_id,
               coalesce(bd.region, bt.region) AS region,
               coalesce(bd.environment_type, bt.environment_type) AS environment_type,
               coalesce(bd.compute_type, bt.compute_type) AS compute_type,
               coalesce(bd.cell, bt.cell) AS cell,
               coalesce(bd.billing_period, bt.billing_period) AS billing_period,
               coalesce(bd.bill_usage_type, bt.build_usage_type) AS usage_type,
               bd.usage_kind, coalesce(bd.mapping_inferred, false) AS mapping_inferred,
               coalesce(bd.bill_unit, bt.build_unit) AS unit,
               coalesce(bt.builds, 0) AS builds,
               coalesce(bd.billed_units, 0) AS billed_units,
               coalesce(bd.free_units, 0) AS free_units,
               coalesce(bt.implied_units, 0) AS implied_units,
               coalesce(bt.implied_units_lower, 0) AS implied_units_lower,
               coalesce(bd.gross_cost, 0) AS gross_cost,
               coalesce(bd.discount_cost, 0) AS discount_cost,
               coalesce(bd.credit_cost, 0) AS credit_cost,
               coalesce(bd.other_cost, 0) AS other_cost,
               coalesce(bd.line_items, 0) AS line_items,
               coalesce(fu.fleet_builds, 0) AS fleet_builds,
               coalesce(fu.fleet_used_units, 0) AS fleet_used_units
        FROM billed bd
        LEFT JOIN fleet_used fu
          ON fu.account_id = bd.account_id AND fu.region = bd.region
         AND fu.environment_type = bd.environment_type AND fu.compute_type = bd.compute_type
         AND fu.cell = bd.cell
        FULL OUTER JOIN built bt
          ON bd.account_id = bt.account_id AND bd.region = bt.region
         AND bd.environment_type = bt.environment_type AND bd.compute_type = bt.compute_type
         AND bd.cell = bt.cell
    ),
    rated AS (
        SELECT j.*,
               lp.price * (CASE WHEN j.unit = 'minute' THEN 60 ELSE 1 END) / lp.unit_s
                   AS list_rate,
               coalesce(mr.gross_rate,
                        lp.price * (CASE WHEN j.unit = 'minute' THEN 60 ELSE 1 END) / lp.unit_s)
                   AS rate
        FROM joined j
        LEFT JOIN month_rate mr
          ON mr.account_id = j.account_id AND mr.region = j.region
         AND mr.environment_type = j.environment_type AND mr.compute_type = j.compute_type
         AND mr.billing_period = j.billing_period
        LEFT JOIN _ciwb_list_prices lp
          ON lp.region = j.region AND lp.environment_type = j.environment_type
         AND lp.compute_type = j.compute_type
    ),
    store_keys AS (
        SELECT DISTINCT account_id, region, environment_type, compute_type FROM built
    ),
    classified AS (
        SELECT r.*,
               CASE
                   WHEN r.usage_kind = 'fleet' THEN 'fleet'
                   WHEN r.environment_type IS NULL AND r.usage_type IS NOT NULL
                        AND (r.billed_units + r.free_units) > 0 THEN 'unknown usage type'
                   WHEN r.environment_type IS NULL THEN 'adjustment'
                   WHEN r.implied_units > 0 AND (r.billed_units + r.free_units) > 0
                        THEN 'matched'
                   WHEN r.implied_units > 0 THEN 'not billed'
                   WHEN (r.billed_units + r.free_units) > 0 THEN 'not in store'
                   ELSE 'adjustment'
               END AS category,
               CASE
                   WHEN r.implied_units > 0 OR r.usage_kind IS DISTINCT FROM 'on_demand'
                        OR (r.billed_units + r.free_units) = 0 THEN NULL
                   WHEN r.account_id NOT IN (SELECT account_id FROM builds)
                        THEN 'account not in store'
                   WHEN NOT EXISTS (SELECT 1 FROM builds x WHERE x.account_id = r.account_id
                                    AND x.region = r.region) THEN 'region not in store'
                   WHEN NOT EXISTS (SELECT 1 FROM store_keys k
                                    WHERE k.account_id = r.account_id AND k.region = r.region
                                      AND k.environment_type = r.environment_type
                                      AND k.compute_type = r.compute_type)
                        THEN 'usage type not in store'
                   ELSE 'no builds in this {grain}'
               END AS not_in_store_reason
        FROM rated r
    )
    SELECT c.*,
           c.gross_cost + c.discount_cost + c.credit_cost + c.other_cost AS bill_cost,
           CASE WHEN c.category = 'fleet' THEN c.fleet_used_units * c.rate
                ELSE c.implied_units * c.rate END AS estimate,
           CASE WHEN c.category = 'fleet' THEN c.fleet_used_units * c.rate
                ELSE least(c.billed_units, c.implied_units) * c.rate END AS explained_cost,
           CASE WHEN c.category = 'matched'
                THEN -least(c.free_units, c.implied_units) * c.rate ELSE 0 END AS free_tier,
           c.discount_cost AS discounts,
           c.credit_cost AS credits,
           c.other_cost AS other_charges,
           -- a fleet's cost beyond the instance-minutes its stored builds used: idle capacity
           CASE WHEN c.category = 'fleet' THEN c.gross_cost - c.fleet_used_units * c.rate
                ELSE 0 END AS fleet_standing,
           CASE WHEN c.category = 'not in store' THEN c.gross_cost ELSE 0 END AS not_in_store,
           CASE WHEN c.category = 'unknown usage type' THEN c.gross_cost ELSE 0 END
               AS unknown_usage_type,
           CASE WHEN c.category = 'matched'
                 AND abs(c.billed_units + c.free_units - c.implied_units) <= c.builds
                THEN (c.billed_units + c.free_units - c.implied_units) * c.rate ELSE 0 END
               AS rounding
    FROM classified c
    """


# Where a CodeBuild line item names its project: the resource id (the project ARN,
# arn:aws:codebuild:<region>:<account>:project/<name>) or a project tag.
_PROJECT = """coalesce(
    nullif(regexp_extract(resource_id, ':project/([^:/]+)', 1), ''),
    json_extract_string(resource_tags, '$."user:Project"'),
    json_extract_string(resource_tags, '$."user:project"'),
    json_extract_string(resource_tags, '$.user_project'),
    json_extract_string(resource_tags, '$."aws:codebuild:project"'))"""


def _projects_sql() -> str:
    return f"""
    WITH li AS ({CHOSEN_LINE_ITEMS}),
    covered AS (SELECT DISTINCT billing_period FROM li),
    {_builds_ctes("month", COVERED, keys=", project_name")},
    billed AS (
        SELECT billing_period, usage_account_id AS account_id, region, environment_type,
               compute_type, {_PROJECT} AS project_name,
               sum(usage_amount) FILTER (WHERE unblended_cost > 0) AS billed_units,
               sum(usage_amount) FILTER (WHERE unblended_cost = 0) AS free_units,
               sum(unblended_cost) AS gross_cost
        FROM li WHERE charge_class = 'usage' AND usage_kind = 'on_demand'
        GROUP BY ALL
    ),
    rated AS (
        SELECT *, gross_cost / nullif(billed_units, 0) AS rate FROM billed
        WHERE project_name IS NOT NULL
    )
    SELECT coalesce(r.billing_period, b.billing_period) AS billing_period,
           coalesce(r.project_name, b.project_name) AS project_name,
           coalesce(r.account_id, b.account_id) AS account_id,
           coalesce(r.region, b.region) AS region,
           coalesce(r.environment_type, b.environment_type) AS environment_type,
           coalesce(r.compute_type, b.compute_type) AS compute_type,
           coalesce(b.builds, 0) AS builds,
           coalesce(r.billed_units, 0) + coalesce(r.free_units, 0) AS billed_units,
           coalesce(b.implied_units, 0) AS implied_units,
           coalesce(r.gross_cost, 0) AS gross_cost,
           coalesce(b.implied_units, 0) * r.rate AS estimate
    FROM rated r
    FULL OUTER JOIN built b
      ON b.billing_period = r.billing_period AND b.project_name = r.project_name
     AND b.account_id = r.account_id AND b.region = r.region
     AND b.environment_type = r.environment_type AND b.compute_type = r.compute_type
    WHERE r.project_name IS NOT NULL
       OR (b.account_id, b.region) IN (SELECT (account_id, region) FROM rated)
    ORDER BY 1, gross_cost DESC, 2
    """


def reconcile_con(
    con: duckdb.DuckDBPyConnection, *, by: str = "day", missing_ok: bool = False
) -> Reconciliation:
    """Reconcile on an open connection (read-only is fine).

    Without billing data: BillError, or with `missing_ok` an empty reconciliation.
    """
    if by not in GRAINS:
        raise BillError(f"cannot reconcile by {by!r}", hint="use day or month")
    has_bill = con.execute("SELECT count(*) FROM bill_line_items").fetchall()[0][0]
    if not has_bill and not missing_ok:
        raise BillError(
            "no billing data in the store",
            hint="run `ciwb bill import PATH|s3://…` or `ciwb bill fetch` first",
        )
    options = BillingOptions(prices="list")
    register_billing_rules(con, options)
    register_prices(con, name="_ciwb_list_prices", prices="list")
    _register_mapping(con)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _ciwb_recon AS {_cells_sql(GRAINS[by])}")
    bucket_sum = " + ".join(f"coalesce({b}, 0)" for b in BUCKETS if b != "unexplained")
    cells = fetch_frame(
        con,
        f"""
        SELECT billing_period, cell, account_id, region, usage_type, environment_type,
               compute_type, unit, category, not_in_store_reason, mapping_inferred, builds,
               fleet_builds, fleet_used_units,
               billed_units, free_units, implied_units, implied_units_lower, rate, list_rate,
               gross_cost, bill_cost, estimate, explained_cost,
               {", ".join(b for b in BUCKETS if b != "unexplained")},
               bill_cost - coalesce(estimate, 0) - ({bucket_sum}) AS unexplained,
               bill_cost - coalesce(estimate, 0) AS residual
        FROM _ciwb_recon
        ORDER BY billing_period, cell, account_id, region, usage_type
        """,
    )
    sums = ", ".join(f"sum({b}) AS {b}" for b in BUCKETS if b != "unexplained")
    periods = fetch_frame(
        con,
        f"""
        WITH c AS (
            SELECT *, bill_cost - coalesce(estimate, 0) - ({bucket_sum}) AS unexplained
            FROM _ciwb_recon
        )
        SELECT c.billing_period,
               coalesce((SELECT bool_or(period_open) FROM bill_imports i
                         WHERE i.billing_period = c.billing_period), false) AS period_open,
               sum(builds + fleet_builds) AS builds,
               sum(bill_cost) AS bill_cost,
               sum(gross_cost) AS gross_cost,
               sum(estimate) AS estimate,
               sum(implied_units * list_rate) AS estimate_list,
               count(*) FILTER (WHERE implied_units > 0 AND rate IS NULL) AS unpriced_cells,
               sum(explained_cost) AS explained_cost,
               sum(explained_cost) / nullif(sum(gross_cost), 0) AS coverage,
               sum(bill_cost) - sum(coalesce(estimate, 0)) AS residual,
               {sums}, sum(unexplained) AS unexplained
        FROM c GROUP BY c.billing_period ORDER BY c.billing_period
        """,
    )
    not_in_store = fetch_frame(
        con,
        """
        SELECT billing_period, not_in_store_reason AS reason, account_id, region, usage_type,
               sum(billed_units + free_units) AS units, sum(gross_cost) AS gross_cost
        FROM _ciwb_recon WHERE category = 'not in store'
        GROUP BY ALL ORDER BY billing_period, gross_cost DESC
        """,
    )
    rates = fetch_frame(
        con,
        """
        SELECT br.billing_period, br.region, br.environment_type, br.compute_type,
               br.usage_types, br.unit, br.units, br.cost, br.rate AS effective_rate,
               lp.price * (CASE WHEN br.unit = 'minute' THEN 60 ELSE 1 END) / lp.unit_s
                   AS list_rate,
               br.rate / nullif(lp.price * (CASE WHEN br.unit = 'minute' THEN 60 ELSE 1 END)
                   / lp.unit_s, 0) - 1 AS vs_list,
               br.period_open
        FROM bill_rates br
        LEFT JOIN _ciwb_list_prices lp
          ON lp.region = br.region AND lp.environment_type = br.environment_type
         AND lp.compute_type = br.compute_type
        ORDER BY br.billing_period, br.region, br.environment_type, br.compute_type
        """,
    )
    unknown = dict(
        con.execute(
            "SELECT usage_type, sum(gross_cost) FROM _ciwb_recon "
            "WHERE category = 'unknown usage type' GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    )
    inferred = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT usage_type FROM bill_line_items WHERE mapping_inferred ORDER BY 1"
        ).fetchall()
    ]
    open_periods = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT billing_period FROM bill_imports WHERE period_open ORDER BY 1"
        ).fetchall()
    ]
    has_projects = con.execute(
        f"SELECT count(*) FROM ({CHOSEN_LINE_ITEMS}) WHERE {_PROJECT} IS NOT NULL"
    ).fetchall()[0][0]
    projects = fetch_frame(con, _projects_sql()) if has_projects else pl.DataFrame()
    con.execute("DROP TABLE _ciwb_recon")
    assumptions = [
        "implied units: each build's time from its SUBMITTED start, rounded up per build "
        "(per minute on EC2 compute, per second on Lambda); the lower bound "
        "(from PROVISIONING) is shown as implied_units_lower",
        "rate: the bill's gross usage cost ÷ charged units per account, usage type and month; "
        "the list price where the bill has none",
        "rounding: a unit gap of at most one unit per build in the cell",
        "reserved-capacity fleets: a build holds one instance for its minutes (rounded up); "
        "the rest of the fleet's billed instance-minutes is standing (idle) charge",
    ]
    return Reconciliation(
        by=by,
        cells=cells,
        periods=periods,
        rates=rates,
        not_in_store=not_in_store,
        projects=projects,
        unknown_usage_types={str(k): float(v) for k, v in unknown.items()},
        inferred_usage_types=inferred,
        open_periods=open_periods,
        assumptions=assumptions,
    )


def reconcile(
    db: str | os.PathLike[str] | None = None, *, by: str = "day", missing_ok: bool = False
) -> Reconciliation:
    """Reconcile the imported bill with the stored builds (read-only)."""
    from ciwb.store import connect

    with connect(db, read_only=True) as con:
        return reconcile_con(con, by=by, missing_ok=missing_ok)
