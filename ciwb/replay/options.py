"""What `ciwb replay run` calls: options as a user gives them → a build or a batch run."""

from __future__ import annotations

import re
from pathlib import Path

from ciwb.buildspec import load_buildspec
from ciwb.errors import CiwbError
from ciwb.replay.batch import BatchResult, plan_batch, run_batch
from ciwb.replay.build import DEFAULT_REGION, ReplayRequest, ReplayResult, run_replay
from ciwb.replay.environment import SecretSource, load_secrets_file, read_env_file

__all__ = ["cache_options", "parse_duration", "replay_source"]


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


def replay_source(
    source: Path,
    *,
    buildspec: str | None = None,
    db: Path | None = None,
    env_file: Path | None = None,
    secrets_file: Path | None = None,
    resolve_secrets: bool = False,
    profile: str | None = None,
    region: str | None = None,
    timeout: str | None = None,
    unpacked: bool = False,
    out: Path | None = None,
    executor: str = "local",
    batch: bool = False,
    honour_gitignore: bool = False,
    project: str | None = None,
    echo: bool = False,
    store: bool = True,
    arch: str | None = None,
    compute: str | None = None,
    image: str | None = None,
    privileged: bool = False,
    cache: str = "none",
    cache_location: str | None = None,
    cache_dir: Path | None = None,
    cache_idle_expiry: str | None = None,
    source_version: str | None = None,
) -> ReplayResult | BatchResult:
    if secrets_file is not None and resolve_secrets:
        raise CiwbError("use either --secrets-file or --resolve-secrets, not both")
    secrets: SecretSource | None = None
    if secrets_file is not None:
        secrets = load_secrets_file(secrets_file)
    elif resolve_secrets:
        import boto3

        session = boto3.Session(profile_name=profile, region_name=region)
        secrets = SecretSource(session=session, region=region or session.region_name)
    if executor == "codebuild":
        # A real CodeBuild build of `project` with SRC's buildspec (ciwb.experiments.remote).
        if batch:
            raise CiwbError("--batch is not supported with --executor codebuild")
        from ciwb.experiments.remote import run_codebuild_replay

        return run_codebuild_replay(
            source,
            project=project,
            buildspec=buildspec,
            db=db,
            arch=arch,
            compute=compute,
            image=image,
            cache=cache,
            cache_location=cache_location,
            source_version=source_version,
            profile=profile,
            region=region,
            timeout_s=parse_duration(timeout) if timeout else None,
        )
    request = ReplayRequest(
        source=source,
        buildspec=buildspec,
        executor=executor,
        project=project,
        region=region or DEFAULT_REGION,
        env_overrides=read_env_file(env_file) if env_file else {},
        secrets=secrets,
        timeout_s=parse_duration(timeout) if timeout else None,
        out_dir=out,
        unpacked=unpacked,
        honour_gitignore=honour_gitignore,
        db=db,
        store=store,
        echo=echo,
        arch=arch,
        compute=compute,
        image=image,
        privileged=privileged,
        cache=cache,
        cache_options=cache_options(
            cache, cache_location, cache_dir, cache_idle_expiry, profile=profile, region=region
        ),
    )
    if batch:
        path = Path(buildspec or "buildspec.yml")
        spec = load_buildspec(path if path.is_absolute() else source / path)
        if spec.batch is None:
            raise CiwbError(f"{spec.path} has no batch section")
        return run_batch(request, plan_batch(spec.batch))
    return run_replay(request)


def cache_options(
    cache: str,
    location: str | None,
    cache_dir: Path | None,
    idle_expiry: str | None,
    *,
    profile: str | None = None,
    region: str | None = None,
) -> dict[str, object]:
    """CLI cache options → the chosen strategy's constructor arguments."""
    from ciwb.replay.cache import cache_names

    if cache not in cache_names():
        raise CiwbError(f"unknown cache {cache!r}", hint=f"use one of {', '.join(cache_names())}")
    if cache == "s3":
        if not location:
            raise CiwbError("--cache s3 needs --cache-location s3://bucket/prefix")
        return {"location": location, "profile": profile, "region": region}
    if cache == "local":
        return {
            "root": cache_dir,
            "idle_expiry_s": parse_duration(idle_expiry) if idle_expiry else None,
        }
    return {}
