"""The collector's sessions make the clients a stock boto3 session makes, for less CPU: the same
handlers on every event a call emits, the same endpoints, the same methods."""

from __future__ import annotations

import boto3
import pytest

from ciwb.collect.aws import COLLECT_SERVICES, AwsAccount, CallCounter, new_session

# What one call of each service emits, in botocore's order (client.py, endpoint.py, hooks).
_CALL_EVENTS = (
    "provide-client-params",
    "before-parameter-build",
    "before-endpoint-resolution",
    "before-call",
    "request-created",
    "choose-signer",
    "before-sign",
    "before-send",
    "response-received",
    "needs-retry",
    "after-call",
    "after-call-error",
)
_OPERATION = {
    "codebuild": "ListProjects",
    "sts": "AssumeRole",
    "organizations": "ListAccounts",
    "cloudwatch": "GetMetricData",
    "logs": "GetLogEvents",
}


def _handlers(client, event: str) -> list[str]:
    """The handlers an event reaches, by name (per-client objects differ, their kinds not)."""
    events = client.meta.events
    name = events._alias_event_name(event)
    found = events._emitter._lookup_cache.get(name)
    if found is None:
        found = events._emitter._handlers.prefix_search(name)
    return [getattr(h, "__qualname__", type(h).__qualname__) for h in found]


@pytest.fixture
def credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.mark.parametrize("service", sorted(COLLECT_SERVICES))
def test_a_collect_client_meets_the_handlers_a_stock_client_meets(credentials, service):
    region = "eu-west-1"
    ours = new_session(None, region).client(service, region_name=region)
    stock = boto3.Session(region_name=region).client(service, region_name=region)
    service_id = ours.meta.service_model.service_id.hyphenize()
    operation = _OPERATION[service]
    for event in _CALL_EVENTS:
        name = f"{event}.{service_id}.{operation}"
        assert _handlers(ours, name) == _handlers(stock, name), name
    assert ours.meta.endpoint_url == stock.meta.endpoint_url
    assert sorted(m for m in dir(ours) if not m.startswith("_")) == sorted(
        m for m in dir(stock) if not m.startswith("_")
    )


def test_clients_of_a_service_share_their_class_and_endpoint_rules(credentials):
    account = AwsAccount(new_session(None, "us-east-1"), "123456789012", "x", CallCounter())
    other = AwsAccount(new_session(None, "us-east-1"), "210987654321", "y", CallCounter())
    east, west = account.client("codebuild", "us-east-1"), other.client("codebuild", "us-west-2")
    assert type(east) is type(west)
    assert east._ruleset_resolver._provider is west._ruleset_resolver._provider
    # each still resolves its own region's endpoint, with its own credentials and handlers
    assert east.meta.endpoint_url == "https://codebuild.us-east-1.amazonaws.com"
    assert west.meta.endpoint_url == "https://codebuild.us-west-2.amazonaws.com"
    assert east.meta.events is not west.meta.events
    assert east._request_signer is not west._request_signer


def test_a_collect_session_makes_only_the_collectors_clients(credentials):
    account = AwsAccount(new_session(None, "us-east-1"), "123456789012", "x", CallCounter())
    with pytest.raises(ValueError, match="'s3' is not one of the collector's services"):
        account.client("s3", "us-east-1")
