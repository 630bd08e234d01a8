"""How a line item counts: usage, discount, credit or other, and which source wins a period.

`line_item_line_item_type` values are those of the CUR data dictionaries (lineItem/LineItemType):
usage rows carry the units; discount rows (private pricing, EDP, bundled, Savings Plans
negation) lower the rate of the usage they follow; credits and refunds are one-off amounts;
tax and fees are charged beside usage. A period imported from a CUR is never mixed with a
Cost Explorer fetch of the same period: the CUR wins (it has the line-item types).
"""

from __future__ import annotations

__all__ = [
    "CHOSEN_LINE_ITEMS",
    "CREDIT_TYPES",
    "DISCOUNT_TYPES",
    "USAGE_TYPES",
    "charge_class_sql",
]

USAGE_TYPES = ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage")
DISCOUNT_TYPES = (
    "Discount",
    "EdpDiscount",
    "PrivateRateDiscount",
    "BundledDiscount",
    "DistributorDiscount",
    "SavingsPlanNegation",
)
CREDIT_TYPES = ("Credit", "Refund")


def _list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def charge_class_sql(column: str = "line_item_type") -> str:
    """SQL CASE: usage | discount | credit | other."""
    return (
        f"CASE WHEN {column} IN ({_list(USAGE_TYPES)}) THEN 'usage' "
        f"WHEN {column} IN ({_list(DISCOUNT_TYPES)}) THEN 'discount' "
        f"WHEN {column} IN ({_list(CREDIT_TYPES)}) THEN 'credit' ELSE 'other' END"
    )


# The line items reconciliation and rates read: CUR rows, and Cost Explorer rows only for the
# periods no CUR import covers.
CHOSEN_LINE_ITEMS = f"""
    SELECT li.*, {charge_class_sql("li.line_item_type")} AS charge_class
    FROM bill_line_items li
    WHERE li.source <> 'cost_explorer'
       OR li.billing_period NOT IN (
           SELECT billing_period FROM bill_line_items WHERE source <> 'cost_explorer')
"""
