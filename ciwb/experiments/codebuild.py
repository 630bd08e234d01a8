"""Builds in an existing CodeBuild project: StartBuild per cell, poll, stop, ingest.

Unlike the `local` and `docker` executors, nothing runs on this host: each run is a StartBuild against the
project named by `--project`, with the buildspec text as `buildspecOverride` and the cell as
environment/compute/image/cache overrides, polled with BatchGetBuilds until `buildComplete`
(docs/reference/codebuild-facts.md, "API": at most 100 ids per BatchGet*), then ingested through
the collector's own normalisation and store path (`NormalisedBatch.add_build`, origin `aws`)
so the build is an ordinary row in `builds`/`build_phases`. Timings are native: the build ran
on the architecture it names. Ctrl-C or the wait timeout stops what is still running
(StopBuild), stores it as AWS reports it, and then gives up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ciwb.errors import CiwbError, CodeBuildTimeout
from ciwb.replay.executors.limits import compute_shape

__all__ = [
    "CodeBuildCell",
    "CodeBuildProject",
    "CodeBuildRun",
    "cache_override",
    "start_build_params",
]

# LOCAL cache modes used when the cell asks for `local` (reference: "Cache" — the buildspec's
# cache.paths need LOCAL_CUSTOM_CACHE; the source cache keeps the git checkout).
DEFAULT_LOCAL_MODES = ("LOCAL_SOURCE_CACHE", "LOCAL_CUSTOM_CACHE")
BATCH_GET_LIMIT = 100


@dataclass(frozen=True)
class CodeBuildCell:
    """One StartBuild's worth of choices."""

    arch: str = "amd64"
    compute: str = "small"
    cache: str = "none"  # none | local | s3
    image: str | None = None  # None: the project's image
    cache_location: str | None = None  # s3: "bucket/prefix" or "s3://bucket/prefix"
    local_modes: tuple[str, ...] = DEFAULT_LOCAL_MODES


@dataclass
class CodeBuildRun:
    """A started build and, once read back, its final record."""

    cell: CodeBuildCell
    build_id: str
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return str(self.record.get("arn") or "")

    @property
    def complete(self) -> bool:
        return bool(self.record.get("buildComplete"))

    @property
    def status(self) -> str:
        return str(self.record.get("buildStatus") or "IN_PROGRESS")


def cache_override(cell: CodeBuildCell) -> dict[str, Any]:
    """`none` → NO_CACHE, `local` → LOCAL with modes, `s3` → S3 at `bucket/prefix`."""
    if cell.cache == "none":
        return {"type": "NO_CACHE"}
    if cell.cache == "local":
        return {"type": "LOCAL", "modes": list(cell.local_modes)}
    if cell.cache == "s3":
        if not cell.cache_location:
            raise CiwbError("--cache s3 needs --cache-location s3://bucket/prefix")
        # CodeBuild's S3 cache location is "bucket/prefix", without the scheme.
        return {"type": "S3", "location": cell.cache_location.removeprefix("s3://").strip("/")}
    raise CiwbError(f"unknown cache {cell.cache!r} for the codebuild executor (none, local, s3)")


def start_build_params(
    project: str,
    buildspec_text: str,
    cell: CodeBuildCell,
    *,
    project_image: str | None = None,
    source_version: str | None = None,
) -> dict[str, Any]:
    """The StartBuild request for one cell (every override explicit, nothing left implied)."""
    shape = compute_shape(cell.compute, cell.arch)
    image = cell.image or project_image
    params: dict[str, Any] = {
        "projectName": project,
        "buildspecOverride": buildspec_text,
        "environmentTypeOverride": shape.environment_type,
        "computeTypeOverride": shape.compute_type,
        "cacheOverride": cache_override(cell),
    }
    if image:
        params["imageOverride"] = image
    if source_version:
        params["sourceVersion"] = source_version
    return params


def explain(exc: BaseException, project: str) -> BaseException:
    """AWS failures a user can fix → one line; anything else unchanged."""
    from ciwb.collect.aws import error_code, explain_aws_error

    if error_code(exc) == "ResourceNotFoundException":
        return CiwbError(
            f"CodeBuild project {project!r} not found",
            hint="--project names an existing project in this account and region",
        )
    return explain_aws_error(exc, f"codebuild project {project}")


class CodeBuildProject:
    """One existing CodeBuild project: start builds in it, wait for them, stop, ingest."""

    def __init__(
        self,
        project: str | None = None,
        *,
        region: str | None = None,
        profile: str | None = None,
        source_version: str | None = None,
        client: Any = None,
        poll_s: float = 5.0,
        max_poll_s: float = 30.0,
        timeout_s: float = 8 * 3600,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not project:
            raise CiwbError("the codebuild executor needs --project NAME (an existing project)")
        self.project = project
        self.region = region
        self.profile = profile
        self.source_version = source_version
        self._client = client
        self.poll_s = poll_s
        self.max_poll_s = max_poll_s
        self.timeout_s = timeout_s
        self.sleep = sleep
        self._project_record: dict[str, Any] | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            from ciwb.collect.aws import client_config

            try:
                session = boto3.Session(profile_name=self.profile, region_name=self.region)
                self._client = session.client(
                    "codebuild",
                    region_name=self.region or session.region_name or "us-east-1",
                    config=client_config(),
                )
            except Exception as exc:
                raise explain(exc, self.project) from None
        return self._client

    def project_record(self) -> dict[str, Any]:
        """BatchGetProjects for `--project`; a missing project is one line."""
        if self._project_record is None:
            from ciwb.collect.sources import live

            try:
                found = live.get_projects(self.client, [self.project])
            except Exception as exc:
                raise explain(exc, self.project) from None
            if not found:
                raise explain(_not_found(), self.project)
            self._project_record = found[0]
        return self._project_record

    def start(
        self,
        cells: Sequence[CodeBuildCell],
        buildspec_text: str,
        *,
        source_version: str | None = None,
    ) -> list[CodeBuildRun]:
        """StartBuild per cell, all before any wait (they run concurrently on CodeBuild)."""
        image = (self.project_record().get("environment") or {}).get("image")
        runs: list[CodeBuildRun] = []
        try:
            for cell in cells:
                params = start_build_params(
                    self.project,
                    buildspec_text,
                    cell,
                    project_image=image,
                    source_version=source_version or self.source_version,
                )
                build = self.client.start_build(**params)["build"]
                runs.append(CodeBuildRun(cell, build["id"], build))
        except BaseException as exc:
            self.stop(runs)  # nothing half-started keeps running (and billing)
            if isinstance(exc, Exception):
                raise explain(exc, self.project) from None
            raise
        return runs

    def read(self, runs: Sequence[CodeBuildRun]) -> None:
        from ciwb.collect.sources import live

        by_id = {r.build_id: r for r in runs}
        ids = list(by_id)
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            found, _missing = live.get_builds(self.client, ids[start : start + BATCH_GET_LIMIT])
            for record in found:
                if record["id"] in by_id:
                    by_id[record["id"]].record = record

    def stop(self, runs: Sequence[CodeBuildRun]) -> list[str]:
        """StopBuild every run not yet complete; returns the ids stopped."""
        stopped = []
        for run in runs:
            if run.complete:
                continue
            try:
                run.record = self.client.stop_build(id=run.build_id)["build"]
                stopped.append(run.build_id)
            except Exception:  # already finished or gone: the final read says which
                continue
        return stopped

    def wait(self, runs: Sequence[CodeBuildRun]) -> list[CodeBuildRun]:
        """Poll BatchGetBuilds (interval backing off to `max_poll_s`) until all are complete.

        Ctrl-C, SIGTERM-as-interrupt or the timeout: StopBuild what still runs, read the
        final records once more (so they can be stored), then raise.
        """
        deadline = time.monotonic() + self.timeout_s
        interval = self.poll_s
        try:
            while True:
                self.read(runs)
                if all(r.complete for r in runs):
                    return list(runs)
                if time.monotonic() >= deadline:
                    break
                self.sleep(min(interval, max(0.0, deadline - time.monotonic())))
                interval = min(interval * 1.5, self.max_poll_s)
        except KeyboardInterrupt:
            self.stop(runs)
            self._final_read(runs)
            raise
        except Exception as exc:
            raise explain(exc, self.project) from None
        stopped = self.stop(runs)
        self._final_read(runs)
        raise CodeBuildTimeout(
            f"timed out after {self.timeout_s:.0f}s waiting for CodeBuild; "
            f"stopped {len(stopped)} build(s): {', '.join(stopped)}",
            runs=list(runs),
        )

    def _final_read(self, runs: Sequence[CodeBuildRun]) -> None:
        try:
            self.read(runs)
        except Exception:
            pass  # the stop responses already hold a record

    def ingest(self, runs: Sequence[CodeBuildRun], db: Path | None) -> dict[str, int]:
        """Store the project and the builds exactly as `ciwb collect` would (origin `aws`)."""
        from ciwb.codebuild.normalise import NormalisedBatch, normalise_project
        from ciwb.store import connect, write_batch

        batch = NormalisedBatch()
        batch.projects.append(normalise_project(self.project_record(), origin="aws"))
        for run in runs:
            if run.record.get("arn"):
                batch.add_build(run.record, origin="aws")
        with connect(db) as con:
            return write_batch(con, batch)


def _not_found() -> Exception:
    import botocore.exceptions

    return botocore.exceptions.ClientError(
        {"Error": {"Code": "ResourceNotFoundException", "Message": ""}}, "BatchGetProjects"
    )


def phase_seconds(record: Mapping[str, Any]) -> dict[str, float | None]:
    """Phase → seconds from the collector's normalisation (timestamps, not durationInSeconds)."""
    from ciwb.codebuild.normalise import normalise_build

    _build, phases = normalise_build(record, origin="aws")
    return {p.phase_type: p.duration_s for p in phases}
