"""boto3 sessions, clients and call accounting for the collector.

- Credentials come from boto3's standard chain (env, profile, SSO, instance role), one
  session per `--profile`, optionally assuming `--role-arn`. The account id is read from
  STS once per session and stored on every row (via the ARNs AWS returns).
- Endpoints are left to boto3, which honours `AWS_ENDPOINT_URL` (and the per-service
  `AWS_ENDPOINT_URL_<SERVICE>`), so the collector runs against any AWS-compatible endpoint.
- Throttling is botocore's adaptive retry mode (client-side rate limiting + retries).
- Every API call is counted by operation through botocore's `before-call` event, which
  fires once per logical call (retries happen below it), so the ledger and the tests see
  exactly how many calls a run made.
- AWS failures a user can fix become one `CiwbError` line (see `explain_aws_error`).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from ciwb.errors import CiwbError, CollectAwsError

__all__ = [
    "AwsAccount",
    "CallCounter",
    "CollectAwsError",
    "client_config",
    "explain_aws_error",
    "is_access_denied",
    "open_account",
    "resolve_regions",
]

_ACCESS_DENIED = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException"}
)
_EXPIRED = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
)
_REJECTED = frozenset(
    {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch"}
)
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


def client_config(max_attempts: int = 10, connect_timeout: float = 5.0) -> Config:
    """Adaptive retries for throttling (botocore retry mode `adaptive`).

    `AWS_MAX_ATTEMPTS`, when set, wins over `max_attempts`, as it does for the AWS CLI.
    """
    retries: dict[str, Any] = {"mode": "adaptive"}
    if not os.environ.get("AWS_MAX_ATTEMPTS"):
        retries["max_attempts"] = max_attempts
    return Config(
        retries=retries,
        connect_timeout=connect_timeout,
        read_timeout=60,
        max_pool_connections=20,
    )


@dataclass
class CallCounter:
    """Counts API calls by `service.Operation`, and errors by `service.Operation:Code`."""

    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    # called with (operation, request params, parsed response, region) after each success
    listeners: list[Callable[[str, dict[str, Any], dict[str, Any], str], None]] = field(
        default_factory=list
    )

    def attach(self, client: Any) -> Any:
        events = client.meta.events
        events.register("before-parameter-build.*.*", self._remember_params)
        events.register("before-call.*.*", self._before_call)
        region = client.meta.region_name

        def after_call(**kwargs: Any) -> None:
            self._after_call(region=region, **kwargs)

        events.register("after-call.*.*", after_call, unique_id=f"ciwb-after-{id(self)}")
        return client

    @staticmethod
    def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        # The request as the caller wrote it, for the raw archive (after-call sees only the
        # serialised body).
        context["ciwb_params"] = dict(params)

    def _before_call(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def _after_call(
        self, model: Any, parsed: dict[str, Any], context: dict[str, Any], region: str, **_: Any
    ) -> None:
        name = f"{model.service_model.service_name}.{model.name}"
        error = (parsed.get("Error") or {}).get("Code") if isinstance(parsed, dict) else None
        if error:
            self.errors[f"{name}:{error}"] += 1
            return
        for listener in self.listeners:
            listener(name, context.get("ciwb_params") or {}, parsed, region)

    def total(self, operation: str | None = None) -> int:
        if operation is None:
            return sum(self.calls.values())
        return sum(n for op, n in self.calls.items() if op.endswith("." + operation))


@dataclass
class AwsAccount:
    """One set of credentials: a boto3 session and the account it belongs to."""

    session: boto3.Session
    account_id: str
    label: str
    counter: CallCounter
    max_attempts: int = 10

    def client(self, service: str, region: str) -> Any:
        client = self.session.client(
            service, region_name=region, config=client_config(self.max_attempts)
        )
        return self.counter.attach(client)


def open_account(
    profile: str | None,
    *,
    role_arn: str | None,
    counter: CallCounter,
    region: str | None = None,
    max_attempts: int = 10,
) -> AwsAccount:
    """A session for `profile` (None: the default chain), assuming `role_arn` if given."""
    label = profile or "default credentials"
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
        sts_region = region or session.region_name or "us-east-1"
        if role_arn:
            sts = counter.attach(
                session.client("sts", region_name=sts_region, config=client_config(max_attempts))
            )
            creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="ciwb-collect")["Credentials"]
            session = boto3.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                region_name=region or session.region_name,
            )
            label = f"{label} as {role_arn}"
        sts = counter.attach(
            session.client("sts", region_name=sts_region, config=client_config(max_attempts))
        )
        account_id = sts.get_caller_identity()["Account"]
    except Exception as exc:  # turned into one line below, or re-raised untouched
        raise explain_aws_error(exc, label) from None
    return AwsAccount(session, account_id, label, counter, max_attempts)


def _known_regions(session: boto3.Session) -> set[str]:
    known: set[str] = set()
    for partition in session.get_available_partitions():
        known.update(session.get_available_regions("codebuild", partition_name=partition))
    return known


def resolve_regions(session: boto3.Session, regions: list[str], all_regions: bool) -> list[str]:
    """`--region` values checked against botocore's CodeBuild regions, or all of them."""
    known = _known_regions(session)
    if all_regions:
        return sorted(session.get_available_regions("codebuild"))
    chosen = list(dict.fromkeys(regions)) or ([session.region_name] if session.region_name else [])
    if not chosen:
        raise CollectAwsError(
            "no region given", hint="pass --region REGION, --all-regions, or set AWS_REGION"
        )
    for region in chosen:
        if not _REGION_RE.match(region) or region not in known:
            raise CollectAwsError(
                f"unknown region {region!r}: CodeBuild has no such region",
                hint="e.g. --region us-east-1; see `aws account list-regions`",
            )
    return chosen


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, botocore.exceptions.ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


def is_access_denied(exc: BaseException) -> bool:
    return error_code(exc) in _ACCESS_DENIED


def explain_aws_error(exc: BaseException, label: str) -> BaseException:
    """A user-fixable AWS failure → one-line `CollectAwsError`; anything else unchanged."""
    if isinstance(exc, CiwbError):
        return exc
    if isinstance(exc, botocore.exceptions.ProfileNotFound):
        return CollectAwsError(
            f"AWS profile not found: {exc.kwargs.get('profile')}",
            hint="see `aws configure list-profiles`",
        )
    if isinstance(
        exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError
    ):
        return CollectAwsError(
            f"no AWS credentials found ({label})",
            hint="set AWS_PROFILE / AWS_ACCESS_KEY_ID, run `aws sso login`, or pass --profile",
        )
    if isinstance(
        exc, botocore.exceptions.TokenRetrievalError | botocore.exceptions.SSOTokenLoadError
    ):
        return CollectAwsError(f"AWS SSO session expired ({label})", hint="run `aws sso login`")
    if isinstance(
        exc,
        botocore.exceptions.EndpointConnectionError | botocore.exceptions.ConnectTimeoutError,
    ):
        url = getattr(exc, "kwargs", {}).get("endpoint_url", "")
        return CollectAwsError(
            f"cannot reach AWS endpoint {url}".rstrip(),
            hint="check the network, AWS_ENDPOINT_URL and the region",
        )
    code = error_code(exc)
    if code in _EXPIRED:
        return CollectAwsError(
            f"AWS credentials expired ({label})", hint="refresh them (e.g. `aws sso login`)"
        )
    if code in _REJECTED:
        return CollectAwsError(
            f"AWS credentials rejected ({label}): {code}",
            hint="check the access key or profile",
        )
    if code in _ACCESS_DENIED:
        message = exc.response.get("Error", {}).get("Message", "")  # type: ignore[attr-defined]
        return CollectAwsError(f"access denied ({label}): {message}".rstrip(": "))
    return exc
