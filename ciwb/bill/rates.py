"""Effective rates learned from the bill: cost ÷ chargeable units per usage type and period.

The rate is what the organisation really paid per unit: usage cost plus the discount rows of
the same usage type (a private-pricing discount lowers it), over the usage that was charged at
all (free-tier units, billed at zero, are left out so the rate is the marginal one). Credits
are one-off and left out. The rates land in `bill_rates`, where `ciwb.cost.prices` reads them
as the price source "bill", dated by their billing period.
"""

from __future__ import annotations

import duckdb

from ciwb.bill.charges import CHOSEN_LINE_ITEMS

__all__ = ["refresh_bill_rates"]


def refresh_bill_rates(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute bill_rates from the stored line items; returns the number of rates."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM bill_rates")
        con.execute(
            f"""
            INSERT INTO bill_rates
            WITH li AS ({CHOSEN_LINE_ITEMS})
            , agg AS (
                SELECT region, environment_type, compute_type, billing_period,
                       string_agg(DISTINCT usage_type, ', ' ORDER BY usage_type) AS usage_types,
                       any_value(unit) AS unit,
                       sum(usage_amount) FILTER (
                           WHERE charge_class = 'usage' AND unblended_cost > 0) AS units,
                       sum(unblended_cost) FILTER (
                           WHERE charge_class IN ('usage', 'discount')) AS cost,
                       coalesce(any_value(currency), 'USD') AS currency,
                       string_agg(DISTINCT source, '/') AS source
                FROM li
                WHERE usage_kind = 'on_demand' AND region IS NOT NULL
                GROUP BY ALL
            )
            SELECT a.region, a.environment_type, a.compute_type, a.billing_period, a.usage_types,
                   a.unit, a.units, a.cost, a.cost / a.units, a.currency,
                   coalesce((SELECT bool_or(period_open) FROM bill_imports i
                             WHERE i.billing_period = a.billing_period), false),
                   a.source
            FROM agg a WHERE a.units > 0 AND a.cost > 0
            """
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(con.execute("SELECT count(*) FROM bill_rates").fetchall()[0][0])
