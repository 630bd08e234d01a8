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
import threading
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ciwb.buildspec import Buildspec, BuildspecError, load_buildspec, locate_buildspec
from ciwb.codebuild import arns
from ciwb.codebuild.clock import utcnow
from ciwb.errors import CiwbError
from ciwb.replay.artifacts import ArtifactResult, package_artifact
from ciwb.replay.environment import (
    BuildIdentity,
    Masker,
    codebuild_variables,
    git_source_info,
    merge_environment,
    resolve_secrets,
)
from ciwb.replay.executors import Workspace, get_executor
from ciwb.replay.log import AgentLogWriter
from ciwb.replay.options import ExecutorOptions, ReplayOptions
from ciwb.replay.record import mask_record, phase_records, store_replay
from ciwb.replay.request import ReplayResult, TestReportSummary
from ciwb.replay.runner import PhaseResult, PhaseRunner
from ciwb.replay.signals import sigterm_as_interrupt
from ciwb.replay.testreports import build_test_reports
from ciwb.store.connection import replays_dir

__all__ = ["Replay", "run_replay"]


class Replay:
    """One replayed build. `run()` calls one method per step, in CodeBuild's phase order."""

    def __init__(self, request: ReplayOptions, spec: Buildspec | None = None) -> None:
        self.request = request
        self.spec = spec
        self.source = request.source.source.resolve()
        if not self.source.is_dir():
            raise CiwbError(f"source {request.source.source} is not a directory")
        self.project = request.source.project or self.source.name or "replay"
        environment, build = request.environment, request.build
        # start-build overrides win over the batch task's variables
        self.overrides = {**build.env_variables, **environment.overrides()}
        self.secrets = environment.secrets()
        self.timeout_s = request.executor.timeout_s
        self.build_uuid = str(uuid.uuid4())
        self.submitted = utcnow()
        self.ident = BuildIdentity(
            self.project,
            self.build_uuid,
            environment.build_region,
            environment.account,
            build.build_number or int(time.time()),
            int(time.time() * 1000),
        )
        # absolute, so every path in the result (and `--json`) works from any directory
        out = request.output.out or replays_dir(request.output.db)
        self.out_dir = out.absolute() / self.build_uuid
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.out_dir / "build.log"
        self.masker = Masker()
        self.log = AgentLogWriter(self.log_path, self.masker, echo=request.output.echo)
        self.executor = get_executor(
            request.executor.executor, **_executor_options(request.executor)
        )
        self.notes = [self.executor.isolation]
        self.cache = _cache_for(request, self.project)
        self.cache_results: dict[str, Any] = {}
        self.phases: list[PhaseResult] = [
            PhaseResult("SUBMITTED", "SUCCEEDED", self.submitted, self.submitted),
            PhaseResult("QUEUED", "SUCCEEDED", self.submitted, utcnow()),
        ]
        self.status = "SUCCEEDED"
        self.exported: dict[str, str] = {}
        self.artifacts: list[ArtifactResult] = []
        self.test_reports: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        self.summaries: list[TestReportSummary] = []
        self.workspace: Workspace | None = None
        self.runner: PhaseRunner | None = None
        self.env: dict[str, str] = {}
        self.source_info = git_source_info(self.source)
        self.deadline = PhaseRunner.monotonic_deadline(self.timeout_s)

    def run(self) -> ReplayResult:
        """Every step; Ctrl-C or the timeout still ends in a written log and a stored record."""
        with sigterm_as_interrupt():
            try:
                download = self.prepare_workspace()
                if self.resolve_environment(download):
                    self.run_phases()
            except KeyboardInterrupt:
                self.stop()
            finally:
                self.finalize()
        result = self.result()
        if self.request.output.store:
            result.stored = store_replay(
                self.request.output.db,
                build=result.record,
                log_path=self.log_path,
                reports=self.test_reports,
            )
        return result

    def prepare_workspace(self) -> PhaseResult:
        """PROVISIONING: the executor's environment with a copy of the source in it."""
        log = self.log
        provisioning = PhaseResult("PROVISIONING", "SUCCEEDED", utcnow())
        log.agent(f"Running on ciwb replay, executor {self.executor.name}", provisioning.start)
        log.agent(self.executor.isolation)
        self.phases.append(provisioning)
        exclude = [self.out_dir.resolve()]
        download = PhaseResult("DOWNLOAD_SOURCE", "SUCCEEDED", utcnow())
        self.workspace = workspace = self.executor.prepare(
            self.source, honour_gitignore=self.request.source.honour_gitignore, exclude=exclude
        )
        provisioning.end = download.start = utcnow()
        log.agent("Phase complete: PROVISIONING State: SUCCEEDED", provisioning.end)
        log.agent("Phase context status code:  Message: ")
        for note in workspace.notes:
            if note not in self.notes:
                self.notes.append(note)
                log.agent(note)
        log.agent(f"CODEBUILD_SRC_DIR={workspace.build_src}")
        self.phases.append(download)
        return download

    def resolve_environment(self, download: PhaseResult) -> bool:
        """DOWNLOAD_SOURCE: load the buildspec, resolve secrets, merge the environment.

        A bad YAML or a missing secret fails this phase (the build goes to FINALIZING).
        """
        log = self.log
        try:
            spec = self.load_buildspec()
            self.env = self.environment(spec)
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
            self.status = "FAILED"
            return False
        return True

    def load_buildspec(self) -> Buildspec:
        assert self.workspace is not None
        log = self.log
        path = locate_buildspec(self.workspace.host_src, self.request.source.buildspec)
        if self.spec is None:
            log.agent(f"YAML location is {path}")
            self.spec = load_buildspec(path)
            for warning in self.spec.warnings:
                log.agent(f"Warning: {warning}")
        spec = self.spec
        if spec.cache is not None and spec.cache.paths and self.cache is None:
            log.agent(
                f"cache: not restored or saved by this replay (paths: {', '.join(spec.cache.paths)})"
            )
        for user in {spec.run_as, *(p.run_as for p in spec.phases.values())} - {None}:
            self.workspace.transport.check_user(user)
        return spec

    def environment(self, spec: Buildspec) -> dict[str, str]:
        """The build's variables: image, buildspec, secrets, project, overrides, CODEBUILD_*."""
        assert self.workspace is not None
        request = self.request
        self.log.agent("Processing environment variables")
        secrets: dict[str, str] = {}
        if spec.env.parameter_store or spec.env.secrets_manager:
            if self.secrets is None:
                raise CiwbError(
                    "the buildspec uses parameter-store/secrets-manager",
                    hint="pass --secrets-file FILE or --resolve-secrets",
                )
            secrets = resolve_secrets(
                spec.env.parameter_store, spec.env.secrets_manager, self.secrets
            )
            for value in secrets.values():
                self.masker.add(value)
        codebuild = codebuild_variables(
            self.ident,
            src_dir=self.workspace.build_src,
            image=request.executor.image or self.workspace.image,
            log_path=self.build_uuid,
            source=self.source_info,
            initiator=f"ciwb-replay/{getpass.getuser()}",
            batch_identifier=request.build.batch_identifier,
        )
        return merge_environment(
            host=self.workspace.base_env,
            buildspec=spec.env.variables,
            secrets=secrets,
            project={},  # a replay has no project: nothing between buildspec and overrides
            overrides=self.overrides,
            codebuild=codebuild,
        )

    def run_phases(self) -> None:
        """INSTALL … UPLOAD_ARTIFACTS, with the cache restored before and saved after."""
        spec, workspace = self.spec, self.workspace
        assert spec is not None and workspace is not None

        def upload(expand: Any) -> None:
            self.artifacts.extend(
                _upload_artifacts(
                    spec,
                    workspace,
                    expand,
                    self.out_dir,
                    self.request.output.unpacked,
                    self.build_uuid,
                    self.log,
                )
            )

        self.runner = runner = PhaseRunner(
            spec,
            transport=workspace.transport,
            env=self.env,
            src_dir=workspace.build_src,
            log=self.log,
            deadline=self.deadline,
            upload=upload,
        )
        finished = threading.Event()
        if self.request.build.cancel is not None:
            _watch_cancel(self.request.build.cancel, runner, finished)
        cached = self.cache is not None and spec.cache is not None and bool(spec.cache.paths)
        if cached:
            self.cache_results["restore"] = _cache_restore(
                self.cache, spec, workspace, self.executor, self.env, self.log
            )
        try:
            outcome = runner.run()
        finally:
            finished.set()
        self.phases.extend(outcome.phases)
        self.status = outcome.status
        if cached:
            self.cache_results["save"] = _cache_save(
                self.cache, spec, workspace, self.executor, self.env, self.log, self.status
            )
        self.exported = {k: self.masker(v) for k, v in outcome.exported.items()}

    def stop(self) -> None:
        """Ctrl-C / SIGTERM: the running phase and the build end STOPPED."""
        self.status = "STOPPED"
        running = next((p for p in reversed(self.phases) if p.end is None), None)
        if running is not None:
            running.status, running.end = "STOPPED", utcnow()

    def finalize(self) -> None:
        """FINALIZING: close the shells, read the test reports, tear down; then COMPLETED."""
        log = self.log
        finalizing = PhaseResult("FINALIZING", "SUCCEEDED", log.agent("Entering phase FINALIZING"))
        if self.runner is not None:
            self.runner.close()
        self.collect_test_reports()
        if self.workspace is not None:
            self.executor.teardown(self.workspace, keep=self.request.executor.keep_workspace)
        finalizing.end = log.agent("Phase complete: FINALIZING State: SUCCEEDED")
        log.agent("Phase context status code:  Message: ")
        self.phases.append(finalizing)
        self.phases.append(PhaseResult("COMPLETED", "SUCCEEDED", finalizing.end))
        log.close()

    def collect_test_reports(self) -> None:
        spec, workspace, log = self.spec, self.workspace, self.log
        if spec is None or not spec.reports or workspace is None:
            return
        try:
            outcomes = build_test_reports(
                spec.reports,
                workspace.host_src,
                project=self.project,
                region=self.ident.region,
                account=self.ident.account,
                build_arn=self.ident.build_arn,
                created=utcnow(),
                on_problem=log.agent,
            )
        except CiwbError as exc:
            outcomes = []
            log.agent(f"Reports: {exc}")
        for item in outcomes:
            for problem in item.problems:
                log.agent(f"Report {item.report['name']}: {problem}")
            report = mask_record(item.report, self.masker)
            cases = mask_record(item.test_cases, self.masker)
            self.test_reports.append((report, cases))
            self.summaries.append(_summary(report, item.problems))

    def result(self) -> ReplayResult:
        """The build record (masked) and what the user is shown."""
        workspace = self.workspace
        container = workspace is not None and getattr(workspace, "container", None)
        record = mask_record(self.build_record(), self.masker)
        return ReplayResult(
            self.ident.build_id,
            self.ident.build_arn,
            self.status,
            self.phases,
            self.exported,
            self.artifacts,
            self.summaries,
            self.log_path,
            self.out_dir,
            record,
            self.notes,
            cache=self.cache_results,
            emulated=bool(container and workspace.info.emulated),  # type: ignore[union-attr]
            image_id=workspace.info.image_id if container else None,  # type: ignore[union-attr]
        )

    def build_record(self) -> dict[str, Any]:
        """The build as BatchGetBuilds would return it (origin replay; compute type only if known)."""
        request = self.request
        workspace, spec, ident = self.workspace, self.spec, self.ident
        reports, artifacts, exported = self.test_reports, self.artifacts, self.exported
        source_info = self.source_info
        env_type = request.build.environment_type or (
            workspace.environment_type if workspace else "LINUX_CONTAINER"
        )
        environment: dict[str, Any] = {
            "type": env_type,
            "image": request.executor.image or (workspace.image if workspace else "local"),
            "privilegedMode": False,
            "environmentVariables": [
                {"name": k, "value": v, "type": "PLAINTEXT"} for k, v in self.overrides.items()
            ],
        }
        compute_type = request.build.compute_type or (workspace.compute_type if workspace else None)
        if compute_type:
            # a local run has no CodeBuild compute type: none is recorded (so no price is
            # implied) unless a batch task, the caller or a container executor names one
            environment["computeType"] = compute_type
        record: dict[str, Any] = {
            "id": ident.build_id,
            "arn": ident.build_arn,
            "buildNumber": ident.build_number,
            "startTime": self.submitted,
            "endTime": self.phases[-1].start,
            "currentPhase": "COMPLETED",
            "buildStatus": self.status,
            "sourceVersion": source_info.get("version"),
            "resolvedSourceVersion": source_info.get("resolved"),
            "projectName": ident.project,
            "phases": phase_records(self.phases),
            "source": {
                "type": "NO_SOURCE",
                "location": str(self.source),
                "buildspec": request.source.buildspec or "buildspec.yml",
            },
            "environment": environment,
            "serviceRole": arns.role_arn(ident.account, "ciwb-replay"),
            "logs": {
                "deepLink": self.log_path.resolve().as_uri(),
                "cloudWatchLogs": {"status": "DISABLED"},
            },
            "timeoutInMinutes": max(1, int(-(-self.timeout_s // 60))) if self.timeout_s else 60,
            "queuedTimeoutInMinutes": 480,
            "buildComplete": True,
            "initiator": f"ciwb-replay/{getpass.getuser()}",
            "exportedEnvironmentVariables": [{"name": k, "value": v} for k, v in exported.items()],
            "reportArns": [r["arn"] for r, _ in reports],
        }
        if request.build.batch_arn:
            record["buildBatchArn"] = request.build.batch_arn
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
            kind = {"s3": "S3", "local": "LOCAL"}.get(request.cache.cache, "NO_CACHE")
            record["cache"] = {"type": kind}
            if kind == "S3" and request.cache.location:
                record["cache"]["location"] = request.cache.location.removeprefix("s3://")
            if kind == "LOCAL":
                record["cache"]["modes"] = ["LOCAL_CUSTOM_CACHE"]
        return record


def run_replay(request: ReplayOptions, spec: Buildspec | None = None) -> ReplayResult:
    """Run one build of `request.source.source` and store it with origin='replay'."""
    return Replay(request, spec).run()


def _watch_cancel(event: threading.Event, runner: PhaseRunner, finished: threading.Event) -> None:
    """Fast-fail: when a sibling build fails, kill this build's shells (it ends STOPPED)."""

    def watch() -> None:
        while not finished.is_set():
            if event.wait(0.2):
                runner.cancel()
                return

    threading.Thread(target=watch, daemon=True).start()


def _upload_artifacts(
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


def _summary(report: dict[str, Any], problems: list[str]) -> TestReportSummary:
    tests = report.get("testSummary") or {}
    cov = report.get("codeCoverageSummary") or {}
    return TestReportSummary(
        report["name"],
        report["type"],
        report.get("status", ""),
        tests.get("total"),
        dict(tests.get("statusCounts") or {}),
        cov.get("lineCoveragePercentage"),
        cov.get("branchCoveragePercentage"),
        problems,
    )


# ---- executor options and the build cache (restore before INSTALL, save after the build)


def _executor_options(options: ExecutorOptions) -> dict[str, Any]:
    if options.executor == "docker":
        return {
            "arch": options.arch,
            "compute": options.compute or "small",
            "image": options.image,
            "privileged": options.privileged,
        }
    if options.arch:
        from ciwb.images.host import host_arch, normalise_arch

        if normalise_arch(options.arch) != host_arch():
            raise CiwbError(
                f"the {options.executor} executor runs on this {host_arch()} host; "
                f"{options.arch} was asked for",
                hint="use --executor docker --arch ...",
            )
    return {}


def _cache_for(request: ReplayOptions, project: str) -> Any:
    cache, environment = request.cache, request.environment
    if cache.cache == "none":
        return None
    from ciwb.replay.cache import get_cache

    return get_cache(
        cache.cache,
        project=request.build.cache_project or project,
        **cache.strategy_options(profile=environment.profile, region=environment.region),
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
