"""The demo's CodeBuild-as-of-2026 projects (issue 14), generated after the classic catalogue.

- `ci-medium`, a reserved-capacity fleet of 4 shared by checkout-web and checkout-api, with
  overflow to on-demand: arrivals only on weekday working hours (idle nights and weekends), in
  bursts that overflow. Each arrival is placed as CodeBuild would: on a free instance (short
  PROVISIONING), else on demand (the build keeps the fleet ARN — the choice ciwb makes where
  AWS is silent, see ciwb.codebuild.fleets.infer_overflow).
- payments-e2e with auto-retry (limit 2): attempts fail at random in BUILD on the same commit,
  so chains fail and then pass — flaky builds.
- gha-runner, a GitHub Actions runner project (webhook on WORKFLOW_JOB_QUEUED): one build per
  workflow job, carrying CODEBUILD_WEBHOOK_LABEL / _RUN_ID / _JOB_ID / _WORKFLOW_NAME.
- abc-builder on LINUX_EC2 with ATTRIBUTE_BASED_COMPUTE (4 vCPU, 8 GB), host kernel 6, a
  docker server, and a cache namespace shared with payments-e2e.
- Lambda 4 GB (x86) and 10 GB (arm), and a Windows Server 2022 project.
What was planted goes to `PlantedFacts.modern`.
"""

from __future__ import annotations

import heapq
import math
from datetime import datetime, timedelta
from statistics import median
from typing import TYPE_CHECKING, Any

from ciwb.codebuild import arns
from ciwb.demo.catalogue import (
    ABC_CONFIGURATION,
    ABC_PROJECT,
    CACHE_NAMESPACE,
    FLEET_CAPACITY,
    FLEET_DAYS,
    FLEET_NAME,
    FLEET_OVERFLOW,
    FLEET_PROJECTS,
    FLEET_RATE_PER_INSTANCE_MINUTE,
    FLEET_TARGET_P95_S,
    MODERN_PROJECTS,
    RETRY_LIMIT,
    RETRY_PROJECT,
    RUNNER_PROJECT,
    ProjectSpec,
)

if TYPE_CHECKING:
    from ciwb.demo.generator import _Gen

__all__ = ["MODERN_SHARE", "generate_modern"]

# The 2026 projects' share of the requested build count, on top of the classic catalogue.
MODERN_SHARE = 0.06
_Plan = list[tuple[str, float, str, tuple[str, str] | None]]


def _fleet_arn(spec: ProjectSpec) -> str:
    return arns.codebuild_arn(spec.region, spec.account, f"fleet/{FLEET_NAME}:7f3c2a10")


def _phase(record: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((p for p in record["phases"] if p["phaseType"] == kind), None)


def _set_phase(plan: _Plan, kind: str, seconds: float) -> _Plan:
    return [(k, seconds if k == kind else s, st, c) for k, s, st, c in plan]


class _Modern:
    def __init__(self, gen: _Gen) -> None:
        self.gen = gen
        self.rng = gen.rng
        total = sum(s.weight for s in MODERN_PROJECTS)
        self.n = {
            s.name: max(12, math.ceil(gen.cfg.builds * MODERN_SHARE * s.weight / total))
            for s in MODERN_PROJECTS
        }
        self.specs = {s.name: s for s in MODERN_PROJECTS}
        self.planted: dict[str, Any] = {}

    # ------------------------------------------------------------------ helpers
    def working_hours(self, n: int, start: datetime) -> list[datetime]:
        """Weekday 08–18 UTC arrivals from `start`, a third of them in bursts of 2–5 within ten minutes."""
        gen, rng, out = self.gen, self.rng, []
        span = (gen.end - start).total_seconds()
        while len(out) < n:
            t = start + timedelta(seconds=rng.random() * span)
            if t.weekday() >= 5 or not 8 <= t.hour < 18:
                continue
            if rng.random() < 0.3:
                out.extend(
                    t + timedelta(seconds=rng.uniform(0, 600)) for _ in range(rng.randint(2, 5))
                )
            else:
                out.append(t)
        return sorted(out[:n])

    def project(self, spec: ProjectSpec, **extra: Any) -> dict[str, Any]:
        env_type, compute, _ = self.gen.env_at(spec, self.gen.end)
        record = self.gen.project_record(spec, env_type, compute)
        record["environment"].update(extra.pop("environment", {}))
        record.update(extra)
        self.gen.history.projects.append(record)
        return record

    def plan(self, spec: ProjectSpec, t0: datetime, fail: str | None = "pick") -> _Plan:
        gen = self.gen
        if fail == "pick":
            fail = gen.pick_failure(spec)
        plan, _ = gen.phases_for(
            spec,
            t0,
            arch=gen.env_at(spec, t0)[2],
            gap_min=None,
            fail_phase=fail,
            lambda_compute="LAMBDA" in spec.environment_type,
        )
        return plan

    def emit(
        self,
        spec: ProjectSpec,
        project: dict[str, Any],
        number: int,
        t0: datetime,
        plan: _Plan,
        *,
        sha: str | None = None,
        variables: list[dict[str, str]] | None = None,
        environment: dict[str, Any] | None = None,
        append: bool = True,
    ) -> dict[str, Any]:
        gen = self.gen
        env_type, compute, arch = gen.env_at(spec, t0)
        record = gen.build_record(
            spec,
            project["arn"],
            number,
            t0,
            plan,
            env_type=env_type,
            compute=compute,
            source_sha=sha or gen.sha(),
            initiator=gen.initiator(),
        )
        env = record["environment"] = dict(record["environment"])
        env["environmentVariables"] = [*env["environmentVariables"], *(variables or ())]
        env.update(environment or {})
        if "cache" in project and project["cache"].get("cacheNamespace"):
            record["cache"] = project["cache"]
        if append:
            self.keep(spec, record, arch, compute)
        return record

    def keep(self, spec: ProjectSpec, record: dict[str, Any], arch: str, compute: str) -> None:
        self.gen.history.builds.append(record)
        self.gen.metrics_for(spec, record, arch, compute)
        self.gen.log_stream_for(spec, record)

    def _fail_once(self, spec: ProjectSpec, number: int, plan: _Plan, t0: datetime) -> _Plan:
        """Every project fails at least once (the failure hotspots cover every project)."""
        if number != 3 or any(st != "SUCCEEDED" for _, _, st, _ in plan):
            return plan
        return self.plan(spec, t0, fail="BUILD")

    # ------------------------------------------------------------------ the fleet
    def fleet(self) -> None:
        gen = self.gen
        specs = [self.specs[name] for name in FLEET_PROJECTS]
        arn = _fleet_arn(specs[0])
        # The fleet was created FLEET_DAYS before the window's end; its projects with it.
        created = gen.end - timedelta(days=FLEET_DAYS)
        gen.history.fleets.append(
            {
                "arn": arn,
                "name": FLEET_NAME,
                "id": f"{FLEET_NAME}:7f3c2a10",
                "created": created,
                "lastModified": created,
                "status": {"statusCode": "ACTIVE", "message": ""},
                "baseCapacity": FLEET_CAPACITY,
                "environmentType": "LINUX_CONTAINER",
                "computeType": "BUILD_GENERAL1_MEDIUM",
                "scalingConfiguration": {
                    "maxCapacity": FLEET_CAPACITY,
                    "desiredCapacity": FLEET_CAPACITY,
                },
                "overflowBehavior": FLEET_OVERFLOW,
                "fleetServiceRole": arns.role_arn(specs[0].account, "codebuild-fleet"),
                "tags": [{"key": "team", "value": "checkout"}],
            }
        )
        projects = {
            s.name: self.project(s, environment={"fleet": {"fleetArn": arn}}) for s in specs
        }
        arrivals = sorted(
            (t, s.name) for s in specs for t in self.working_hours(self.n[s.name], created)
        )
        numbers = dict.fromkeys(projects, 0)
        on_fleet_env = {"fleet": {"fleetArn": arn}}
        free_at: list[datetime] = [created] * FLEET_CAPACITY  # min-heap of instance free times
        busy_s = 0.0
        on_fleet = overflow = 0
        waits: list[float] = []
        for t0, name in arrivals:
            spec = self.specs[name]
            numbers[name] += 1
            plan = self.plan(spec, t0)
            plan = self._fail_once(spec, numbers[name], plan, t0)
            # On a warm fleet instance PROVISIONING is short.
            record = self.emit(
                spec,
                projects[name],
                numbers[name],
                t0,
                _set_phase(plan, "PROVISIONING", gen.lognormal(6.0, 0.2)),
                environment=on_fleet_env,
                append=False,
            )
            prov = _phase(record, "PROVISIONING")
            if prov is not None and free_at[0] <= prov["startTime"]:
                end = record.get("endTime") or gen.end
                heapq.heapreplace(free_at, end)
                if record["buildComplete"]:
                    busy_s += (end - prov["startTime"]).total_seconds()
                    on_fleet += 1
                    waits.append((prov["startTime"] - record["startTime"]).total_seconds())
            else:
                # Every instance busy: ON_DEMAND overflow, with on-demand provisioning.
                if not record["buildComplete"]:
                    gen.in_progress -= 1  # the discarded placement is not a build
                record = self.emit(
                    spec,
                    projects[name],
                    numbers[name],
                    t0,
                    plan,
                    environment=on_fleet_env,
                    append=False,
                )
                overflow += record["buildComplete"]
            self.keep(spec, record, "x86_64", spec.compute_type)
        window_h = (gen.end - created).total_seconds() / 3600
        provisioned_h = FLEET_CAPACITY * window_h
        busy_h = busy_s / 3600
        self.planted["fleet"] = {
            "name": FLEET_NAME,
            "arn": arn,
            "projects": list(FLEET_PROJECTS),
            "base_capacity": FLEET_CAPACITY,
            "overflow_behavior": FLEET_OVERFLOW,
            "window_start": created.isoformat(),
            "window_end": gen.end.isoformat(),
            "builds_on_fleet": on_fleet,
            "overflow_builds": overflow,
            "provisioned_instance_h": provisioned_h,
            "busy_instance_h": busy_h,
            "idle_instance_h": provisioned_h - busy_h,
            "utilisation": busy_h / provisioned_h,
            "rate_per_instance_minute": FLEET_RATE_PER_INSTANCE_MINUTE,
            "fleet_cost": provisioned_h * 60 * FLEET_RATE_PER_INSTANCE_MINUTE,
            "idle_cost": (provisioned_h - busy_h) * 60 * FLEET_RATE_PER_INSTANCE_MINUTE,
            "target_p95_queue_s": FLEET_TARGET_P95_S,
        }

    # ------------------------------------------------------------------ auto-retry
    def retries(self) -> None:
        spec = self.specs[RETRY_PROJECT]
        project = self.project(
            spec,
            autoRetryLimit=RETRY_LIMIT,
            cache={
                "type": "S3",
                "location": "example-cache/shared",
                "cacheNamespace": CACHE_NAMESPACE,
            },
        )
        number = 0
        chains = flaky = still_failing = retries = 0
        for t0 in self.gen.arrival_times(max(4, round(self.n[spec.name] / 1.2))):
            sha = self.gen.sha()
            chain: list[dict[str, Any]] = []
            t = t0
            for attempt in range(RETRY_LIMIT + 1):
                number += 1
                fail = "BUILD" if self.rng.random() < spec.failure_rate else None
                if number == 3 and attempt == 0:
                    fail = "BUILD"  # the first chains always show a flaky build
                config: dict[str, Any] = {"autoRetryLimit": RETRY_LIMIT, "autoRetryNumber": attempt}
                if chain:
                    config["previousAutoRetry"] = chain[-1]["arn"]
                record = self.emit(spec, project, number, t, self.plan(spec, t, fail), sha=sha)
                record["autoRetryConfig"] = config
                if chain:
                    chain[-1]["autoRetryConfig"]["nextAutoRetry"] = record["arn"]
                chain.append(record)
                if record["buildStatus"] != "FAILED" or attempt == RETRY_LIMIT:
                    break
                # CodeBuild calls RetryBuild once the failed build has finished.
                t = record["endTime"] + timedelta(seconds=self.rng.uniform(2, 8))
            if not all(r["buildComplete"] for r in chain):
                continue
            chains += 1
            retries += len(chain) - 1
            if chain[0]["buildStatus"] == "FAILED":
                if chain[-1]["buildStatus"] == "SUCCEEDED":
                    flaky += 1
                else:
                    still_failing += 1
        self.planted["auto_retry"] = {
            "project": RETRY_PROJECT,
            "retry_limit": RETRY_LIMIT,
            "flake_probability": spec.failure_rate,
            "chains": chains,
            "retries": retries,
            "flaky_chains": flaky,
            "failing_chains": still_failing,
            "cache_namespace": CACHE_NAMESPACE,
        }

    # ------------------------------------------------------------------ runner
    def runner(self) -> None:
        spec = self.specs[RUNNER_PROJECT]
        project = self.project(
            spec,
            webhook={
                "url": f"https://api.github.com/repos/example/{RUNNER_PROJECT}/hooks/1",
                "payloadUrl": "https://codebuild.us-east-1.amazonaws.com/webhooks",
                "filterGroups": [[{"type": "EVENT", "pattern": "WORKFLOW_JOB_QUEUED"}]],
                "buildType": "BUILD",
            },
        )
        number = 0
        overheads: list[float] = []
        workflows: dict[str, int] = {}
        run_id = 9_100_000_000
        job_id = 25_000_000_000
        for t0 in self.gen.arrival_times(max(4, round(self.n[spec.name] / 2))):
            run_id += self.rng.randint(1, 900)
            workflow = "ci" if self.rng.random() < 0.8 else "release"
            for _ in range(self.rng.randint(1, 3)):  # one build per workflow job
                number += 1
                job_id += self.rng.randint(1, 50)
                label = f"codebuild-{RUNNER_PROJECT}-{run_id}-1"
                variables = [
                    {"name": "CODEBUILD_WEBHOOK_LABEL", "value": label, "type": "PLAINTEXT"},
                    {"name": "CODEBUILD_WEBHOOK_RUN_ID", "value": str(run_id), "type": "PLAINTEXT"},
                    {"name": "CODEBUILD_WEBHOOK_JOB_ID", "value": str(job_id), "type": "PLAINTEXT"},
                    {
                        "name": "CODEBUILD_WEBHOOK_WORKFLOW_NAME",
                        "value": workflow,
                        "type": "PLAINTEXT",
                    },
                ]
                t = t0 + timedelta(seconds=self.rng.uniform(0, 20))
                plan = self._fail_once(spec, number, self.plan(spec, t), t)
                record = self.emit(spec, project, number, t, plan, variables=variables)
                prov, build = _phase(record, "PROVISIONING"), _phase(record, "BUILD")
                if record["buildComplete"] and prov and build:
                    overheads.append((build["startTime"] - prov["startTime"]).total_seconds())
                    workflows[workflow] = workflows.get(workflow, 0) + 1
        self.planted["runner"] = {
            "project": RUNNER_PROJECT,
            "kind": "GITHUB_ACTIONS",
            "builds": len(overheads),
            "median_overhead_s": median(overheads) if overheads else None,
            "builds_per_workflow": workflows,
        }

    # ------------------------------------------------------------------ the rest
    def plain(self, spec: ProjectSpec, **environment: Any) -> None:
        extra: dict[str, Any] = {}
        if spec.name == ABC_PROJECT:
            extra["cache"] = {
                "type": "S3",
                "location": "example-cache/shared",
                "cacheNamespace": CACHE_NAMESPACE,
            }
        project = self.project(spec, environment=dict(environment), **extra)
        for number, t0 in enumerate(self.gen.arrival_times(self.n[spec.name]), start=1):
            plan = self._fail_once(spec, number, self.plan(spec, t0), t0)
            self.emit(spec, project, number, t0, plan, environment=dict(environment))

    def run(self) -> dict[str, Any]:
        self.fleet()
        self.retries()
        self.runner()
        abc = {
            "computeConfiguration": ABC_CONFIGURATION,
            "hostKernel": "LINUX_KERNEL_6",
            "dockerServer": {
                "computeType": "BUILD_GENERAL1_LARGE",
                "status": {"status": "RUNNING", "message": "docker server ready"},
            },
        }
        for spec in MODERN_PROJECTS:
            if spec.name in (*FLEET_PROJECTS, RETRY_PROJECT, RUNNER_PROJECT):
                continue
            self.plain(spec, **(abc if spec.name == ABC_PROJECT else {}))
        self.planted["attribute_based"] = {
            "project": ABC_PROJECT,
            "environment_type": "LINUX_EC2",
            "vcpu": ABC_CONFIGURATION["vCpu"],
            "memory_gb": ABC_CONFIGURATION["memory"],
            # the smallest general1 size covering 4 vCPU / 8 GB (MEDIUM has 7 GB)
            "priced_as": "BUILD_GENERAL1_LARGE",
        }
        self.planted["lambda_over_1gb"] = ["bundle-lambda", "bundle-lambda-arm"]
        self.planted["windows_2022"] = ["win-desktop"]
        return self.planted


def generate_modern(gen: _Gen) -> dict[str, Any]:
    """Append the 2026 projects' records to `gen.history`; returns what was planted."""
    return _Modern(gen).run()
