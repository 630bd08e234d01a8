"""An AWS organisation on the local moto server: member accounts, their roles, STS that checks.

moto 5.2.5 implements Organizations (CreateOrganization, CreateAccount with a random 12-digit
id, CloseAccount → SUSPENDED, ListAccounts paginated) and STS AssumeRole into any account:
the access key it returns is filed under the account named in the role ARN, and moto serves
each request from the backends of the account its access key belongs to
(`BaseResponse.get_current_account` → `iam.models.get_account_id_from`). So a session on an
assumed member role reads that member's CodeBuild backend, as on AWS.

Two things moto does not do, which `install_sts_checks` adds on top (as AWS behaves):

- AssumeRole succeeds for a role that does not exist: here it fails with AccessDenied unless
  the role exists in the target account's IAM;
- expired assumed-role credentials are accepted: here CodeBuild answers them with
  ExpiredTokenException, so a collector that does not refresh them fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from moto.codebuild import responses as cb_responses
from moto.core.exceptions import JsonRESTError
from moto.iam.models import iam_backends
from moto.sts import models as sts_models
from moto.sts.exceptions import STSClientError

from support.aws import ACCOUNT, REGION

__all__ = ["ORG_ROLE", "SeededOrg", "create_org", "install_sts_checks", "rehome"]

ORG_ROLE = "ciwb-reader"  # ciwb's default --org-role


def rehome(value: Any, account: str, source: str = ACCOUNT) -> Any:
    """Records with `account` in place of `source` in every string (ARNs)."""
    if isinstance(value, str):
        return value.replace(source, account)
    if isinstance(value, dict):
        return {k: rehome(v, account, source) for k, v in value.items()}
    if isinstance(value, list):
        return [rehome(v, account, source) for v in value]
    return value


@dataclass
class SeededOrg:
    """The organisation: its management account and members (name → account id)."""

    endpoint: str
    management: str = ACCOUNT
    members: dict[str, str] = field(default_factory=dict)

    def _client(self) -> Any:
        return boto3.client("organizations", region_name=REGION, endpoint_url=self.endpoint)

    def add_role(self, account: str, role: str = ORG_ROLE) -> None:
        """The read-only role, trusting the management account (as the StackSet deploys it)."""
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{self.management}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam_backends[account]["global"].create_role(
            role_name=role,
            assume_role_policy_document=json.dumps(trust),
            path="/",
            permissions_boundary=None,
            description="ciwb collect",
            tags=[],
            max_session_duration="3600",
        )

    def remove_role(self, account: str, role: str = ORG_ROLE) -> None:
        iam_backends[account]["global"].delete_role(role)

    def suspend(self, account: str) -> None:
        self._client().close_account(AccountId=account)


def create_org(endpoint: str, names: Sequence[str], *, role: str = ORG_ROLE) -> SeededOrg:
    """An organisation managed by moto's default account, one member per name, each with
    `role` (call from the process that serves moto: the roles go into its backends)."""
    org = SeededOrg(endpoint)
    client = org._client()
    client.create_organization(FeatureSet="ALL")
    for name in names:
        client.create_account(Email=f"{name}@example.com", AccountName=name)
    for page in client.get_paginator("list_accounts").paginate():
        for account in page["Accounts"]:
            if account["Id"] != org.management:
                org.members[account["Name"]] = account["Id"]
    for account in org.members.values():
        org.add_role(account, role)
    return org


def _assumed_role(access_key: str) -> Any:
    for account in list(sts_models.sts_backends):
        for backend in sts_models.sts_backends[account].values():
            found = backend.get_assumed_role_from_access_key(access_key)
            if found is not None:
                return found
    return None


def install_sts_checks(setattr_: Callable[[Any, str, Any], None]) -> None:
    """AssumeRole only into roles that exist; CodeBuild refuses expired assumed-role keys."""
    original_assume = sts_models.STSBackend.assume_role

    def assume_role(self: Any, *args: Any, **kwargs: Any) -> Any:
        role_arn = kwargs["role_arn"]
        account, role = role_arn.split(":")[4], role_arn.rsplit("/", 1)[-1]
        if not any(r.name == role for r in iam_backends[account]["global"].get_roles()):
            raise STSClientError(
                "AccessDenied",
                f"User: arn:aws:iam::{ACCOUNT}:user/ciwb is not authorized to perform:"
                f" sts:AssumeRole on resource: {role_arn}",
            )
        return original_assume(self, *args, **kwargs)

    original_auth = cb_responses.CodeBuildResponse._authenticate_and_authorize_normal_action

    def authenticate(self: Any, *args: Any, **kwargs: Any) -> Any:
        assumed = _assumed_role(self.get_access_key())
        if assumed is not None and assumed.expiration.replace(tzinfo=UTC) <= datetime.now(UTC):
            raise JsonRESTError(
                "ExpiredTokenException", "The security token included in the request is expired"
            )
        return original_auth(self, *args, **kwargs)

    setattr_(sts_models.STSBackend, "assume_role", assume_role)
    setattr_(
        cb_responses.CodeBuildResponse, "_authenticate_and_authorize_normal_action", authenticate
    )
