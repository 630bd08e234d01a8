"""Cost: a dated, sourced price table, billing rules as data, cost bounds and what-ifs."""

from ciwb.cost.arm64 import Arm64Verdict, arm64_verdict
from ciwb.cost.billing import BillingOptions, BillingRule, FleetRate
from ciwb.cost.estimate import (
    CostSummary,
    build_costs,
    cost_summary,
    phase_cost_shares,
    save_build_costs,
)
from ciwb.cost.fleets import FleetSizing, fleet_costs, fleet_sizing_costs
from ciwb.cost.pricelist import refresh_prices
from ciwb.cost.prices import PriceRow, show_prices
from ciwb.cost.retries import retry_chain_costs, runner_job_costs
from ciwb.cost.whatif import WhatIf, run_whatif

__all__ = [
    "Arm64Verdict",
    "BillingOptions",
    "BillingRule",
    "CostSummary",
    "FleetRate",
    "FleetSizing",
    "PriceRow",
    "WhatIf",
    "arm64_verdict",
    "build_costs",
    "cost_summary",
    "fleet_costs",
    "fleet_sizing_costs",
    "phase_cost_shares",
    "refresh_prices",
    "retry_chain_costs",
    "run_whatif",
    "runner_job_costs",
    "save_build_costs",
    "show_prices",
]
