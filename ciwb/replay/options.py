"""The options of `ciwb replay run`, in a few groups: the replay engine's request.

The CLI builds one `ReplayOptions` from its flags and the engine (ciwb.replay.build, the batch
runner) reads the groups as they are; batch and experiment runners `dataclasses.replace` one
group per build. A new flag is a field in its group and an option in ciwb/cli.py, nothing in
between. Values that need reading (the env file, the secrets, durations) are read by the group's
methods, so `check()` can fail on all of them before anything runs.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ciwb.errors import CiwbError
from ciwb.replay.environment import SecretSource, load_secrets_file, read_env_file
from ciwb.replay.request import DEFAULT_ACCOUNT, DEFAULT_REGION

__all__ = [
    "BuildContext",
    "CacheOptions",
    "EnvironmentOptions",
    "ExecutorOptions",
    "OutputOptions",
    "ReplayOptions",
    "SourceOptions",
    "parse_duration",
]


def parse_duration(text: str) -> float:
    """`90`, `90s`, `15m`, `2h` → seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text or "")
    if not match:
        raise CiwbError(f"not a duration: {text!r} (e.g. 90s, 15m, 1h)")
    value, unit = float(match.group(1)), match.group(2) or "s"
    seconds = value * {"s": 1, "m": 60, "h": 3600}[unit]
    if seconds <= 0:
        raise CiwbError("the timeout must be positive")
    return seconds


@dataclass(frozen=True)
class SourceOptions:
    """What is built: the source directory, its buildspec, the project it is a build of."""

    source: Path
    buildspec: str | None = None  # relative to source, or absolute; default buildspec.yml
    batch: bool = False  # run the buildspec's batch section
    honour_gitignore: bool = False
    project: str | None = None  # codebuild: the existing project (required)
    source_version: str | None = None  # codebuild: commit, branch or tag


@dataclass(frozen=True)
class EnvironmentOptions:
    """Start-build overrides, where parameter-store / secrets-manager values come from."""

    env_file: Path | None = None
    secrets_file: Path | None = None
    resolve_secrets: bool = False  # read them from AWS
    profile: str | None = None
    region: str | None = None
    account: str = DEFAULT_ACCOUNT  # in the replayed build's ARNs

    @property
    def build_region(self) -> str:
        """The region in the replayed build's ARNs and AWS_REGION."""
        return self.region or DEFAULT_REGION

    def overrides(self) -> dict[str, str]:
        """The env file's variables (start-build overrides; they win over the buildspec)."""
        return read_env_file(self.env_file) if self.env_file else {}

    def secrets(self) -> SecretSource | None:
        if self.secrets_file is not None and self.resolve_secrets:
            raise CiwbError("use either --secrets-file or --resolve-secrets, not both")
        if self.secrets_file is not None:
            return load_secrets_file(self.secrets_file)
        if self.resolve_secrets:
            import boto3

            session = boto3.Session(profile_name=self.profile, region_name=self.region)
            return SecretSource(session=session, region=self.region or session.region_name)
        return None


@dataclass(frozen=True)
class ExecutorOptions:
    """Where the build runs and on what: executor, platform, compute shape, image, timeout."""

    executor: str = "local"
    arch: str | None = None
    compute: str | None = None
    image: str | None = None
    privileged: bool = False
    timeout: str | None = None  # 90s, 15m, 1h
    keep_workspace: bool = False  # debugging: leave the workspace behind

    @property
    def timeout_s(self) -> float | None:
        return parse_duration(self.timeout) if self.timeout else None


@dataclass(frozen=True)
class CacheOptions:
    """The build cache: strategy by name (ciwb.replay.cache registry) and its settings."""

    cache: str = "none"
    location: str | None = None  # s3: s3://bucket/prefix
    dir: Path | None = None  # local: cache root
    idle_expiry: str | None = None  # local: wipe after this idle time

    def strategy_options(
        self, *, profile: str | None = None, region: str | None = None
    ) -> dict[str, Any]:
        """The chosen strategy's constructor arguments."""
        from ciwb.replay.cache import cache_names

        if self.cache not in cache_names():
            raise CiwbError(
                f"unknown cache {self.cache!r}", hint=f"use one of {', '.join(cache_names())}"
            )
        if self.cache == "s3":
            if not self.location:
                raise CiwbError("--cache s3 needs --cache-location s3://bucket/prefix")
            return {"location": self.location, "profile": profile, "region": region}
        if self.cache == "local":
            return {
                "root": self.dir,
                "idle_expiry_s": parse_duration(self.idle_expiry) if self.idle_expiry else None,
            }
        return {}


@dataclass(frozen=True)
class OutputOptions:
    """Where the build goes: the store, the log and artifact directory, the terminal."""

    db: Path | None = None
    out: Path | None = None  # logs and artifacts (default: replays/ beside the store)
    unpacked: bool = False  # artifacts also as directories
    echo: bool = False  # stream the build log to stderr
    store: bool = True


@dataclass(frozen=True)
class BuildContext:
    """What a batch or an experiment sets per build; empty for `ciwb replay run`."""

    batch_identifier: str | None = None
    batch_arn: str | None = None
    build_number: int | None = None  # default: the start time in seconds
    env_variables: dict[str, str] = field(default_factory=dict)  # batch task's; overrides win
    environment_type: str | None = None  # batch task env.type (recorded)
    compute_type: str | None = None  # batch task env.compute-type (recorded)
    cache_project: str | None = None  # whose cache (default: the project)
    cancel: threading.Event | None = None  # fast-fail in batches


@dataclass(frozen=True)
class ReplayOptions:
    """Everything `ciwb replay run` is told, grouped; the engine's request for one build.

    `build` is the per-build context a batch or an experiment sets; the CLI leaves it empty.
    """

    source: SourceOptions
    environment: EnvironmentOptions = field(default_factory=EnvironmentOptions)
    executor: ExecutorOptions = field(default_factory=ExecutorOptions)
    cache: CacheOptions = field(default_factory=CacheOptions)
    output: OutputOptions = field(default_factory=OutputOptions)
    build: BuildContext = field(default_factory=BuildContext)

    def check(self) -> None:
        """Read every option that can be wrong (files, durations, the cache), before any build."""
        self.environment.overrides()
        self.environment.secrets()
        self.executor.timeout_s  # noqa: B018 - parsed for its error
        self.cache.strategy_options(
            profile=self.environment.profile, region=self.environment.region
        )
