"""Organisation discovery for `collect --org`: the accounts, and a session in each.

From the management account or a delegated administrator, `ListAccounts` (paginated) names
every account of the organisation. Only ACTIVE accounts are collected: SUSPENDED and
PENDING_CLOSURE accounts can no longer be signed into. `--accounts` / `--exclude` globs match
the account id or its name. In each member account ciwb assumes one role by name
(`DEFAULT_ORG_ROLE` unless `--org-role`), deployed by the StackSet or Terraform in docs/
(docs/scheduling.md, "An organisation"). The caller's own account is read with the caller's
credentials: StackSets do not deploy to the management account, and the tooling account
needs no role to read itself.

An account whose role cannot be assumed (missing, or its trust policy does not name the
caller) is skipped like an AccessDenied project: recorded, named in the summary, and the
run goes on.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

from ciwb.collect.aws import (
    AwsAccount,
    assumed_role_credentials,
    error_code,
    explain_aws_error,
    is_access_denied,
    session_with,
)
from ciwb.errors import CollectAwsError

__all__ = [
    "DEFAULT_ORG_ROLE",
    "OrgAccount",
    "assume_member",
    "is_unassumable",
    "list_org_accounts",
    "member_role_arn",
    "select_accounts",
]

# The role ciwb assumes in each member account unless --org-role names another: a read-only
# role with exactly `ciwb collect --print-policy`'s permissions.
DEFAULT_ORG_ROLE = "ciwb-reader"
# An account whose role STS cannot hand out is skipped, not fatal. Anything else (our own
# credentials rejected, the network) stops the run as before.
_UNASSUMABLE = frozenset({"RegionDisabledException"})


@dataclass(frozen=True)
class OrgAccount:
    """One account as ListAccounts describes it."""

    account_id: str
    name: str
    status: str  # ACTIVE | SUSPENDED | PENDING_CLOSURE (the newer `State` when present)

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"


def list_org_accounts(admin: AwsAccount, region: str) -> list[OrgAccount]:
    """Every account of the caller's organisation, all pages, in ListAccounts order."""
    client = admin.client("organizations", region)
    accounts: list[OrgAccount] = []
    try:
        for page in client.get_paginator("list_accounts").paginate():
            for record in page.get("Accounts") or ():
                accounts.append(
                    OrgAccount(
                        record["Id"],
                        record.get("Name", ""),
                        record.get("State") or record.get("Status", ""),
                    )
                )
    except Exception as exc:
        code = error_code(exc)
        if code == "AWSOrganizationsNotInUseException":
            raise _not_in_org(admin) from None
        if is_access_denied(exc):
            raise CollectAwsError(
                f"cannot list the organisation's accounts ({admin.label}): {code}",
                hint="--org needs organizations:ListAccounts: run it from the management"
                " account or a delegated administrator",
            ) from None
        raise explain_aws_error(exc, admin.label) from None
    if not accounts:  # an organisation holds at least its management account
        raise _not_in_org(admin)
    return accounts


def _not_in_org(admin: AwsAccount) -> CollectAwsError:
    return CollectAwsError(
        f"account {admin.account_id} is not in an organisation ({admin.label})",
        hint="run --org from the management account or a delegated administrator",
    )


def _matches(account: OrgAccount, patterns: Sequence[str]) -> bool:
    return any(
        fnmatch.fnmatchcase(account.account_id, p) or fnmatch.fnmatchcase(account.name, p)
        for p in patterns
    )


def select_accounts(
    accounts: Sequence[OrgAccount], include: Sequence[str], exclude: Sequence[str]
) -> list[OrgAccount]:
    """Active accounts matching any `include` glob (all when none) and no `exclude` glob."""
    return [
        a
        for a in accounts
        if a.active
        and (not include or _matches(a, include))
        and not (exclude and _matches(a, exclude))
    ]


def member_role_arn(admin: AwsAccount, account_id: str, role_name: str) -> str:
    """The role's ARN in `account_id`, in the caller's partition (aws, aws-cn, aws-us-gov)."""
    return f"arn:{admin.partition}:iam::{account_id}:role/{role_name}"


def assume_member(
    admin: AwsAccount,
    account: OrgAccount,
    role_name: str,
    region: str,
    *,
    duration_s: int | None = None,
) -> AwsAccount:
    """A session in `account` through its role, assumed now so a refusal shows up here.

    Raises the ClientError when the role cannot be assumed (`is_unassumable` says so).
    """
    if account.account_id == admin.account_id:
        return dataclasses.replace(admin, name=account.name)  # the same session and lock
    role_arn = member_role_arn(admin, account.account_id, role_name)
    creds = assumed_role_credentials(
        None,
        role_arn,
        sts=admin.sts(region),
        counter=admin.counter,
        region=region,
        max_attempts=admin.max_attempts,
        duration_s=duration_s,
    )
    creds.get_frozen_credentials()  # AssumeRole now: a missing role is skipped before any work
    return AwsAccount(
        session_with(creds, admin.profile, region),
        account.account_id,
        f"{account.account_id} as {role_name}",
        admin.counter,
        admin.max_attempts,
        admin.profile,
        account.name,
        admin.partition,
    )


def is_unassumable(exc: BaseException) -> bool:
    """STS refused this one account's role (vs. our own credentials failing)."""
    return is_access_denied(exc) or error_code(exc) in _UNASSUMABLE
