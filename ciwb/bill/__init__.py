"""Billing data → store, and the bill reconciled with the builds.

Reads CUR 2.0 / Data Exports and legacy CUR exports (local or s3://) and Cost Explorer into
`bill_line_items`, maps usage types to builds with a cited data table (data/billing/),
reconciles billed against implied units and cost, and learns effective rates (`bill_rates`),
which ciwb.cost uses as the price source "bill". Only cli, report and demo import this package.
"""

from ciwb.bill.costexplorer import fetch_cost_explorer
from ciwb.bill.importer import ImportSummary, import_bill
from ciwb.bill.reconcile import BUCKETS, Reconciliation, reconcile
from ciwb.bill.usage_types import UsageMapping, build_usage_type, map_usage_type

__all__ = [
    "BUCKETS",
    "ImportSummary",
    "Reconciliation",
    "UsageMapping",
    "build_usage_type",
    "fetch_cost_explorer",
    "import_bill",
    "map_usage_type",
    "reconcile",
]
