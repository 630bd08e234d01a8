"""boto3 sessions, clients and call accounting for the collector.

- Credentials come from boto3's standard chain (env, profile, SSO, instance role), one
  session per `--profile`, optionally assuming `--role-arn`. The account id is read from
  STS once per session and stored on every row (via the ARNs AWS returns).
- Assumed roles (`--role-arn`, `--org`) are botocore `DeferredRefreshableCredentials`: botocore
  calls AssumeRole again before the session expires (assumed-role sessions last an hour by
  default), so a long run never fails on an expired token. The refresh is locked inside
  botocore, so one credentials object serves every thread of an account.
- boto3 sessions are not thread-safe, their clients are: an account's one session makes
  every client of its walks under the account's lock (`AwsAccount.client`), and each walk
  uses its own clients. A session per walk cost ~10 ms of CPU to build (botocore registers
  ~400 event handlers on every new session), serialised by the GIL across walks.
- Responses are parsed by `ciwb.collect.responses` (the same answers as botocore's parsers
  for a fraction of the CPU: the parse is most of a walk's own work).
- Endpoints are left to boto3, which honours `AWS_ENDPOINT_URL` (and the per-service
  `AWS_ENDPOINT_URL_<SERVICE>`), so the collector runs against any AWS-compatible endpoint.
- Throttling is botocore's adaptive retry mode (client-side rate limiting + retries).
- Every API call is counted by operation through botocore's `before-call` event, which
  fires once per logical call (retries happen below it), so the ledger and the tests see
  exactly how many calls a run made.
- AWS failures a user can fix become one `CiwbError` line (see `explain_aws_error`).
"""

from __future__ import annotations

import copy
import os
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.client
import botocore.exceptions
import botocore.regions
import botocore.session
from botocore import handlers as botocore_handlers
from botocore.config import Config
from botocore.credentials import DeferredRefreshableCredentials, _local_now
from botocore.hooks import EVENT_ALIASES, EventAliaser

from ciwb.collect.responses import ResponseParsers
from ciwb.errors import CiwbError, CollectAwsError

__all__ = [
    "COLLECT_SERVICES",
    "AwsAccount",
    "CallCounter",
    "CollectAwsError",
    "ROLE_SESSION_NAME",
    "assumed_role_credentials",
    "client_config",
    "error_code",
    "explain_aws_error",
    "is_access_denied",
    "new_session",
    "open_account",
    "resolve_regions",
    "session_with",
    "use_collect_parsers",
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
ROLE_SESSION_NAME = "ciwb-collect"  # shows in the member accounts' CloudTrail


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

    def __post_init__(self) -> None:
        # Shared by every walk's clients: the counts and the listeners (the raw archive) are
        # updated under one lock so concurrent walks neither lose a count nor interleave a line.
        self._lock = threading.Lock()

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
        with self._lock:
            self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def _after_call(
        self, model: Any, parsed: dict[str, Any], context: dict[str, Any], region: str, **_: Any
    ) -> None:
        name = f"{model.service_model.service_name}.{model.name}"
        error = (parsed.get("Error") or {}).get("Code") if isinstance(parsed, dict) else None
        with self._lock:
            if error:
                self.errors[f"{name}:{error}"] += 1
                return
            for listener in self.listeners:
                listener(name, context.get("ciwb_params") or {}, parsed, region)

    def total(self, operation: str | None = None) -> int:
        with self._lock:
            calls = Counter(self.calls)
        if operation is None:
            return sum(calls.values())
        return sum(n for op, n in calls.items() if op.endswith("." + operation))


@dataclass
class AwsAccount:
    """One set of credentials: a boto3 session and the account it belongs to.

    `session` is used under the account's lock only (`client`, `sts`), so concurrent walks
    of one account share it; each walk's clients are its own.
    """

    session: boto3.Session
    account_id: str
    label: str
    counter: CallCounter
    max_attempts: int = 10
    profile: str | None = None
    name: str | None = None  # the organisation's name for the account, with --org
    partition: str = "aws"  # from the caller's ARN: aws, aws-cn, aws-us-gov
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _sts: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def client(self, service: str, region: str) -> Any:
        """A new client of this account in `region`, counted; for one thread's use or many
        (botocore clients are thread-safe). Only `COLLECT_SERVICES`: the sessions carry
        botocore's handlers for those alone."""
        if service not in COLLECT_SERVICES:
            raise ValueError(f"{service!r} is not one of the collector's services")
        with self._lock:  # the session is not thread-safe: one client made at a time
            client = self.session.client(
                service, region_name=region, config=client_config(self.max_attempts)
            )
        return self.counter.attach(client)

    def sts(self, region: str) -> Any:
        """This account's STS client in `region`, one for every caller (AssumeRole into each
        member account, and the credentials' later refreshes)."""
        with self._lock:
            found = self._sts.get(region)
        if found is None:
            found = self.client("sts", region)
            with self._lock:
                found = self._sts.setdefault(region, found)
        return found


def assumed_role_credentials(
    source: boto3.Session | None,
    role_arn: str,
    *,
    counter: CallCounter,
    region: str,
    max_attempts: int = 10,
    duration_s: int | None = None,
    time_fetcher: Callable[[], Any] = _local_now,
    sts: Any = None,
) -> DeferredRefreshableCredentials:
    """Credentials for `role_arn`, assumed from `source` (or through the counted client
    `sts`) on first use and again before they expire (botocore refreshes 15 minutes ahead,
    and must by 10 minutes ahead)."""
    if sts is None:
        assert source is not None, "a source session or an STS client"
        sts = counter.attach(
            source.client("sts", region_name=region, config=client_config(max_attempts))
        )
    extra: dict[str, Any] = {"DurationSeconds": duration_s} if duration_s else {}

    def refresh() -> dict[str, str]:
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=ROLE_SESSION_NAME, **extra)[
            "Credentials"
        ]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": creds["Expiration"].isoformat(),
        }

    return DeferredRefreshableCredentials(
        refresh_using=refresh, method="assume-role", time_fetcher=time_fetcher
    )


_prototype_lock = threading.Lock()
_prototype: Any = None
# What every session reads from botocore's data files and then only reads: the models and
# the endpoint rules. A fresh session loads them from disk again (~150 ms of CPU for its first
# client, serialised by the GIL across concurrent walks); sharing the loaded objects keeps the
# sessions themselves separate, as they must be.
_SHARED_COMPONENTS = ("endpoint_resolver", "smart_defaults_factory")
_PARSERS = ResponseParsers()  # stateless: one for every session


def use_collect_parsers(session: boto3.Session) -> boto3.Session:
    """`session`'s clients parse responses with `ciwb.collect.responses`."""
    session._session.register_component("response_parser_factory", _PARSERS)
    return session


# Event name → the name botocore's aliases turn it into, for every session and client.
_ALIASED: dict[str, str] = {}


class _SharedAliases(EventAliaser):
    """botocore's `EventAliaser` with one alias cache for every session and client.

    An event's alias depends on its name alone (botocore's fixed `EVENT_ALIASES`), but every
    client gets a copy of its session's aliaser with an empty cache, and works each name out
    again on first use: a loop over every alias, splitting the name each time, for the ~90
    names a client registers and emits — ~5% of a concurrent collect's CPU, under the GIL.
    A dict shared by threads is safe here: every writer stores the same value for a key.
    """

    def __init__(self, event_emitter: Any, event_aliases: Any = None) -> None:
        super().__init__(event_emitter, event_aliases)
        if self._event_aliases == EVENT_ALIASES:  # other aliases: a cache of their own
            self._alias_name_cache = _ALIASED


# The services the collector's sessions make clients for (`AwsAccount.client`), by the names
# botocore's event names use (after its aliases: logs → cloudwatch-logs, monitoring →
# cloudwatch).
COLLECT_SERVICES = frozenset({"codebuild", "sts", "organizations", "cloudwatch", "logs"})
_EVENT_SERVICES = frozenset({*COLLECT_SERVICES, "cloudwatch-logs", "monitoring"})


def _collect_handler(event_name: str) -> bool:
    """Whether a botocore builtin handler can fire on a collector's client: not one for
    another service (37 of botocore's 127 are S3's), nor a documentation hook (`docs.*`,
    emitted only when botocore writes its docs)."""
    parts = event_name.split(".")
    if parts[0] == "docs":
        return False
    return len(parts) < 2 or parts[1] == "*" or parts[1] in _EVENT_SERVICES


def _register_collect_handlers(session: botocore.session.Session) -> None:
    """botocore's `Session._register_builtin_handlers`, without the other services' handlers.

    Every client copies its session's whole handler trie (~400 nodes, a quarter of a
    client's creation CPU); with the other services' handlers gone it has a third as many,
    and a client of the services above sees exactly the handlers it saw before.
    """
    for spec in botocore_handlers.BUILTIN_HANDLERS:
        event_name, handler = spec[0], spec[1]
        if not _collect_handler(event_name):
            continue
        if len(spec) == 2:
            session.register(event_name, handler)
        elif spec[2] is botocore_handlers.REGISTER_FIRST:
            session._events.register_first(event_name, handler)
        elif spec[2] is botocore_handlers.REGISTER_LAST:
            session._events.register_last(event_name, handler)


class _SharedEndpointProviders:
    """`botocore.regions.EndpointProvider`, one per endpoint rule set for every client.

    botocore builds a provider from the service's endpoint rules for each new client (~20%
    of a client's creation CPU) and caches its answers per provider, so each client also
    works out its first endpoint again. The rules come from the shared loader (the same
    dicts for every client of a service) and a provider never changes once built, so one
    per (rules, partitions, excluded parameters) gives every client the same endpoints.
    Data not loaded by the shared loader is a different object: a provider of its own.
    """

    def __init__(self, make: Any) -> None:
        self._make = make
        self._lock = threading.Lock()
        # key → (the rules and partitions, kept so their ids are not reused; the provider)
        self._providers: dict[tuple[int, int, Any], tuple[Any, Any, Any]] = {}

    def __call__(self, ruleset_data: Any, partition_data: Any, excluded_params: Any = None) -> Any:
        key = (id(ruleset_data), id(partition_data), frozenset(excluded_params or ()))
        found = self._providers.get(key)
        if found is None:
            with self._lock:
                found = self._providers.get(key)
                if found is None:
                    provider = self._make(
                        ruleset_data=ruleset_data,
                        partition_data=partition_data,
                        excluded_params=excluded_params,
                    )
                    found = self._providers[key] = (ruleset_data, partition_data, provider)
        return found[2]


# (service name, id of its model's description) → (the description, the client class)
_client_classes: dict[tuple[str, int], tuple[Any, type]] = {}


def _shared_client_class(original: Any) -> Any:
    """`ClientCreator._create_client_class`, made once per service for the collector's
    sessions.

    botocore makes a client's class anew for every client: a method per operation, each with
    its own docstring object (~45% of a client's creation CPU once the handler trie is
    small). The class depends on the service's model and on the session's
    `creating-client-class` handlers; the collector's sessions all have the same ones (the
    builtin set above, boto3's own), and models come from the shared loader, so one class per
    service serves them all. Any other session's clients are made as botocore makes them.
    """

    def create_client_class(self: Any, service_name: str, service_model: Any) -> Any:
        if not isinstance(self._event_emitter, _SharedAliases):
            return original(self, service_name, service_model)
        description = service_model._service_description
        key = (service_name, id(description))
        found = _client_classes.get(key)
        if found is None or found[0] is not description:
            cls = original(self, service_name, service_model)
            found = _client_classes[key] = (description, cls)  # a race makes one twice: same
        return found[1]

    return create_client_class


_client_creation_patched = False


def _cheaper_client_creation() -> None:
    """Point botocore's client creation at the shared endpoint providers and client classes
    (once per process)."""
    global _client_creation_patched
    if not _client_creation_patched:
        botocore.regions.EndpointProvider = _SharedEndpointProviders(  # type: ignore[misc]
            botocore.regions.EndpointProvider
        )
        creator = botocore.client.ClientCreator
        creator._create_client_class = _shared_client_class(  # type: ignore[method-assign]
            creator._create_client_class
        )
        _client_creation_patched = True


def _prototype_session() -> Any:
    global _prototype
    with _prototype_lock:
        if _prototype is None:
            _cheaper_client_creation()
            _prototype = botocore.session.Session(include_builtin_handlers=False)
            _register_collect_handlers(_prototype)
            _prototype.get_component("data_loader")
            for name in _SHARED_COMPONENTS:
                _prototype._get_internal_component(name)
        return _prototype


def _core_session(profile: str | None) -> botocore.session.Session:
    """A new botocore session for `profile` over the prototype's loaded data and handlers."""
    proto = _prototype_session()
    # The builtin handlers are module functions: a copy of the prototype's registry is the
    # same registry, without registering ~400 handlers again (~8 ms of CPU a session).
    core = botocore.session.Session(
        event_hooks=copy.copy(proto._original_handler),
        include_builtin_handlers=False,
        profile=profile,
    )
    core._events = _SharedAliases(core._original_handler)
    core._register_event_emitter()
    # The loader's cache is shared; its search paths are not (boto3.Session appends its own
    # data directory to them every time, which would grow one shared list without end).
    loader = copy.copy(proto.get_component("data_loader"))
    loader._search_paths = list(dict.fromkeys(loader.search_paths))
    core.register_component("data_loader", loader)
    for name in _SHARED_COMPONENTS:
        core._internal_components.register_component(name, proto._get_internal_component(name))
    return core


def new_session(profile: str | None, region: str | None) -> boto3.Session:
    """A boto3 session for `profile` (None: the default chain), as `boto3.Session` makes it,
    over the models and endpoint rules already loaded."""
    return use_collect_parsers(
        boto3.Session(botocore_session=_core_session(profile), region_name=region)
    )


def session_with(credentials: Any, profile: str | None, region: str | None) -> boto3.Session:
    """A new boto3 session over given credentials, keeping the profile's other settings."""
    core = _core_session(profile)
    core._credentials = credentials
    return use_collect_parsers(boto3.Session(botocore_session=core, region_name=region))


def open_account(
    profile: str | None,
    *,
    role_arn: str | None,
    counter: CallCounter,
    region: str | None = None,
    max_attempts: int = 10,
    duration_s: int | None = None,
) -> AwsAccount:
    """A session for `profile` (None: the default chain), assuming `role_arn` if given."""
    label = profile or "default credentials"
    try:
        session = new_session(profile, region)
        sts_region = region or session.region_name or "us-east-1"
        if role_arn:
            creds = assumed_role_credentials(
                session,
                role_arn,
                counter=counter,
                region=sts_region,
                max_attempts=max_attempts,
                duration_s=duration_s,
            )
            session = session_with(creds, profile, region or session.region_name)
            label = f"{label} as {role_arn}"
        sts = counter.attach(
            session.client("sts", region_name=sts_region, config=client_config(max_attempts))
        )
        identity = sts.get_caller_identity()
    except Exception as exc:  # turned into one line below, or re-raised untouched
        raise explain_aws_error(exc, label) from None
    partition = (identity.get("Arn") or "arn:aws:").split(":")[1] or "aws"
    return AwsAccount(
        session, identity["Account"], label, counter, max_attempts, profile, None, partition
    )


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
