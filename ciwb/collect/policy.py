"""The IAM policy `collect` needs in every account it reads (`ciwb collect --print-policy`).

The actions are derived from the code, not listed by hand: every AWS call the collector makes
goes through `ciwb.collect.sources.live`, so its source is read (`client.<method>(…)` and the
paginated operations it names) and each method is mapped to its operation through botocore's
service models. A new call there changes the policy, and the test that docs/org-role.cfn.yaml
and docs/org-role.tf carry exactly this policy then fails until they are updated.

`sts:GetCallerIdentity` needs no permission; reading the organisation (management side) needs
`organizations:ListAccounts` and `sts:AssumeRole` on the member role (docs/scheduling.md).
"""

from __future__ import annotations

import ast
import inspect
import json
from functools import cache
from typing import Any

from botocore import xform_name
from botocore.session import get_session

__all__ = ["collect_actions", "collect_policy", "policy_json"]

# botocore service name → IAM action prefix (CloudWatch's endpoint prefix is `monitoring`)
_SERVICES = {"codebuild": "codebuild", "cloudwatch": "cloudwatch", "logs": "logs"}


def _called_methods() -> set[str]:
    from ciwb.collect.sources import live

    tree = ast.parse(inspect.getsource(live))
    methods: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "client"
            and func.attr != "get_paginator"
        ):
            methods.add(func.attr)
        elif isinstance(func, ast.Name) and func.id == "_pages" and len(node.args) > 1:
            operation = node.args[1]
            if isinstance(operation, ast.Constant) and isinstance(operation.value, str):
                methods.add(operation.value)
    return methods


@cache
def collect_actions() -> tuple[str, ...]:
    """`service:Operation` for every call in `ciwb.collect.sources.live`, sorted."""
    session = get_session()
    by_method: dict[str, list[str]] = {}
    for service, prefix in _SERVICES.items():
        for operation in session.get_service_model(service).operation_names:
            by_method.setdefault(xform_name(operation), []).append(f"{prefix}:{operation}")
    actions: set[str] = set()
    for method in _called_methods():
        found = by_method.get(method)
        if not found or len(found) != 1:
            raise LookupError(f"live.{method}: not exactly one operation in {sorted(_SERVICES)}")
        actions.add(found[0])
    return tuple(sorted(actions))


def collect_policy() -> dict[str, Any]:
    """The read-only policy for the role ciwb assumes (or the credentials it runs with)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CiwbCollectReadOnly",
                "Effect": "Allow",
                "Action": list(collect_actions()),
                "Resource": "*",
            }
        ],
    }


def policy_json() -> str:
    return json.dumps(collect_policy(), indent=2)
