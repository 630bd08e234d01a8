"""CodeBuild billing rules as data, not if-chains.

Sources: docs/reference/codebuild-facts.md, "Pricing".
- EC2 (container) compute bills per minute, rounded up; Lambda compute per second
  (both from third-party transcriptions: `verified=False`).
- Whether QUEUED time is billed is unverified, so every cost is a pair of bounds:
  lower from the PROVISIONING start, upper from the SUBMITTED start (the build's startTime).
- Free tier: 100 build-minutes a month on general1.small or arm1.small, 6,000 build-seconds
  on Lambda 1 GB. Off by default (an organisation gets it once, not per account).
- Reserved-capacity fleets cost per instance-minute while provisioned, builds or not;
  overflow to on-demand is billed on demand. Fleet builds get no per-build price.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb
import polars as pl
import pyarrow as pa

__all__ = [
    "BILLED_SPANS",
    "BILLING_RULES",
    "FREE_TIER",
    "BilledSpan",
    "BillingOptions",
    "BillingRule",
    "FleetRate",
    "FreeTierAllowance",
    "price_environment",
    "register_billing_rules",
]

# Environment types that share one price row. All Windows container types bill as the
# `Build-Min:Windows:…` usage type; the EC2 fleet types have no on-demand build price.
_PRICE_ENVIRONMENT = {
    "WINDOWS_CONTAINER": "WINDOWS_SERVER_2019_CONTAINER",
    "WINDOWS_SERVER_2022_CONTAINER": "WINDOWS_SERVER_2019_CONTAINER",
    # On-demand EC2 compute (issue 14): CHOICE, priced as the container rows of the same OS
    # and size (the on-demand usage types `Build-Min:Linux|ARM|Windows:g1.<size>` name no
    # environment type). Reserved capacity has its own `Reserved:` rows (ciwb.cost.fleets).
    "LINUX_EC2": "LINUX_CONTAINER",
    "ARM_EC2": "ARM_CONTAINER",
    "WINDOWS_EC2": "WINDOWS_SERVER_2019_CONTAINER",
}


def price_environment(environment_type: str | None) -> str | None:
    """The environment type under which a build's price row is filed."""
    if environment_type is None:
        return None
    return _PRICE_ENVIRONMENT.get(environment_type, environment_type)


@dataclass(frozen=True)
class BillingRule:
    """How one family of environment types turns seconds into billed units."""

    name: str
    environment_types: tuple[str, ...]
    granularity_s: int  # billed time is rounded up to a multiple of this
    minimum_s: int  # a build that ran at all bills at least this
    source: str
    verified: bool


BILLING_RULES: tuple[BillingRule, ...] = (
    BillingRule(
        name="on-demand EC2 compute: per minute, rounded up",
        environment_types=(
            "LINUX_CONTAINER",
            "ARM_CONTAINER",
            "LINUX_GPU_CONTAINER",
            "WINDOWS_CONTAINER",
            "WINDOWS_SERVER_2019_CONTAINER",
            "WINDOWS_SERVER_2022_CONTAINER",
            "MAC_ARM",
            "LINUX_EC2",
            "ARM_EC2",
            "WINDOWS_EC2",
        ),
        granularity_s=60,
        minimum_s=60,
        source='docs/reference/codebuild-facts.md, "Pricing" (third-party)',
        verified=False,
    ),
    BillingRule(
        name="Lambda compute: per second",
        environment_types=("LINUX_LAMBDA_CONTAINER", "ARM_LAMBDA_CONTAINER"),
        granularity_s=1,
        minimum_s=1,
        source='docs/reference/codebuild-facts.md, "Pricing" (third-party)',
        verified=False,
    ),
)


@dataclass(frozen=True)
class BilledSpan:
    """Where billed time starts for one bound; it always ends at the build's endTime."""

    bound: str
    starts_at: str
    meaning: str


BILLED_SPANS: tuple[BilledSpan, ...] = (
    BilledSpan("lower", "PROVISIONING", "queue time not billed (from PROVISIONING start)"),
    BilledSpan("upper", "SUBMITTED", "queue time billed (from SUBMITTED start)"),
)


@dataclass(frozen=True)
class FreeTierAllowance:
    name: str
    environment_types: tuple[str, ...]
    compute_types: tuple[str, ...]
    seconds_per_month: int


FREE_TIER: tuple[FreeTierAllowance, ...] = (
    FreeTierAllowance(
        "100 build-minutes/month on general1.small or arm1.small",
        ("LINUX_CONTAINER", "ARM_CONTAINER"),
        ("BUILD_GENERAL1_SMALL",),
        100 * 60,
    ),
    FreeTierAllowance(
        "6,000 build-seconds/month on Lambda 1 GB",
        ("LINUX_LAMBDA_CONTAINER", "ARM_LAMBDA_CONTAINER"),
        ("BUILD_LAMBDA_1GB",),
        6000,
    ),
)


@dataclass(frozen=True)
class FleetRate:
    """A reserved-capacity fleet: paid per instance-minute while provisioned."""

    price_per_instance_minute: float
    currency: str = "USD"
    source: str = "user"

    def cost(self, instances: int, provisioned_minutes: float) -> float:
        return instances * provisioned_minutes * self.price_per_instance_minute


@dataclass(frozen=True)
class BillingOptions:
    """Choices a user can make; each is echoed in the output's assumptions."""

    free_tier: bool = False
    free_tier_allowances: tuple[FreeTierAllowance, ...] = FREE_TIER
    rules: tuple[BillingRule, ...] = BILLING_RULES
    prices_as_of: date | None = None
    # "bill": effective rates learned from imported billing data where there are any, list
    # prices elsewhere; "list": list prices only (ciwb.cost.prices).
    prices: str = "bill"
    assumptions: tuple[str, ...] = field(default=(), compare=False)

    def describe(self) -> list[str]:
        lines = [
            f"{r.name} ({'verified' if r.verified else 'unverified'}: {r.source})"
            for r in self.rules
        ]
        lines += [f"{s.bound} bound: {s.meaning}" for s in BILLED_SPANS]
        lines.append(
            "free tier applied per account and month: "
            + "; ".join(a.name for a in self.free_tier_allowances)
            if self.free_tier
            else "free tier not applied"
        )
        lines.append(
            "builds on reserved-capacity fleets are billed by the fleet, not per build; "
            "builds that overflowed to on-demand (inferred by replaying the fleet's builds "
            "against its base capacity) are billed on demand"
        )
        lines.append(
            "ATTRIBUTE_BASED_COMPUTE on demand is priced as the smallest general1 size "
            "covering its vCPU and memory"
        )
        lines.append(
            f"prices in force on {self.prices_as_of}"
            if self.prices_as_of
            else "newest price per compute type"
        )
        lines.append(
            "prices: effective rates from the imported bill where it has one, list prices elsewhere"
            if self.prices == "bill"
            else "prices: list prices only"
        )
        return lines + list(self.assumptions)


_RULE_SCHEMA = pa.schema(
    [
        ("environment_type", pa.string()),
        ("price_environment_type", pa.string()),
        ("rule", pa.string()),
        ("granularity_s", pa.int32()),
        ("minimum_s", pa.int32()),
    ]
)
_ALLOWANCE_SCHEMA = pa.schema(
    [
        ("environment_type", pa.string()),
        ("compute_type", pa.string()),
        ("allowance_id", pa.int32()),
        ("allowance_s", pa.float64()),
    ]
)


def _frame(rows: list[dict[str, object]], schema: pa.Schema) -> pl.DataFrame:
    """`rows` as a polars frame of `schema`'s columns and types (the same SQL types)."""
    types = {pa.string(): pl.String, pa.int32(): pl.Int32, pa.float64(): pl.Float64}
    return pl.DataFrame(rows, schema={f.name: types[f.type] for f in schema})


def register_billing_rules(
    con: duckdb.DuckDBPyConnection, options: BillingOptions
) -> tuple[str, str]:
    """Register the rules and free-tier allowances as relations; returns their names."""
    rules = [
        {
            "environment_type": env,
            "price_environment_type": price_environment(env),
            "rule": rule.name,
            "granularity_s": rule.granularity_s,
            "minimum_s": rule.minimum_s,
        }
        for rule in options.rules
        for env in rule.environment_types
    ]
    allowances = (
        [
            {
                "environment_type": env,
                "compute_type": compute,
                "allowance_id": i,
                "allowance_s": float(a.seconds_per_month),
            }
            for i, a in enumerate(options.free_tier_allowances)
            for env in a.environment_types
            for compute in a.compute_types
        ]
        if options.free_tier
        else []
    )
    # polars frames, not pyarrow's from_pylist: pa.array imports pandas (~0.3-0.9 s per
    # process) to check its argument, and nothing else of a costs pass needs pandas.
    con.register("_ciwb_rules", _frame(rules, _RULE_SCHEMA))
    con.register("_ciwb_free_tier", _frame(allowances, _ALLOWANCE_SCHEMA))
    return "_ciwb_rules", "_ciwb_free_tier"
