"""Price List refresh against botocore's Stubber (moto has no Price List API).

Stubber validates every response against the pricing service model, so PriceList entries
must be JSON *strings*, as the real GetProducts returns them.
"""

from __future__ import annotations

import json
from datetime import date

import boto3
import pytest
from botocore.stub import Stubber

from ciwb.cost import build_costs, show_prices
from ciwb.cost.pricelist import parse_usage_type, refresh_prices
from ciwb.errors import CiwbError
from support.builds import build_record
from support.stores import write_store

LOCATIONS = {"us-east-1": "US East (N. Virginia)", "eu-west-1": "EU (Ireland)"}
PREFIX = {"us-east-1": "USE1", "eu-west-1": "EU"}


def product(region: str, usage: str, price: str, unit: str = "minutes", sku: str = "A") -> str:
    """One GetProducts entry in the real shape: product, terms.OnDemand, priceDimensions."""
    offer, rate = "JRTCKXETXF", "6YS6EN2CT7"
    return json.dumps(
        {
            "product": {
                "productFamily": "Compute",
                "attributes": {
                    "regionCode": region,
                    "servicecode": "CodeBuild",
                    "usagetype": f"{PREFIX[region]}-{usage}",
                    "locationType": "AWS Region",
                    "location": LOCATIONS[region],
                    "servicename": "AWS CodeBuild",
                    "operation": "",
                },
                "sku": f"{sku}{usage}",
            },
            "serviceCode": "CodeBuild",
            "terms": {
                "OnDemand": {
                    f"{sku}.{offer}": {
                        "priceDimensions": {
                            f"{sku}.{offer}.{rate}": {
                                "unit": unit,
                                "endRange": "Inf",
                                "description": f"${price} per {unit} for {usage}",
                                "appliesTo": [],
                                "rateCode": f"{sku}.{offer}.{rate}",
                                "beginRange": "0",
                                "pricePerUnit": {"USD": price},
                            }
                        },
                        "sku": sku,
                        "effectiveDate": "2025-10-01T00:00:00Z",
                        "offerTermCode": offer,
                        "termAttributes": {},
                    }
                }
            },
            "version": "20251001000000",
            "publicationDate": "2025-10-01T00:00:00Z",
        }
    )


@pytest.fixture
def pricing():
    client = boto3.client(
        "pricing",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stub:
        yield client, stub


def _describe(stub: Stubber) -> None:
    stub.add_response(
        "describe_services",
        {
            "Services": [
                {"ServiceCode": "AmazonEC2", "AttributeNames": ["instanceType"]},
                {"ServiceCode": "CodeBuild", "AttributeNames": ["usagetype", "regionCode"]},
            ],
            "FormatVersion": "aws_v1",
        },
        {"FormatVersion": "aws_v1"},
    )


def _products(stub: Stubber, region: str, items: list[str]) -> None:
    stub.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": items},
        {
            "ServiceCode": "CodeBuild",
            "FormatVersion": "aws_v1",
            "Filters": [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}],
        },
    )


def test_usage_types_map_to_aws_enums():
    assert parse_usage_type("USE1-Build-Min:ARM:g1.large") == (
        "ARM_CONTAINER",
        "BUILD_GENERAL1_LARGE",
        "minute",
    )
    assert parse_usage_type("USE1-Build-Min:Linux:g1.small") == (
        "LINUX_CONTAINER",
        "BUILD_GENERAL1_SMALL",
        "minute",
    )
    assert parse_usage_type("Build-Sec:Lambda.1GB") == (
        "LINUX_LAMBDA_CONTAINER",
        "BUILD_LAMBDA_1GB",
        "second",
    )
    assert parse_usage_type("USE1-Build-Min:Linux:Reserved:t4g.medium") == (
        "LINUX_EC2",
        "t4g.medium",
        "minute",
    )
    assert parse_usage_type("USE1-Storage") is None


def test_refresh_writes_dated_rows_that_supersede_the_seed(pricing, db_path):
    client, stub = pricing
    _describe(stub)
    _products(
        stub,
        "us-east-1",
        [
            product("us-east-1", "Build-Min:Linux:g1.small", "0.0060000000"),
            product("us-east-1", "Build-Min:ARM:g1.xlarge", "0.0700000000"),
            product("us-east-1", "Build-Sec:Lambda.1GB", "0.0000200000", unit="seconds"),
            product("us-east-1", "Storage", "0.1", unit="GB-Mo"),
        ],
    )
    _products(stub, "eu-west-1", [product("eu-west-1", "Build-Min:Linux:g1.small", "0.0065")])
    result = refresh_prices(
        db_path, regions=["us-east-1", "eu-west-1"], client=client, as_of=date(2030, 1, 2)
    )
    stub.assert_no_pending_responses()
    assert result.service_code == "CodeBuild"
    assert result.written == 4
    assert result.skipped == ["unrecognised usage type 'USE1-Storage'"]

    prices = show_prices(db_path)
    small = prices.filter(
        (prices["region"] == "us-east-1")
        & (prices["compute_type"] == "BUILD_GENERAL1_SMALL")
        & (prices["environment_type"] == "LINUX_CONTAINER")
    ).row(0, named=True)
    assert small["price"] == 0.006 and small["as_of"] == date(2030, 1, 2)
    assert "USE1-Build-Min:Linux:g1.small" in small["source"]
    # arm1.xlarge had no seed price in us-east-1: the refresh makes it priced.
    assert (
        prices.filter(
            (prices["region"] == "us-east-1")
            & (prices["environment_type"] == "ARM_CONTAINER")
            & (prices["compute_type"] == "BUILD_GENERAL1_XLARGE")
        ).height
        == 1
    )
    # Compute the seed does not cover in a region becomes priced only through the refresh.
    eu = show_prices(db_path, region="eu-west-1")
    assert eu.filter(eu["environment_type"] == "LINUX_CONTAINER")["price"].to_list() == [0.0065]

    # Costs use the refreshed price: 61 s bills 2 minutes at $0.006.
    write_store(db_path, [build_record("p", 1, phases={"PROVISIONING": 1, "BUILD": 60})])
    cost = build_costs(db_path).row(0, named=True)
    assert cost["cost_lower"] == pytest.approx(0.012)


def test_zero_and_free_tier_ranges_are_not_recorded_as_prices(pricing, db_path):
    client, stub = pricing
    _describe(stub)
    free = json.loads(product("us-east-1", "Build-Min:Linux:g1.medium", "0.0000000000"))
    _products(stub, "us-east-1", [json.dumps(free)])
    result = refresh_prices(db_path, regions=["us-east-1"], client=client, as_of=date(2030, 1, 2))
    assert result.written == 0
    assert result.regions_without_prices == ["us-east-1"]
    medium = show_prices(db_path).filter(
        (show_prices(db_path)["compute_type"] == "BUILD_GENERAL1_MEDIUM")
        & (show_prices(db_path)["environment_type"] == "LINUX_CONTAINER")
    )
    assert medium["price"].to_list() == [0.01]  # the seed stays in force


def test_api_errors_become_one_line(pricing, db_path):
    client, stub = pricing
    stub.add_client_error("describe_services", "AccessDeniedException", "not allowed")
    with pytest.raises(CiwbError, match="Price List API: .*AccessDenied"):
        refresh_prices(db_path, client=client)


def test_cli_refresh_then_show(pricing, db_path, monkeypatch):
    from typer.testing import CliRunner

    from ciwb.cli import app
    from ciwb.cost import pricelist

    client, stub = pricing
    _describe(stub)
    _products(stub, "eu-west-1", [product("eu-west-1", "Build-Min:ARM:g1.large", "0.0170")])
    monkeypatch.setattr(pricelist, "_client", lambda profile: client)
    runner = CliRunner()
    out = runner.invoke(app, ["pricing", "refresh", "--region", "eu-west-1", "--db", str(db_path)])
    assert out.exit_code == 0, out.output
    assert "1 prices as of" in out.output
    shown = runner.invoke(
        app, ["pricing", "show", "--region", "eu-west-1", "--db", str(db_path), "--json"]
    )
    rows = json.loads(shown.output)
    # the refreshed row supersedes the seed's low-confidence estimate for the same key
    large = [r for r in rows if r["compute_type"] == "BUILD_GENERAL1_LARGE"]
    assert [(r["environment_type"], r["price"]) for r in large] == [("ARM_CONTAINER", 0.017)]
