"""Refresh prices from the AWS Price List API (boto3 `pricing`, endpoint region us-east-1).

The service code is looked up with DescribeServices rather than assumed
(docs/reference/codebuild-facts.md, "Pricing": "most likely `CodeBuild`"). Each GetProducts
PriceList entry is a JSON string: product.attributes (usagetype, regionCode, location, …) and
terms.OnDemand.<offer>.priceDimensions.<rate>.pricePerUnit. Usage types look like
`USE1-Build-Min:Linux:g1.small`, `USE1-Build-Min:ARM:g1.large`,
`USE1-Build-Min:Linux:Reserved:t4g.medium` and `Build-Sec:Lambda.1GB`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from ciwb.cost.prices import PriceRow, write_prices
from ciwb.errors import PricingError

__all__ = [
    "PRICING_ENDPOINT_REGION",
    "RefreshResult",
    "UsageType",
    "find_service_code",
    "parse_price_item",
    "parse_usage_type",
    "refresh_prices",
]

PRICING_ENDPOINT_REGION = "us-east-1"

_OS_ENVIRONMENT = {
    "Linux": "LINUX_CONTAINER",
    "ARM": "ARM_CONTAINER",
    "LinuxGPU": "LINUX_GPU_CONTAINER",
    "GPU": "LINUX_GPU_CONTAINER",
    "Windows": "WINDOWS_SERVER_2019_CONTAINER",
}
_FLEET_ENVIRONMENT = {"Linux": "LINUX_EC2", "ARM": "ARM_EC2", "Windows": "WINDOWS_EC2"}
_SIZE = {
    "small": "SMALL",
    "medium": "MEDIUM",
    "large": "LARGE",
    "xlarge": "XLARGE",
    "2xlarge": "2XLARGE",
}
_MIN = re.compile(r"^(?:[A-Z]{2,4}\d?-)?Build-Min:(?P<os>[A-Za-z]+):(?P<rest>.+)$")
_SEC = re.compile(
    r"^(?:[A-Z]{2,4}\d?-)?Build-Sec:Lambda(?P<arm>[.-]?ARM)?\.(?P<gb>\d+)GB$", re.IGNORECASE
)
_GENERAL = re.compile(r"^(?:g1|gpu1|arm1|general1)\.(?P<size>2?x?large|small|medium)$")


class UsageType(NamedTuple):
    environment_type: str
    compute_type: str
    unit: str  # minute | second


def parse_usage_type(usage_type: str) -> UsageType | None:
    """`USE1-Build-Min:ARM:g1.large` → (ARM_CONTAINER, BUILD_GENERAL1_LARGE, minute)."""
    sec = _SEC.match(usage_type)
    if sec:
        env = "ARM_LAMBDA_CONTAINER" if sec.group("arm") else "LINUX_LAMBDA_CONTAINER"
        return UsageType(env, f"BUILD_LAMBDA_{int(sec.group('gb'))}GB", "second")
    match = _MIN.match(usage_type)
    if not match:
        return None
    os_name, rest = match.group("os"), match.group("rest")
    if rest.startswith("Reserved:"):
        # Reserved capacity: priced per instance-minute of the fleet's instance type.
        env = _FLEET_ENVIRONMENT.get(os_name)
        instance = rest.removeprefix("Reserved:")
        return UsageType(env, instance, "minute") if env and instance else None
    general = _GENERAL.match(rest)
    env = _OS_ENVIRONMENT.get(os_name)
    if not general or not env:
        return None
    if rest.startswith("gpu1."):
        env = "LINUX_GPU_CONTAINER"
    return UsageType(env, f"BUILD_GENERAL1_{_SIZE[general.group('size')]}", "minute")


def _unit(text: str) -> str | None:
    lowered = text.strip().lower()
    if lowered.startswith("min"):
        return "minute"
    if lowered.startswith("sec"):
        return "second"
    return None


@dataclass
class _Parsed:
    row: PriceRow | None
    skipped: str | None = None


def parse_price_item(item: str | Mapping[str, Any], *, region: str, as_of: date) -> _Parsed:
    """One PriceList entry → a price row, or the reason it was skipped."""
    data = json.loads(item) if isinstance(item, str) else item
    attributes = data.get("product", {}).get("attributes", {})
    usage = attributes.get("usagetype", "")
    parsed = parse_usage_type(usage)
    if parsed is None:
        return _Parsed(None, f"unrecognised usage type {usage!r}")
    item_region = attributes.get("regionCode") or region
    dimensions = [
        dim
        for term in data.get("terms", {}).get("OnDemand", {}).values()
        for dim in term.get("priceDimensions", {}).values()
    ]
    # A tiered dimension (e.g. a free first range) is not the list price: take the open-ended
    # range, and never record a zero (unknown is unpriced, never free).
    open_ended = [d for d in dimensions if d.get("endRange", "Inf") == "Inf"] or dimensions
    for dim in open_ended:
        unit = _unit(dim.get("unit", ""))
        for currency, text in dim.get("pricePerUnit", {}).items():
            price = float(text)
            if price > 0 and unit:
                effective = _effective_date(data)
                return _Parsed(
                    PriceRow(
                        region=item_region,
                        environment_type=parsed.environment_type,
                        compute_type=parsed.compute_type,
                        unit=unit,
                        price=price,
                        currency=currency,
                        source=f"AWS Price List API {usage}"
                        + (f" effective {effective}" if effective else ""),
                        as_of=as_of,
                        confidence="high",
                    )
                )
    return _Parsed(None, f"no positive on-demand price for {usage!r}")


def _effective_date(data: Mapping[str, Any]) -> str | None:
    for term in data.get("terms", {}).get("OnDemand", {}).values():
        if term.get("effectiveDate"):
            return str(term["effectiveDate"])[:10]
    return None


def find_service_code(client: Any) -> str:
    """CodeBuild's service code, found with DescribeServices (paginated)."""
    codes: list[str] = []
    for page in client.get_paginator("describe_services").paginate(FormatVersion="aws_v1"):
        codes.extend(s["ServiceCode"] for s in page.get("Services", ()))
    for code in codes:
        if code.lower() in ("codebuild", "awscodebuild"):
            return code
    raise PricingError(
        "the Price List API lists no CodeBuild service",
        hint=f"{len(codes)} service codes were returned",
    )


@dataclass
class RefreshResult:
    service_code: str
    as_of: date
    rows: list[PriceRow] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    regions_without_prices: list[str] = field(default_factory=list)
    written: int = 0


def fetch_prices(client: Any, regions: Sequence[str], *, as_of: date) -> RefreshResult:
    """Read every CodeBuild product of the regions from GetProducts."""
    code = find_service_code(client)
    result = RefreshResult(service_code=code, as_of=as_of)
    for region in regions:
        before = len(result.rows)
        pages = client.get_paginator("get_products").paginate(
            ServiceCode=code,
            FormatVersion="aws_v1",
            Filters=[{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}],
        )
        for page in pages:
            for item in page.get("PriceList", ()):
                parsed = parse_price_item(item, region=region, as_of=as_of)
                if parsed.row is not None:
                    result.rows.append(parsed.row)
                elif parsed.skipped:
                    result.skipped.append(parsed.skipped)
        if len(result.rows) == before:
            result.regions_without_prices.append(region)
    return result


def _client(profile: str | None) -> Any:
    import boto3

    session = boto3.Session(profile_name=profile) if profile else boto3.Session()
    return session.client("pricing", region_name=PRICING_ENDPOINT_REGION)


def refresh_prices(
    db: str | os.PathLike[str] | None = None,
    *,
    regions: Iterable[str] = ("us-east-1",),
    profile: str | None = None,
    client: Any = None,
    as_of: date | None = None,
) -> RefreshResult:
    """Fetch current CodeBuild prices and upsert them into the store, dated `as_of` (today)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from ciwb.store import connect

    regions = list(regions) or ["us-east-1"]
    day = as_of or datetime.now(UTC).date()
    try:
        result = fetch_prices(client or _client(profile), regions, as_of=day)
    except (BotoCoreError, ClientError) as exc:
        raise PricingError(f"Price List API: {exc}") from None
    with connect(db) as con:
        result.written = write_prices(con, result.rows)
    return result
