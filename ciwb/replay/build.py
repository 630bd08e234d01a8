"""One replayed build, end to end: provision → download source → phases → finalize → store.

The pre-build phases are CodeBuild's too (docs/reference/codebuild-facts.md, "Phases"):
SUBMITTED and QUEUED (instant here), PROVISIONING (the executor prepares its environment),
DOWNLOAD_SOURCE (the source copy; the buildspec is loaded and secrets resolved here, so a
bad YAML or a missing secret fails DOWNLOAD_SOURCE and the build goes to FINALIZING, as in
the cloud), then the runner's INSTALL … UPLOAD_ARTIFACTS, then FINALIZING (reports) and
COMPLETED. Ctrl-C or the timeout still ends in a written log and a stored record.
"""

from __future__ import annotations

import getpass
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ciwb.codebuild import arns
from ciwb.codebuild.clock import utcnow
from ciwb.errors import CiwbError
from ciwb.replay.artifacts import ArtifactResult, package_artifact
from ciwb.replay.buildspec import Buildspec, BuildspecError, load_buildspec
from ciwb.replay.environment import (
    BuildIdentity,
    Masker,
    SecretSource,
    codebuild_variables,
    git_source_info,
    merge_environment,
    resolve_secrets,
)
from ciwb.replay.executors import get_executor
from ciwb.replay.log import AgentLogWriter
from ciwb.replay.record import mask_record, phase_records, store_replay
from ciwb.replay.reports import build_reports
from ciwb.replay.runner import PhaseResult, PhaseRunner
from ciwb.store.connection import replays_dir

__all__ = ["ReplayRequest", "ReplayResult", "run_replay"]

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "000000000000"


@dataclass
class ReplayRequest:
    source: Path
    buildspec: str | None = None  # path relative to source, or absolute; default buildspec.yml
    executor: str = "local"
    project: str | None = None
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT
    env_overrides: dict[str, str] = field(default_factory=dict)  # start-build overrides
    project_env: dict[str, str] = field(default_factory=dict)
    secrets: SecretSource | None = None
    timeout_s: float | None = None
    out_dir: Path | None = None
    unpacked: bool = False
    honour_gitignore: bool = False
    keep_workspace: bool = False
    db: Path | None = None
    store: bool = True
    echo: bool = False
    batch_identifier: str | None = None
    batch_arn: str | None = None
    build_number: int | None = None
    environment_type: str | None = None  # batch task env.type override (recorded)
    compute_type: str | None = None
    image: str | None = None
    cancel: threading.Event | None = None  # fast-fail in batches
    # docker executor: platform, compute shape (limits), --privileged
    arch: str | None = None
    compute: str | None = None
    privileged: bool = False
    # cache strategy by name (ciwb.replay.cache registry) and its options (s3: location=...)
    cache: str = "none"
    cache_options: dict[str, Any] = field(default_factory=dict)
    cache_project: str | None = None  # whose cache (default: the project)


@dataclass
class ReportSummary:
    name: str
    type: str
    status: str
    total: int | None
    status_counts: dict[str, int]
    line_coverage: float | None
    branch_coverage: float | None
    problems: list[str]


@dataclass
class ReplayResult:
    build_id: str
    build_arn: str
    status: str
    phases: list[PhaseResult]
    exported: dict[str, str]
    artifacts: list[ArtifactResult]
    reports: list[ReportSummary]
    log_path: Path
    out_dir: Path
    record: dict[str, Any]
    notes: list[str]
    stored: dict[str, int] | None = None
    cache: dict[str, Any] = field(default_factory=dict)  # restore/save: hit, key, s, bytes
    emulated: bool = False
    image_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "build_id": self.build_id,
            "build_arn": self.build_arn,
            "status": self.status,
            "phases": [
                {
                    "phase": p.phase_type,
                    "status": p.status,
                    "seconds": p.seconds,
                    "context_code": p.context_code,
                    "context_message": p.context_message,
                }
                for p in self.phases
            ],
            "exported_variables": self.exported,
            "artifacts": [
                {
                    "identifier": a.identifier,
                    "name": a.name,
                    "files": len(a.files),
                    "zip": str(a.zip_path) if a.zip_path else None,
                    "dir": str(a.dir_path) if a.dir_path else None,
                }
                for a in self.artifacts
            ],
            "reports": [
                {
                    "name": r.name,
                    "type": r.type,
                    "status": r.status,
                    "total": r.total,
                    "status_counts": r.status_counts,
                    "line_coverage": r.line_coverage,
                    "branch_coverage": r.branch_coverage,
                    "problems": r.problems,
                }
                for r in self.reports
            ],
            "log": str(self.log_path),
            "out_dir": str(self.out_dir),
            "notes": self.notes,
        }


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """`kill <ciwb>` stops the build like Ctrl-C (record written as STOPPED)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _buildspec_path(request: ReplayRequest, src: Path) -> Path:
    name = request.buildspec or "buildspec.yml"
    path = Path(name)
    if not path.is_absolute():
        path = src / name
        if request.buildspec is None and not path.exists() and (src / "buildspec.yaml").exists():
            path = src / "buildspec.yaml"
    return path


def run_replay(request: ReplayRequest, spec: Buildspec | None = None) -> ReplayResult:
    """Run one build of `request.source` and store it with origin='replay'."""
    source = request.source.resolve()
    if not source.is_dir():
        raise CiwbError(f"source {request.source} is not a directory")
    project = request.project or source.name or "replay"
    build_uuid = str(uuid.uuid4())
    submitted = utcnow()
    ident = BuildIdentity(
        project,
        build_uuid,
        request.region,
        request.account,
        request.build_number or int(time.time()),
        int(time.time() * 1000),
    )
    # absolute, so every path in the result (and `--json`) works from any directory
    out_dir = (request.out_dir or replays_dir(request.db)).absolute() / build_uuid
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / "build.log"
    masker = Masker()
    log = AgentLogWriter(log_path, masker, echo=request.echo)
    executor = get_executor(request.executor, **_executor_options(request))
    notes = [executor.isolation]
    cache = _cache_for(request, project)
    cache_results: dict[str, Any] = {}
    phases: list[PhaseResult] = [
        PhaseResult("SUBMITTED", "SUCCEEDED", submitted, submitted),
        PhaseResult("QUEUED", "SUCCEEDED", submitted, utcnow()),
    ]
    status = "SUCCEEDED"
    exported: dict[str, str] = {}
    artifacts: list[ArtifactResult] = []
    report_pairs: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    summaries: list[ReportSummary] = []
    workspace = None
    runner: PhaseRunner | None = None
    env: dict[str, str] = {}
    source_info = git_source_info(source)
    deadline = PhaseRunner.monotonic_deadline(request.timeout_s)
    with _sigterm_as_interrupt():
        try:
            # PROVISIONING + DOWNLOAD_SOURCE
            provisioning = PhaseResult("PROVISIONING", "SUCCEEDED", utcnow())
            log.agent(f"Running on ciwb replay, executor {executor.name}", provisioning.start)
            log.agent(executor.isolation)
            phases.append(provisioning)
            exclude = [out_dir.resolve()]
            download = PhaseResult("DOWNLOAD_SOURCE", "SUCCEEDED", utcnow())
            try:
                workspace = executor.prepare(
                    source, honour_gitignore=request.honour_gitignore, exclude=exclude
                )
            except KeyboardInterrupt:
                raise
            provisioning.end = download.start = utcnow()
            log.agent("Phase complete: PROVISIONING State: SUCCEEDED", provisioning.end)
            log.agent("Phase context status code:  Message: ")
            for note in workspace.notes:
                if note not in notes:
                    notes.append(note)
                    log.agent(note)
            log.agent(f"CODEBUILD_SRC_DIR={workspace.build_src}")
            phases.append(download)
            bs_path = _buildspec_path(request, workspace.host_src)
            try:
                if spec is None:
                    log.agent(f"YAML location is {bs_path}")
                    spec = load_buildspec(bs_path)
                    for warning in spec.warnings:
                        log.agent(f"Warning: {warning}")
                if spec.cache is not None and spec.cache.paths and cache is None:
                    log.agent(
                        "cache: not restored or saved by this replay (paths: "
                        f"{', '.join(spec.cache.paths)})"
                    )
                for user in {spec.run_as, *(p.run_as for p in spec.phases.values())} - {None}:
                    workspace.transport.check_user(user)
                log.agent("Processing environment variables")
                secrets: dict[str, str] = {}
                if spec.env.parameter_store or spec.env.secrets_manager:
                    if request.secrets is None:
                        raise CiwbError(
                            "the buildspec uses parameter-store/secrets-manager",
                            hint="pass --secrets-file FILE or --resolve-secrets",
                        )
                    secrets = resolve_secrets(
                        spec.env.parameter_store, spec.env.secrets_manager, request.secrets
                    )
                    for value in secrets.values():
                        masker.add(value)
                codebuild = codebuild_variables(
                    ident,
                    src_dir=workspace.build_src,
                    image=request.image or workspace.image,
                    log_path=build_uuid,
                    source=source_info,
                    initiator=f"ciwb-replay/{getpass.getuser()}",
                    batch_identifier=request.batch_identifier,
                )
                env = merge_environment(
                    host=workspace.base_env,
                    buildspec=spec.env.variables,
                    secrets=secrets,
                    project=request.project_env,
                    overrides=request.env_overrides,
                    codebuild=codebuild,
                )
                download.end = log.agent("Phase complete: DOWNLOAD_SOURCE State: SUCCEEDED")
                log.agent("Phase context status code:  Message: ")
            except (BuildspecError, CiwbError) as exc:
                code = "YAML_FILE_ERROR" if isinstance(exc, BuildspecError) else "CLIENT_ERROR"
                for line in str(exc).splitlines():
                    log.agent(line)
                download.status, download.context_code = "FAILED", code
                download.context_message = str(exc).splitlines()[0] if str(exc) else code
                download.end = log.agent("Phase complete: DOWNLOAD_SOURCE State: FAILED")
                log.agent(f"Phase context status code: {code} Message: {download.context_message}")
                status = "FAILED"
            if status == "SUCCEEDED" and spec is not None:

                def upload(expand: Any) -> None:
                    artifacts.extend(
                        _upload(spec, workspace, expand, out_dir, request.unpacked, build_uuid, log)
                    )

                runner = PhaseRunner(
                    spec,
                    transport=workspace.transport,
                    env=env,
                    src_dir=workspace.build_src,
                    log=log,
                    deadline=deadline,
                    upload=upload,
                )
                finished = threading.Event()
                if request.cancel is not None:
                    _watch_cancel(request.cancel, runner, finished)
                if cache is not None and spec.cache is not None and spec.cache.paths:
                    cache_results["restore"] = _cache_restore(
                        cache, spec, workspace, executor, env, log
                    )
                try:
                    outcome = runner.run()
                finally:
                    finished.set()
                phases.extend(outcome.phases)
                status = outcome.status
                if cache is not None and spec.cache is not None and spec.cache.paths:
                    cache_results["save"] = _cache_save(
                        cache, spec, workspace, executor, env, log, status
                    )
                exported = {k: masker(v) for k, v in outcome.exported.items()}
        except KeyboardInterrupt:
            status = "STOPPED"
            running = next((p for p in reversed(phases) if p.end is None), None)
            if running is not None:
                running.status, running.end = "STOPPED", utcnow()
        finally:
            finalizing = PhaseResult(
                "FINALIZING", "SUCCEEDED", log.agent("Entering phase FINALIZING")
            )
            if runner is not None:
                runner.close()
            if spec is not None and spec.reports and workspace is not None:
                try:
                    outcomes = build_reports(
                        spec.reports,
                        workspace.host_src,
                        project=project,
                        region=request.region,
                        account=request.account,
                        build_arn=ident.build_arn,
                        created=utcnow(),
                        on_problem=log.agent,
                    )
                except CiwbError as exc:
                    outcomes = []
                    log.agent(f"Reports: {exc}")
                for item in outcomes:
                    for problem in item.problems:
                        log.agent(f"Report {item.report['name']}: {problem}")
                    report = mask_record(item.report, masker)
                    cases = mask_record(item.test_cases, masker)
                    report_pairs.append((report, cases))
                    summaries.append(_summary(report, item.problems))
            if workspace is not None:
                executor.teardown(workspace, keep=request.keep_workspace)
            finalizing.end = log.agent("Phase complete: FINALIZING State: SUCCEEDED")
            log.agent("Phase context status code:  Message: ")
            phases.append(finalizing)
            phases.append(PhaseResult("COMPLETED", "SUCCEEDED", finalizing.end))
            log.close()
    ended = phases[-1].start
    record = _build_record(
        request,
        ident,
        spec,
        workspace,
        phases,
        status,
        submitted,
        ended,
        exported,
        artifacts,
        report_pairs,
        source_info,
        log_path,
        env,
    )
    record = mask_record(record, masker)
    result = ReplayResult(
        ident.build_id,
        ident.build_arn,
        status,
        phases,
        exported,
        artifacts,
        summaries,
        log_path,
        out_dir,
        record,
        notes,
        cache=cache_results,
        emulated=bool(
            workspace is not None
            and getattr(workspace, "container", None)
            and workspace.info.emulated
        ),
        image_id=(
            workspace.info.image_id
            if workspace is not None and getattr(workspace, "container", None)
            else None
        ),
    )
    if request.store:
        result.stored = store_replay(
            request.db, build=record, log_path=log_path, reports=report_pairs
        )
    return result


def _watch_cancel(event: threading.Event, runner: PhaseRunner, finished: threading.Event) -> None:
    """Fast-fail: when a sibling build fails, kill this build's shells (it ends STOPPED)."""

    def watch() -> None:
        while not finished.is_set():
            if event.wait(0.2):
                runner.cancel()
                return

    threading.Thread(target=watch, daemon=True).start()


def _upload(
    spec: Buildspec,
    workspace: Any,
    expand: Any,
    out_dir: Path,
    unpacked: bool,
    build_uuid: str,
    log: AgentLogWriter,
) -> list[ArtifactResult]:
    results = []
    defs = []
    if spec.artifacts is not None and spec.artifacts.files:
        defs.append(spec.artifacts)
    defs.extend(spec.secondary_artifacts.values())
    for art in defs:
        name = expand(art.name) if art.name else (art.identifier or "artifacts")
        target = (
            out_dir / "artifacts"
            if art.identifier is None
            else (out_dir / "artifacts" / art.identifier)
        )
        log.agent(f"Expanding base directory path: {art.base_directory or '.'}")
        result = package_artifact(art, workspace.host_src, target, name=name, unpacked=unpacked)
        log.agent(f"Found {len(result.files)} file(s) for artifact {art.identifier or name}")
        results.append(result)
    return results


def _summary(report: dict[str, Any], problems: list[str]) -> ReportSummary:
    tests = report.get("testSummary") or {}
    cov = report.get("codeCoverageSummary") or {}
    return ReportSummary(
        report["name"],
        report["type"],
        report.get("status", ""),
        tests.get("total"),
        dict(tests.get("statusCounts") or {}),
        cov.get("lineCoveragePercentage"),
        cov.get("branchCoveragePercentage"),
        problems,
    )


def _build_record(
    request: ReplayRequest,
    ident: BuildIdentity,
    spec: Buildspec | None,
    workspace: Any,
    phases: list[PhaseResult],
    status: str,
    start: datetime,
    end: datetime,
    exported: dict[str, str],
    artifacts: list[ArtifactResult],
    reports: list[tuple[dict[str, Any], list[dict[str, Any]]]],
    source_info: dict[str, str],
    log_path: Path,
    env: dict[str, str],
) -> dict[str, Any]:
    env_type = request.environment_type or (
        workspace.environment_type if workspace else "LINUX_CONTAINER"
    )
    environment: dict[str, Any] = {
        "type": env_type,
        "image": request.image or (workspace.image if workspace else "local"),
        "privilegedMode": False,
        "environmentVariables": [
            {"name": k, "value": v, "type": "PLAINTEXT"}
            for k, v in {**request.project_env, **request.env_overrides}.items()
        ],
    }
    compute_type = request.compute_type or (workspace.compute_type if workspace else None)
    if compute_type:
        # a local run has no CodeBuild compute type: none is recorded (so no price is
        # implied) unless a batch task, the caller or a container executor names one
        environment["computeType"] = compute_type
    record: dict[str, Any] = {
        "id": ident.build_id,
        "arn": ident.build_arn,
        "buildNumber": ident.build_number,
        "startTime": start,
        "endTime": end,
        "currentPhase": "COMPLETED",
        "buildStatus": status,
        "sourceVersion": source_info.get("version"),
        "resolvedSourceVersion": source_info.get("resolved"),
        "projectName": ident.project,
        "phases": phase_records(phases),
        "source": {
            "type": "NO_SOURCE",
            "location": str(request.source.resolve()),
            "buildspec": request.buildspec or "buildspec.yml",
        },
        "environment": environment,
        "serviceRole": arns.role_arn(ident.account, "ciwb-replay"),
        "logs": {"deepLink": log_path.resolve().as_uri(), "cloudWatchLogs": {"status": "DISABLED"}},
        "timeoutInMinutes": max(1, int(-(-request.timeout_s // 60))) if request.timeout_s else 60,
        "queuedTimeoutInMinutes": 480,
        "buildComplete": True,
        "initiator": f"ciwb-replay/{getpass.getuser()}",
        "exportedEnvironmentVariables": [{"name": k, "value": v} for k, v in exported.items()],
        "reportArns": [r["arn"] for r, _ in reports],
    }
    if request.batch_arn:
        record["buildBatchArn"] = request.batch_arn
    primary = [a for a in artifacts if a.identifier is None]
    if primary and primary[0].zip_path:
        record["artifacts"] = {"location": primary[0].zip_path.resolve().as_uri()}
    secondary = [a for a in artifacts if a.identifier is not None]
    if secondary:
        record["secondaryArtifacts"] = [
            {
                "location": a.zip_path.resolve().as_uri() if a.zip_path else "",
                "artifactIdentifier": a.identifier,
            }
            for a in secondary
        ]
    if spec is not None and spec.cache is not None:
        kind = {"s3": "S3", "local": "LOCAL"}.get(request.cache, "NO_CACHE")
        record["cache"] = {"type": kind}
        if kind == "S3" and request.cache_options.get("location"):
            record["cache"]["location"] = str(request.cache_options["location"]).removeprefix(
                "s3://"
            )
        if kind == "LOCAL":
            record["cache"]["modes"] = ["LOCAL_CUSTOM_CACHE"]
    return record


# ---- executor options and the build cache (restore before INSTALL, save after the build)


def _executor_options(request: ReplayRequest) -> dict[str, Any]:
    if request.executor == "docker":
        return {
            "arch": request.arch,
            "compute": request.compute or "small",
            "image": request.image,
            "privileged": request.privileged,
        }
    if request.arch:
        from ciwb.images.host import host_arch, normalise_arch

        if normalise_arch(request.arch) != host_arch():
            raise CiwbError(
                f"the {request.executor} executor runs on this {host_arch()} host; "
                f"{request.arch} was asked for",
                hint="use --executor docker --arch ...",
            )
    return {}


def _cache_for(request: ReplayRequest, project: str) -> Any:
    if request.cache == "none":
        return None
    from ciwb.replay.cache import get_cache

    return get_cache(
        request.cache, project=request.cache_project or project, **request.cache_options
    )


def _cache_restore(
    cache: Any,
    spec: Buildspec,
    workspace: Any,
    executor: Any,
    env: dict[str, str],
    log: AgentLogWriter,
) -> dict[str, Any]:
    stage = executor.cache_abs_root(workspace)
    try:
        result = cache.restore(spec.cache, src_dir=workspace.host_src, env=env, abs_root=stage)
        executor.push_cache_abs(workspace, stage)
    except CiwbError as exc:  # a broken cache never fails the build; it is a miss
        log.agent(f"Cache restore failed: {exc}")
        return {"hit": False, "error": str(exc)}
    log.agent(result.log_line())
    return asdict(result)


def _cache_save(
    cache: Any,
    spec: Buildspec,
    workspace: Any,
    executor: Any,
    env: dict[str, str],
    log: AgentLogWriter,
    status: str,
) -> dict[str, Any]:
    # Saved only after a successful build: a failed build's half-installed dependencies
    # would otherwise become the next build's starting point (and keyed entries never change).
    if status != "SUCCEEDED":
        log.agent("Cache save skipped: the build did not succeed")
        return {"saved": False, "skipped": "build did not succeed"}
    from ciwb.replay.cache.paths import absolute_bases

    stage = executor.cache_abs_root(workspace)
    try:
        executor.pull_cache_abs(workspace, stage, absolute_bases(list(spec.cache.paths)))
        result = cache.save(spec.cache, src_dir=workspace.host_src, env=env, abs_root=stage)
    except CiwbError as exc:
        log.agent(f"Cache save failed: {exc}")
        return {"saved": False, "error": str(exc)}
    log.agent(result.log_line())
    return asdict(result)
