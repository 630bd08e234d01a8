"""The options of `ciwb replay run`, in a few groups, and the local replay they describe.

The CLI builds one `ReplayOptions` from its flags; the library turns it into the engine's
`ReplayRequest` (one build) or a batch run. A new flag is a field here and an option in
ciwb/cli.py, nothing in between.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ciwb.buildspec import load_buildspec
from ciwb.errors import CiwbError
from ciwb.replay.batch import BatchResult, plan_batch, run_batch
from ciwb.replay.build import run_replay
from ciwb.replay.environment import SecretSource, load_secrets_file, read_env_file
from ciwb.replay.request import DEFAULT_REGION, ReplayRequest, ReplayResult

__all__ = [
    "CacheOptions",
    "EnvironmentOptions",
    "ExecutorOptions",
    "OutputOptions",
    "ReplayOptions",
    "SourceOptions",
    "parse_duration",
    "replay_locally",
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
    out: Path | None = None  # logs and artifacts (default data/replays)
    unpacked: bool = False  # artifacts also as directories
    echo: bool = False  # stream the build log to stderr
    store: bool = True


@dataclass(frozen=True)
class ReplayOptions:
    """Everything `ciwb replay run` is told, grouped."""

    source: SourceOptions
    environment: EnvironmentOptions = field(default_factory=EnvironmentOptions)
    executor: ExecutorOptions = field(default_factory=ExecutorOptions)
    cache: CacheOptions = field(default_factory=CacheOptions)
    output: OutputOptions = field(default_factory=OutputOptions)

    def request(self) -> ReplayRequest:
        """The engine's request for one local build."""
        src, env, ex, out = self.source, self.environment, self.executor, self.output
        return ReplayRequest(
            source=src.source,
            buildspec=src.buildspec,
            executor=ex.executor,
            project=src.project,
            region=env.region or DEFAULT_REGION,
            env_overrides=read_env_file(env.env_file) if env.env_file else {},
            secrets=env.secrets(),
            timeout_s=ex.timeout_s,
            out_dir=out.out,
            unpacked=out.unpacked,
            honour_gitignore=src.honour_gitignore,
            db=out.db,
            store=out.store,
            echo=out.echo,
            arch=ex.arch,
            compute=ex.compute,
            image=ex.image,
            privileged=ex.privileged,
            cache=self.cache.cache,
            cache_options=self.cache.strategy_options(profile=env.profile, region=env.region),
        )


def replay_locally(options: ReplayOptions) -> ReplayResult | BatchResult:
    """One build (or the buildspec's batch) on this host, through a local executor."""
    request = options.request()
    if options.source.batch:
        path = Path(options.source.buildspec or "buildspec.yml")
        source = options.source.source
        spec = load_buildspec(path if path.is_absolute() else source / path)
        if spec.batch is None:
            raise CiwbError(f"{spec.path} has no batch section")
        return run_batch(request, plan_batch(spec.batch))
    return run_replay(request)
