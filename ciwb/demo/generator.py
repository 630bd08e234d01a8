"""A seeded, deterministic generator of realistic CodeBuild history in boto3's exact shapes.

Everything it emits is what `BatchGetProjects`, `BatchGetBuilds`, `BatchGetBuildBatches`,
`BatchGetReports`, `DescribeTestCases`, `GetMetricData` and `GetLogEvents` return (the last
for the builds of the last `log_days`, see `ciwb.demo.logs`), so demo data travels the
same normalisation path as collected data (docs/design.md, "Collect"). Timestamps are aware UTC
datetimes, as boto3 gives them.

What is planted (see `PlantedFacts`): x86 and arm64 projects across all compute sizes, two
x86 → arm64 moves, lognormal phase durations, weekday/hour load with queue spikes, failures
concentrated in particular phases with CodeBuild's context codes, cache projects whose INSTALL
is bimodal and misses more after idle gaps over 15 minutes, a BUILD regression from a known
date, a monorepo with batch builds (a build graph), flaky tests, per-build utilisation with
over- and under-provisioned projects, and per-project commands whose slowest is the test or
compile step and whose failing one is the command the phase's context message names.
"""

from __future__ import annotations

import gc
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ciwb.codebuild import arns
from ciwb.codebuild.phases import COMMAND_PHASES, FAILURE_TRANSITIONS, PHASE_ORDER, next_in_order
from ciwb.codebuild.shapes import container_environment, shape_of
from ciwb.demo.catalogue import (
    BATCH_GRAPH,
    FAILURE_CONTEXTS,
    FLAKY_TESTS,
    IMAGES,
    PROJECT_COMMANDS,
    PROJECTS,
    RUNTIMES,
    ProjectSpec,
    failing_command,
)
from ciwb.demo.logs import DemoLogStream, agent_log_events
from ciwb.demo.planted import (
    PlantedBatchGraph,
    PlantedCache,
    PlantedFacts,
    PlantedFlakyTest,
    PlantedRegression,
    PlantedSwitch,
)

__all__ = ["DEFAULT_END", "DemoConfig", "DemoHistory", "DemoMetric", "generate"]

DEFAULT_END = datetime(2026, 11, 23, tzinfo=UTC)
IDLE_EXPIRY_MIN = 15.0  # AWS's local cache is reported wiped after ~15 idle minutes
MISS_P_WARM, MISS_P_IDLE = 0.08, 0.85
# test reports are kept 30 days (docs/reference/codebuild-facts.md, "API")
REPORT_RETENTION_DAYS = 30
# Log retention is a per-log-group setting (CloudWatch Logs offers 1, 3, 5, 7, 14, 30 … days);
# the demo's groups keep 7 days, which keeps the log events' share of `make demo` near 5 %
# (benchmarks/demo_logs.py). `DemoConfig(log_days=…)` asks for more.
LOG_RETENTION_DAYS = 7

METRICS = (
    "CPUUtilized",
    "CPUUtilizedPercent",
    "MemoryUtilized",
    "MemoryUtilizedPercent",
    "StorageReadBytes",
    "StorageWriteBytes",
)
# The phases the generator draws durations for after PROVISIONING, in order.
_BUILD_PHASE_ORDER = PHASE_ORDER[
    PHASE_ORDER.index("DOWNLOAD_SOURCE") : PHASE_ORDER.index("FINALIZING")
]
_TESTS_PER_SUITE = {
    "node": ("app.spec.ts", "api.spec.ts", "cart.spec.ts", "checkout.spec.ts", "search.spec.ts"),
    "java": ("com.example.api.OrderControllerIT", "com.example.api.UserServiceTest"),
    "go": ("ledger_test", "transfer_test", "audit_test"),
}


@dataclass(frozen=True)
class DemoConfig:
    builds: int = 50_000
    seed: int = 7
    days: int = 90
    end: datetime = DEFAULT_END
    log_days: int = LOG_RETENTION_DAYS  # builds of the last log_days have agent logs (0: none)


@dataclass(frozen=True)
class DemoMetric:
    """One GetMetricData result for one build, with the query it answered."""

    build_arn: str
    metric_name: str
    period_s: int
    result: dict[str, Any]  # a MetricDataResult: Id, Label, Timestamps, Values, StatusCode


@dataclass
class DemoHistory:
    config: DemoConfig
    projects: list[dict[str, Any]] = field(default_factory=list)
    builds: list[dict[str, Any]] = field(default_factory=list)
    build_batches: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    test_cases: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[DemoMetric] = field(default_factory=list)
    log_streams: list[DemoLogStream] = field(default_factory=list)
    planted: PlantedFacts | None = None


def _ms(dt: datetime) -> datetime:
    """Millisecond precision, as CodeBuild's timestamps have."""
    micro = dt.microsecond % 1000
    return dt - timedelta(microseconds=micro) if micro else dt


class _Gen:
    def __init__(self, config: DemoConfig) -> None:
        self.cfg = config
        self.rng = random.Random(config.seed)
        # Logs draw from their own stream, so adding them changed no other record.
        self.log_rng = random.Random(f"logs-{config.seed}")
        # A naive end is taken as UTC, as everywhere in ciwb.
        self.end = config.end if config.end.tzinfo else config.end.replace(tzinfo=UTC)
        self.logs_since = self.end - timedelta(days=config.log_days)
        self.start = self.end - timedelta(days=config.days)
        self.history = DemoHistory(config)
        self.queue_spikes = self._queue_spikes()
        self.in_progress = 0
        self._metric_id = 0
        self._shared: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ helpers
    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def sha(self) -> str:
        return f"{self.rng.getrandbits(160):040x}"

    def lognormal(self, median: float, sigma: float) -> float:
        return median * math.exp(self.rng.gauss(0.0, sigma))

    def _queue_spikes(self) -> list[tuple[datetime, datetime]]:
        weekdays = [
            self.start + timedelta(days=d)
            for d in range(self.cfg.days)
            if (self.start + timedelta(days=d)).weekday() < 5
        ]
        days = sorted(self.rng.sample(weekdays, k=min(8, len(weekdays))))
        return [
            (
                d.replace(hour=10, minute=0, second=0, microsecond=0),
                d.replace(hour=11, minute=30, second=0, microsecond=0),
            )
            for d in days
        ]

    def _in_spike(self, t: datetime) -> bool:
        return any(a <= t < b for a, b in self.queue_spikes)

    def arrival_times(self, n: int) -> list[datetime]:
        """Weekday and hour-of-day shaped arrivals by rejection sampling."""
        span = (self.end - self.start).total_seconds()
        out: list[datetime] = []
        rng = self.rng
        while len(out) < n:
            t = self.start + timedelta(seconds=rng.random() * span)
            weight = (1.0 if t.weekday() < 5 else 0.18) * (1.0 if 7 <= t.hour < 19 else 0.12)
            if rng.random() < weight:
                out.append(t)
        out.sort()
        return out

    # ------------------------------------------------------------------ projects
    def project_record(self, spec: ProjectSpec, env_type: str, compute: str) -> dict[str, Any]:
        arn = arns.project_arn(spec.region, spec.account, spec.name)
        created = self.start - timedelta(days=200 + self.rng.randint(0, 400))
        record: dict[str, Any] = {
            "name": spec.name,
            "arn": arn,
            "description": f"{spec.name} ({spec.language})",
            "source": {
                "type": "GITHUB",
                "location": f"https://github.com/example/{spec.name}.git",
                "gitCloneDepth": 1,
                "buildspec": "buildspec.yml",
                "reportBuildStatus": True,
                "insecureSsl": False,
            },
            "sourceVersion": "refs/heads/main",
            "artifacts": {
                "type": "S3",
                "location": f"example-artifacts-{spec.account}",
                "name": spec.name,
                "packaging": "ZIP",
            },
            "cache": self._cache_block(spec),
            "environment": {
                "type": env_type,
                "image": IMAGES[env_type],
                "computeType": compute,
                "environmentVariables": [{"name": "APP_ENV", "value": "ci", "type": "PLAINTEXT"}],
                "privilegedMode": spec.name in ("api-service", "legacy-monolith"),
                "imagePullCredentialsType": "CODEBUILD",
            },
            "serviceRole": arns.role_arn(spec.account, f"codebuild-{spec.name}"),
            "timeoutInMinutes": 180 if spec.name == "ml-training" else 60,
            "queuedTimeoutInMinutes": 480,
            "encryptionKey": arns.default_kms_key_arn(spec.region, spec.account),
            "tags": [{"key": "team", "value": spec.language}],
            "created": created,
            "lastModified": created + timedelta(days=100),
            "badge": {"badgeEnabled": False},
            "logsConfig": {
                "cloudWatchLogs": {"status": "ENABLED"},
                "s3Logs": {"status": "DISABLED", "encryptionDisabled": False},
            },
            "projectVisibility": "PRIVATE",
        }
        if spec.batch:
            record["buildBatchConfig"] = {
                "serviceRole": record["serviceRole"],
                "combineArtifacts": False,
                "restrictions": {
                    "maximumBuildsAllowed": 20,
                    "computeTypesAllowed": sorted({c for _, c, _ in BATCH_GRAPH.values()}),
                },
                "timeoutInMins": 120,
                "batchReportMode": "REPORT_AGGREGATED_BATCH",
            }
        return record

    @staticmethod
    def _cache_block(spec: ProjectSpec) -> dict[str, Any]:
        if spec.cache == "LOCAL":
            return {"type": "LOCAL", "modes": ["LOCAL_CUSTOM_CACHE", "LOCAL_SOURCE_CACHE"]}
        if spec.cache == "S3":
            return {"type": "S3", "location": f"example-cache-{spec.account}/{spec.name}"}
        return {"type": "NO_CACHE"}

    # ------------------------------------------------------------------ one build
    def phases_for(
        self,
        spec: ProjectSpec,
        t0: datetime,
        *,
        arch: str,
        gap_min: float | None,
        build_scale: float = 1.0,
        fail_phase: str | None,
        lambda_compute: bool,
    ) -> tuple[list[tuple[str, float, str, tuple[str, str] | None]], dict[str, Any]]:
        """Phase plan: (type, seconds, status, (code, message) or None) in order."""
        rng = self.rng
        meta: dict[str, Any] = {"cache_hit": None}
        plan: list[tuple[str, float, str, tuple[str, str] | None]] = []
        plan.append(("SUBMITTED", rng.uniform(0.3, 1.4), "SUCCEEDED", None))
        spike = not lambda_compute and spec.region == "us-east-1" and self._in_spike(t0)
        queued = self.lognormal(300.0, 0.6) if spike else self.lognormal(1.8, 0.6)
        plan.append(("QUEUED", queued, "SUCCEEDED", None))
        provisioning = (
            self.lognormal(1.2, 0.3)
            if lambda_compute
            else self.lognormal(27.0 if arch == "x86_64" else 31.0, 0.25)
        )
        day = (t0 - self.start).days
        arm_factor = (
            spec.arm_speed_factor if (arch == "arm64" and spec.switch_day is not None) else 1.0
        )
        for phase in ("PROVISIONING", *_BUILD_PHASE_ORDER):
            if phase == "PROVISIONING":
                seconds = provisioning
            elif phase == "INSTALL" and spec.cache != "NO_CACHE":
                p_miss = (
                    MISS_P_IDLE if (gap_min is None or gap_min > IDLE_EXPIRY_MIN) else MISS_P_WARM
                )
                hit = rng.random() >= p_miss
                meta["cache_hit"] = hit
                seconds = self.lognormal(spec.install_hit_s if hit else spec.install_miss_s, 0.18)
            else:
                median, sigma = spec.phases.get(phase, (1.0, 0.3))
                seconds = self.lognormal(median, sigma)
            # The buildspec phases scale with the CPU (an arm switch or a regression moves them).
            if phase in COMMAND_PHASES:
                seconds *= arm_factor or 1.0
            if phase == "BUILD":
                seconds *= build_scale
                if spec.regression_day is not None and day >= spec.regression_day:
                    seconds *= spec.regression_factor or 1.0
            if phase == fail_phase:
                status, code, message = rng.choice(FAILURE_CONTEXTS[phase])
                culprit = failing_command(spec.name, phase)
                message = message.format(
                    project=spec.name,
                    command=culprit.text if culprit else "",
                    status=culprit.exit_status if culprit else 1,
                )
                plan.append((phase, seconds * rng.uniform(0.15, 1.0), status, (code, message)))
                # What runs after a failure
                # (docs/reference/buildspec-semantics.md, "Phase transitions"):
                # BUILD → POST_BUILD → UPLOAD_ARTIFACTS; POST_BUILD → UPLOAD_ARTIFACTS; every
                # earlier phase (and PROVISIONING, which the table leaves out) → FINALIZING.
                after = FAILURE_TRANSITIONS.get(phase, "FINALIZING")
                while after != "FINALIZING":
                    median, sigma = spec.phases.get(after, (1.0, 0.3))
                    plan.append((after, self.lognormal(median, sigma), "SUCCEEDED", None))
                    after = next_in_order(after)
                break
            plan.append((phase, seconds, "SUCCEEDED", None))
        plan.append(("FINALIZING", self.lognormal(2.0, 0.4), "SUCCEEDED", None))
        return plan, meta

    def build_record(
        self,
        spec: ProjectSpec,
        project_arn: str,
        number: int,
        t0: datetime,
        plan: list[tuple[str, float, str, tuple[str, str] | None]],
        *,
        env_type: str,
        compute: str,
        source_sha: str,
        initiator: str,
        batch_arn: str | None = None,
        batch_identifier: str | None = None,
        report_arns: list[str] | None = None,
        terminal: str | None = None,
    ) -> dict[str, Any]:
        build_uuid = self.uuid()
        build_id = arns.build_id(spec.name, build_uuid)
        arn = arns.build_arn(spec.region, spec.account, build_id)
        phases: list[dict[str, Any]] = []
        t = _ms(t0)
        status = "SUCCEEDED"
        current = "COMPLETED"
        complete = True
        for phase, seconds, p_status, ctx in plan:
            p_end = _ms(t + timedelta(seconds=seconds))
            if p_end > self.end:
                # Still running at the end of the window: an in-progress build.
                phases.append({"phaseType": phase, "phaseStatus": "IN_PROGRESS", "startTime": t})
                status, current, complete = "IN_PROGRESS", phase, False
                break
            entry: dict[str, Any] = {
                "phaseType": phase,
                "phaseStatus": p_status,
                "startTime": t,
                "endTime": p_end,
                "durationInSeconds": int((p_end - t).total_seconds()),
            }
            if phase != "SUBMITTED":
                entry["contexts"] = [
                    {"statusCode": ctx[0], "message": ctx[1]}
                    if ctx
                    else {"statusCode": "", "message": ""}
                ]
            phases.append(entry)
            if p_status != "SUCCEEDED" and status == "SUCCEEDED":
                status = p_status
            t = p_end
        if complete:
            phases.append({"phaseType": "COMPLETED", "startTime": t})
        env: dict[str, Any] = {
            "type": env_type,
            "image": IMAGES[env_type],
            "computeType": compute,
            "environmentVariables": [{"name": "APP_ENV", "value": "ci", "type": "PLAINTEXT"}],
            "privilegedMode": spec.name in ("api-service", "legacy-monolith"),
            "imagePullCredentialsType": "CODEBUILD",
        }
        if batch_identifier:
            env["environmentVariables"].append(
                {
                    "name": "CODEBUILD_BATCH_BUILD_IDENTIFIER",
                    "value": batch_identifier,
                    "type": "PLAINTEXT",
                }
            )
        group = f"/aws/codebuild/{spec.name}"
        shared = self._shared_blocks(spec)
        record: dict[str, Any] = {
            "id": build_id,
            "arn": arn,
            "buildNumber": number,
            "startTime": _ms(t0),
            "currentPhase": current,
            "buildStatus": status,
            "sourceVersion": "refs/heads/main",
            "resolvedSourceVersion": source_sha,
            "projectName": spec.name,
            "phases": phases,
            "source": shared["source"],
            "secondarySources": [],
            "secondarySourceVersions": [],
            "artifacts": shared["artifacts"],
            "cache": shared["cache"],
            "environment": env,
            "serviceRole": arns.role_arn(spec.account, f"codebuild-{spec.name}"),
            "logs": {
                "groupName": group,
                "streamName": build_uuid,
                "deepLink": (
                    f"https://console.aws.amazon.com/cloudwatch/home?region={spec.region}"
                    f"#logEvent:group={group};stream={build_uuid}"
                ),
                "cloudWatchLogsArn": (
                    f"arn:aws:logs:{spec.region}:{spec.account}:log-group:{group}:"
                    f"log-stream:{build_uuid}"
                ),
                "cloudWatchLogs": {"status": "ENABLED"},
                "s3Logs": {"status": "DISABLED", "encryptionDisabled": False},
            },
            "timeoutInMinutes": 180 if spec.name == "ml-training" else 60,
            "queuedTimeoutInMinutes": 480,
            "buildComplete": complete,
            "initiator": initiator,
            "encryptionKey": arns.default_kms_key_arn(spec.region, spec.account),
            "fileSystemLocations": [],
        }
        if complete:
            record["endTime"] = t
        else:
            self.in_progress += 1
        if batch_arn:
            record["buildBatchArn"] = batch_arn
        if report_arns and complete:
            record["reportArns"] = report_arns
        return record

    def _shared_blocks(self, spec: ProjectSpec) -> dict[str, Any]:
        """Sub-records identical for every build of a project, built once and shared.

        The emitted records are read-only by contract; sharing keeps 200k-build runs fast.
        """
        blocks = self._shared.get(spec.name)
        if blocks is None:
            blocks = self._shared[spec.name] = {
                "source": {
                    "type": "GITHUB",
                    "location": f"https://github.com/example/{spec.name}.git",
                    "gitCloneDepth": 1,
                    "buildspec": "buildspec.yml",
                    "reportBuildStatus": True,
                    "insecureSsl": False,
                },
                "artifacts": {
                    "location": f"arn:aws:s3:::example-artifacts-{spec.account}/{spec.name}"
                },
                "cache": self._cache_block(spec),
            }
        return blocks

    # ------------------------------------------------------------------ metrics
    def metrics_for(
        self, spec: ProjectSpec, record: dict[str, Any], arch: str, compute: str
    ) -> None:
        shape = shape_of(container_environment(arch), compute)
        if not record["buildComplete"] or shape is None or shape.vcpu is None:
            return
        start, end = record["startTime"], record["endTime"]
        seconds = (end - start).total_seconds()
        if seconds < 60:  # utilisation metrics exist only for builds over a minute
            return
        age_days = (self.end - start).total_seconds() / 86400
        # CloudWatch keeps 1-minute data 15 days, 5-minute 63 days, 1-hour 455 days.
        period = 60 if age_days < 15 else 300 if age_days < 63 else 3600
        points = max(1, math.ceil(seconds / period))
        vcpu, mem_gb = shape.vcpu, shape.memory_gb
        rng = self.rng
        cpu_level = min(99.0, spec.cpu_pct * math.exp(rng.gauss(0, 0.12)))
        mem_level = min(99.0, spec.mem_pct * math.exp(rng.gauss(0, 0.10)))
        read_level = self.lognormal(2.0e6, 0.5)
        write_level = self.lognormal(1.5e6, 0.5)
        stamps = [_ms(start + timedelta(seconds=period * i)) for i in range(points)]
        cpu_pct = [min(100.0, max(0.5, cpu_level * rng.uniform(0.75, 1.2))) for _ in stamps]
        mem_pct = [min(100.0, max(0.5, mem_level * rng.uniform(0.85, 1.1))) for _ in stamps]
        series = {
            "CPUUtilizedPercent": cpu_pct,
            # CPU units as ECS counts them (1024 per vCPU); unverified for CodeBuild, and the
            # cost model uses the *Percent metrics only.
            "CPUUtilized": [p / 100 * vcpu * 1024 for p in cpu_pct],
            "MemoryUtilizedPercent": mem_pct,
            "MemoryUtilized": [p / 100 * mem_gb * 1024 for p in mem_pct],
            "StorageReadBytes": [read_level * rng.uniform(0.3, 1.7) for _ in stamps],
            "StorageWriteBytes": [write_level * rng.uniform(0.3, 1.7) for _ in stamps],
        }
        for name in METRICS:
            self._metric_id += 1
            self.history.metrics.append(
                DemoMetric(
                    record["arn"],
                    name,
                    period,
                    {
                        "Id": f"m{self._metric_id}",
                        "Label": name,
                        "Timestamps": stamps,
                        "Values": series[name],
                        "StatusCode": "Complete",
                    },
                )
            )

    # ------------------------------------------------------------------ logs
    def log_stream_for(self, spec: ProjectSpec, record: dict[str, Any]) -> None:
        """The build's CloudWatch log, for builds started within the log groups' retention."""
        if self.cfg.log_days <= 0 or record["startTime"] < self.logs_since:
            return
        events = agent_log_events(
            record, runtime=RUNTIMES.get(spec.language), rng=self.log_rng, window_end=self.end
        )
        if events:
            logs = record["logs"]
            self.history.log_streams.append(
                DemoLogStream(record["arn"], logs["groupName"], logs["streamName"], events)
            )

    # ------------------------------------------------------------------ reports
    def test_names(self, spec: ProjectSpec) -> list[tuple[str, str]]:
        suites = _TESTS_PER_SUITE.get(spec.language, ("unit",))
        names = [
            (suite, f"test_{i:02d}_{suite.split('.')[0].lower()}")
            for suite in suites
            for i in range(3)
        ]
        names += [(suite, name) for project, suite, name, _ in FLAKY_TESTS if project == spec.name]
        return names

    def report_for(
        self,
        spec: ProjectSpec,
        build_arn: str,
        created: datetime,
        results: list[tuple[str, str, str]],
    ) -> str:
        group = f"{spec.name}-unit-tests"
        report_uuid = self.uuid()
        arn = arns.report_arn(spec.region, spec.account, group, report_uuid)
        counts: dict[str, int] = {}
        total_ns = 0
        for suite, name, status in results:
            counts[status] = counts.get(status, 0) + 1
            duration_ns = int(self.lognormal(0.8, 0.7) * 1e9)
            total_ns += duration_ns
            case: dict[str, Any] = {
                "reportArn": arn,
                "testRawDataPath": f"s3://example-reports-{spec.account}/{spec.name}/{report_uuid}/junit.xml",
                "prefix": suite,
                "name": name,
                "status": status,
                "durationInNanoSeconds": duration_ns,
                "expired": created + timedelta(days=REPORT_RETENTION_DAYS),
                "testSuiteName": suite,
            }
            if status == "FAILED":
                case["message"] = f"AssertionError: {name} failed\n    at {suite}:42"
            self.history.test_cases.append(case)
        self.history.reports.append(
            {
                "arn": arn,
                "type": "TEST",
                "name": group,
                "reportGroupArn": arns.report_group_arn(spec.region, spec.account, group),
                "executionId": build_arn,
                "status": "FAILED" if counts.get("FAILED") else "SUCCEEDED",
                "created": created,
                "expired": created + timedelta(days=REPORT_RETENTION_DAYS),
                "exportConfig": {"exportConfigType": "NO_EXPORT"},
                "truncated": False,
                "testSummary": {
                    "total": len(results),
                    "statusCounts": counts,
                    "durationInNanoSeconds": total_ns,
                },
            }
        )
        return arn

    def coverage_report(self, spec: ProjectSpec, build_arn: str, created: datetime) -> str:
        group = f"{spec.name}-coverage"
        arn = arns.report_arn(spec.region, spec.account, group, self.uuid())
        lines_total = 18_000
        line_pct = min(99.0, max(40.0, self.rng.gauss(81.0, 1.5)))
        branch_pct = min(99.0, max(30.0, line_pct - 9 + self.rng.gauss(0, 1.0)))
        covered = int(lines_total * line_pct / 100)
        self.history.reports.append(
            {
                "arn": arn,
                "type": "CODE_COVERAGE",
                "name": group,
                "reportGroupArn": arns.report_group_arn(spec.region, spec.account, group),
                "executionId": build_arn,
                "status": "SUCCEEDED",
                "created": created,
                "expired": created + timedelta(days=REPORT_RETENTION_DAYS),
                "exportConfig": {"exportConfigType": "NO_EXPORT"},
                "truncated": False,
                "codeCoverageSummary": {
                    "lineCoveragePercentage": round(line_pct, 2),
                    "linesCovered": covered,
                    "linesMissed": lines_total - covered,
                    "branchCoveragePercentage": round(branch_pct, 2),
                    "branchesCovered": int(4000 * branch_pct / 100),
                    "branchesMissed": 4000 - int(4000 * branch_pct / 100),
                },
            }
        )
        return arn

    # ------------------------------------------------------------------ per project
    def env_at(self, spec: ProjectSpec, t: datetime) -> tuple[str, str, str]:
        """(environment type, compute type, arch) in force at time t."""
        if spec.switch_day is not None and t >= self.start + timedelta(days=spec.switch_day):
            return "ARM_CONTAINER", spec.switch_to_compute or spec.compute_type, "arm64"
        arm = spec.environment_type in ("ARM_CONTAINER", "ARM_LAMBDA_CONTAINER")
        return spec.environment_type, spec.compute_type, "arm64" if arm else "x86_64"

    def pick_failure(self, spec: ProjectSpec) -> str | None:
        if self.rng.random() >= spec.failure_rate:
            return None
        phases, weights = zip(*spec.failure_phases.items(), strict=True)
        return self.rng.choices(phases, weights=weights)[0]

    def initiator(self) -> str:
        r = self.rng.random()
        if r < 0.7:
            return f"GitHub-Hookshot/{self.rng.getrandbits(28):07x}"
        if r < 0.9:
            return "codepipeline/release-pipeline"
        return self.rng.choice(("user/alice", "user/bob", "user/carol"))

    def project(self, spec: ProjectSpec, n_builds: int) -> None:
        env_type, compute, _ = self.env_at(spec, self.end)
        project = self.project_record(spec, env_type, compute)
        self.history.projects.append(project)
        if spec.batch:
            self.batch_project(spec, project["arn"], n_builds)
            return
        lambda_compute = "LAMBDA" in spec.environment_type
        reports_since = self.end - timedelta(days=REPORT_RETENTION_DAYS)
        flaky = [(s, n, p) for proj, s, n, p in FLAKY_TESTS if proj == spec.name]
        test_names = self.test_names(spec) if spec.reports else []
        prev_end: datetime | None = None
        retry_sha: str | None = None
        for number, t0 in enumerate(self.arrival_times(n_builds), start=1):
            env_type, compute, arch = self.env_at(spec, t0)
            gap = (t0 - prev_end).total_seconds() / 60 if prev_end else None
            fail = self.pick_failure(spec)
            # Tests decide BUILD's fate in projects with reports: flaky ones fail at random.
            results: list[tuple[str, str, str]] = []
            flaky_failed = False
            if spec.reports and fail in (None, "BUILD"):
                broken = self.rng.choice(test_names) if fail == "BUILD" else None
                for suite, name in test_names:
                    status = "SUCCEEDED"
                    p_flaky = next((p for s, n, p in flaky if (s, n) == (suite, name)), 0.0)
                    if (suite, name) == broken or self.rng.random() < p_flaky:
                        status = "FAILED"
                        flaky_failed = flaky_failed or (suite, name) != broken
                    results.append((suite, name, status))
                if flaky_failed:
                    fail = "BUILD"
            plan, _meta = self.phases_for(
                spec, t0, arch=arch, gap_min=gap, fail_phase=fail, lambda_compute=lambda_compute
            )
            sha = retry_sha or self.sha()
            report_arns = None
            if spec.reports and results and t0 >= reports_since:
                build_arn_placeholder = "__ARN__"
                report_arns = [build_arn_placeholder]
            record = self.build_record(
                spec,
                project["arn"],
                number,
                t0,
                plan,
                env_type=env_type,
                compute=compute,
                source_sha=sha,
                initiator=self.initiator(),
                report_arns=report_arns,
            )
            if report_arns and record["buildComplete"]:
                build_phase = next(p for p in record["phases"] if p["phaseType"] == "BUILD")
                made = [self.report_for(spec, record["arn"], build_phase["endTime"], results)]
                if spec.coverage:
                    made.append(self.coverage_report(spec, record["arn"], build_phase["endTime"]))
                record["reportArns"] = made
            self.history.builds.append(record)
            self.metrics_for(spec, record, arch, compute)
            self.log_stream_for(spec, record)
            prev_end = record.get("endTime") or prev_end
            # A build that failed only on a flaky test is usually retried on the same commit.
            retry_sha = sha if (flaky_failed and self.rng.random() < 0.8) else None

    def batch_project(self, spec: ProjectSpec, project_arn: str, n_builds: int) -> None:
        # A failed child cancels its dependents, so plan a few more batches than builds/6.
        n_batches = max(1, math.ceil(n_builds * 1.12 / len(BATCH_GRAPH)))
        number = 0
        for batch_number, t0 in enumerate(self.arrival_times(n_batches), start=1):
            batch_uuid = self.uuid()
            batch_id = arns.build_id(spec.name, batch_uuid)
            batch_arn = arns.batch_arn(spec.region, spec.account, batch_id)
            sha = self.sha()
            initiator = self.initiator()
            t_spec = _ms(t0 + timedelta(seconds=self.rng.uniform(0.5, 1.5)))
            t_run = _ms(t_spec + timedelta(seconds=self.lognormal(4.0, 0.3)))
            ends: dict[str, datetime] = {}
            groups: list[dict[str, Any]] = []
            failed = False
            for identifier, (deps, compute, scale) in BATCH_GRAPH.items():
                group: dict[str, Any] = {
                    "identifier": identifier,
                    "dependsOn": list(deps),
                    "ignoreFailure": False,
                }
                if any(d not in ends for d in deps) or failed and deps:
                    groups.append(group)  # a dependency failed: this child never started
                    continue
                child_t0 = max([t_run, *[ends[d] for d in deps]]) + timedelta(
                    seconds=self.rng.uniform(0.5, 3.0)
                )
                fail = self.pick_failure(spec) if identifier != "lint" else None
                plan, _ = self.phases_for(
                    spec,
                    child_t0,
                    arch="x86_64",
                    gap_min=None,
                    build_scale=scale,
                    fail_phase=fail,
                    lambda_compute=False,
                )
                number += 1
                record = self.build_record(
                    spec,
                    project_arn,
                    number,
                    child_t0,
                    plan,
                    env_type="LINUX_CONTAINER",
                    compute=compute,
                    source_sha=sha,
                    initiator=batch_id,
                    batch_arn=batch_arn,
                    batch_identifier=identifier,
                )
                self.history.builds.append(record)
                self.metrics_for(spec, record, "x86_64", compute)
                self.log_stream_for(spec, record)
                group["currentBuildSummary"] = {
                    "arn": record["arn"],
                    "requestedOn": record["startTime"],
                    "buildStatus": record["buildStatus"],
                }
                groups.append(group)
                if not record["buildComplete"]:
                    failed = True
                    continue
                if record["buildStatus"] != "SUCCEEDED":
                    failed = True
                ends[identifier] = record["endTime"]
            self.history.build_batches.append(
                self.batch_record(
                    spec,
                    batch_id,
                    batch_arn,
                    batch_number,
                    t0,
                    t_spec,
                    t_run,
                    ends,
                    groups,
                    failed,
                    sha,
                    initiator,
                )
            )

    def batch_record(
        self,
        spec: ProjectSpec,
        batch_id: str,
        batch_arn: str,
        batch_number: int,
        t0: datetime,
        t_spec: datetime,
        t_run: datetime,
        ends: dict[str, datetime],
        groups: list[dict[str, Any]],
        failed: bool,
        sha: str,
        initiator: str,
    ) -> dict[str, Any]:
        statuses = [g.get("currentBuildSummary", {}).get("buildStatus") for g in groups]
        running = "IN_PROGRESS" in statuses
        phases: list[dict[str, Any]] = [
            {
                "phaseType": "SUBMITTED",
                "phaseStatus": "SUCCEEDED",
                "startTime": _ms(t0),
                "endTime": t_spec,
                "durationInSeconds": int((t_spec - _ms(t0)).total_seconds()),
            },
            {
                "phaseType": "DOWNLOAD_BATCHSPEC",
                "phaseStatus": "SUCCEEDED",
                "startTime": t_spec,
                "endTime": t_run,
                "durationInSeconds": int((t_run - t_spec).total_seconds()),
            },
        ]
        record: dict[str, Any] = {
            "id": batch_id,
            "arn": batch_arn,
            "startTime": _ms(t0),
            "sourceVersion": "refs/heads/main",
            "resolvedSourceVersion": sha,
            "projectName": spec.name,
            "source": {"type": "GITHUB", "location": f"https://github.com/example/{spec.name}.git"},
            "environment": {
                "type": "LINUX_CONTAINER",
                "image": IMAGES["LINUX_CONTAINER"],
                "computeType": spec.compute_type,
            },
            "serviceRole": arns.role_arn(spec.account, f"codebuild-{spec.name}"),
            "buildTimeoutInMinutes": 60,
            "queuedTimeoutInMinutes": 480,
            "initiator": initiator,
            "buildBatchNumber": batch_number,
            "buildGroups": groups,
        }
        if running:
            phases.append(
                {"phaseType": "IN_PROGRESS", "phaseStatus": "IN_PROGRESS", "startTime": t_run}
            )
            record.update(
                currentPhase="IN_PROGRESS", buildBatchStatus="IN_PROGRESS", complete=False
            )
        else:
            done = max([t_run, *ends.values()])
            combined = _ms(done + timedelta(seconds=self.lognormal(3.0, 0.3)))
            final = "FAILED" if failed else "SUCCEEDED"
            phases += [
                {
                    "phaseType": "IN_PROGRESS",
                    "phaseStatus": "SUCCEEDED",
                    "startTime": t_run,
                    "endTime": done,
                    "durationInSeconds": int((done - t_run).total_seconds()),
                },
                {
                    "phaseType": "COMBINE_ARTIFACTS",
                    "phaseStatus": "SUCCEEDED",
                    "startTime": done,
                    "endTime": combined,
                    "durationInSeconds": int((combined - done).total_seconds()),
                },
                {"phaseType": final, "startTime": combined},
            ]
            record.update(
                currentPhase=final, buildBatchStatus=final, complete=True, endTime=combined
            )
        record["phases"] = phases
        return record

    # ------------------------------------------------------------------ all
    def run(self) -> DemoHistory:
        total_weight = sum(s.weight for s in PROJECTS)
        for spec in PROJECTS:
            n = max(12, math.ceil(self.cfg.builds * spec.weight / total_weight))
            self.project(spec, n)
        self.history.planted = self.planted()
        return self.history

    def planted(self) -> PlantedFacts:
        by_name = {s.name: s for s in PROJECTS}
        batch_spec = next(s for s in PROJECTS if s.batch)
        hotspots = {s.name: max(s.failure_phases, key=s.failure_phases.get) for s in PROJECTS}
        return PlantedFacts(
            seed=self.cfg.seed,
            builds=len(self.history.builds),
            projects=[s.name for s in PROJECTS],
            start=self.start.isoformat(),
            end=self.end.isoformat(),
            project_arch={s.name: self.env_at(s, self.end)[2] for s in PROJECTS},
            project_compute={s.name: s.compute_type for s in PROJECTS},
            switches=[
                PlantedSwitch(
                    s.name,
                    (self.start + timedelta(days=s.switch_day)).date().isoformat(),
                    s.compute_type,
                    s.switch_to_compute or s.compute_type,
                    s.arm_speed_factor or 1.0,
                )
                for s in PROJECTS
                if s.switch_day is not None
            ],
            regression=next(
                PlantedRegression(
                    s.name,
                    (self.start + timedelta(days=s.regression_day)).date().isoformat(),
                    "BUILD",
                    s.regression_factor or 1.0,
                )
                for s in PROJECTS
                if s.regression_day is not None
            ),
            caches=[
                PlantedCache(
                    s.name,
                    s.cache,
                    s.install_hit_s,
                    s.install_miss_s,
                    IDLE_EXPIRY_MIN,
                    MISS_P_WARM,
                    MISS_P_IDLE,
                )
                for s in PROJECTS
                if s.cache != "NO_CACHE"
            ],
            flaky_tests=[PlantedFlakyTest(p, s, n, f) for p, s, n, f in FLAKY_TESTS],
            over_provisioned=[s.name for s in PROJECTS if s.cpu_pct < 20 and s.mem_pct < 20],
            under_provisioned=[s.name for s in PROJECTS if s.cpu_pct > 90 or s.mem_pct > 90],
            failure_hotspots=hotspots,
            queue_spikes=[(a.isoformat(), b.isoformat()) for a, b in self.queue_spikes],
            batch_graph=PlantedBatchGraph(
                batch_spec.name,
                {k: list(v[0]) for k, v in BATCH_GRAPH.items()},
                ["lint", "build_web", "integration", "package"],
                len(self.history.build_batches),
            ),
            lambda_projects=[s.name for s in PROJECTS if "LAMBDA" in s.environment_type],
            in_progress_builds=self.in_progress,
            reports_since=(self.end - timedelta(days=REPORT_RETENTION_DAYS)).isoformat(),
            extra={"spec_failure_rates": {n: by_name[n].failure_rate for n in by_name}},
            logs_since=self.logs_since.isoformat(),
            slowest_commands={s.name: _slowest_command(s) for s in PROJECTS},
            failing_commands={
                s.name: {
                    phase: culprit.text
                    for phase in COMMAND_PHASES
                    if (culprit := failing_command(s.name, phase)) is not None
                }
                for s in PROJECTS
            },
        )


def _slowest_command(spec: ProjectSpec) -> str:
    """The command with the longest typical duration: its phase's median × its share, taking
    a cached INSTALL at its slower (miss) mode so the answer holds whatever the hit rate."""
    typical: dict[str, float] = {}
    for phase, commands in PROJECT_COMMANDS[spec.name].items():
        if phase == "INSTALL" and spec.cache != "NO_CACHE":
            median = spec.install_miss_s
        else:
            median = spec.phases.get(phase, (1.0, 0.3))[0]
        total = sum(c.share for c in commands)
        for command in commands:
            typical[command.text] = max(
                typical.get(command.text, 0.0), median * command.share / total
            )
    return max(typical, key=typical.get)


def generate(config: DemoConfig | None = None, **overrides: Any) -> DemoHistory:
    """Generate a history; same config (seed, size, days, end) → the same records."""
    cfg = config or DemoConfig(**overrides)
    # Hundreds of thousands of acyclic dicts: the cyclic GC would rescan them over and over.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _Gen(cfg).run()
    finally:
        if was_enabled:
            gc.enable()


def iter_chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
