"""Cost: a dated, sourced price table, billing rules as data, cost bounds and what-ifs."""

from ciwb.cost.billing import BillingOptions, BillingRule, FleetRate
from ciwb.cost.estimate import (
    CostSummary,
    build_costs,
    cost_summary,
    phase_cost_shares,
    save_build_costs,
)
from ciwb.cost.pricelist import refresh_prices
from ciwb.cost.prices import PriceRow, show_prices
from ciwb.cost.whatif import WhatIf, run_whatif

__all__ = [
    "BillingOptions",
    "BillingRule",
    "CostSummary",
    "FleetRate",
    "PriceRow",
    "WhatIf",
    "build_costs",
    "cost_summary",
    "phase_cost_shares",
    "refresh_prices",
    "run_whatif",
    "save_build_costs",
    "show_prices",
]
