"""Cost: a dated, sourced price table, billing rules as data, cost bounds and what-ifs."""

from ciwb.cost.billing import BillingOptions, BillingRule, FleetRate
from ciwb.cost.costs import CostSummary, build_costs, cost_summary, phase_cost_shares
from ciwb.cost.prices import PriceRow, show_prices

__all__ = [
    "BillingOptions",
    "BillingRule",
    "CostSummary",
    "FleetRate",
    "PriceRow",
    "build_costs",
    "cost_summary",
    "phase_cost_shares",
    "show_prices",
]
