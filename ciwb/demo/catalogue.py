"""The demo fleet: who builds what, how long each phase takes, and what is planted.

Durations are lognormal per project and phase: (median seconds, sigma of the log).
Shapes follow shared/reference/codebuild-facts.md ("Compute types").
"""

from __future__ import annotations

from dataclasses import dataclass, field

ACCOUNTS = {"platform": "111122223333", "data": "444455556666"}

# Standard images as CodeBuild offers them per environment type.
IMAGES = {
    "LINUX_CONTAINER": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
    "ARM_CONTAINER": "aws/codebuild/amazonlinux-aarch64-standard:3.0",
    "LINUX_LAMBDA_CONTAINER": "aws/codebuild/amazonlinux-x86_64-lambda-standard:nodejs20",
    "ARM_LAMBDA_CONTAINER": "aws/codebuild/amazonlinux-aarch64-lambda-standard:nodejs20",
}

# Phases whose length scales with the CPU (the ones an arm switch or a regression moves).
COMPUTE_PHASES = ("INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD")


@dataclass(frozen=True)
class ProjectSpec:
    name: str
    account: str
    region: str
    environment_type: str
    compute_type: str
    weight: float
    language: str
    phases: dict[str, tuple[float, float]]
    failure_rate: float = 0.06
    # Where failures land: phase → relative weight.
    failure_phases: dict[str, float] = field(
        default_factory=lambda: {"BUILD": 0.7, "PRE_BUILD": 0.1, "INSTALL": 0.1, "POST_BUILD": 0.1}
    )
    cache: str = "NO_CACHE"  # NO_CACHE | LOCAL | S3
    # Cache hit/miss INSTALL medians (s); miss probability after a short and a long idle gap.
    install_hit_s: float = 0.0
    install_miss_s: float = 0.0
    cpu_pct: float = 55.0  # typical CPUUtilizedPercent over the build
    mem_pct: float = 50.0
    reports: bool = False
    coverage: bool = False
    batch: bool = False
    # An x86 → arm64 move: day index of the switch and arm duration / x86 duration.
    switch_day: int | None = None
    arm_speed_factor: float | None = None
    switch_to_compute: str | None = None
    # A duration regression: day index and factor on BUILD.
    regression_day: int | None = None
    regression_factor: float | None = None


def _p(**phases: tuple[float, float]) -> dict[str, tuple[float, float]]:
    return {name.upper(): value for name, value in phases.items()}


P, D = ACCOUNTS["platform"], ACCOUNTS["data"]

PROJECTS: tuple[ProjectSpec, ...] = (
    ProjectSpec(
        "web-frontend",
        P,
        "us-east-1",
        "LINUX_CONTAINER",
        "BUILD_GENERAL1_MEDIUM",
        1.6,
        "node",
        _p(
            download_source=(8, 0.3),
            pre_build=(12, 0.3),
            build=(240, 0.25),
            post_build=(20, 0.4),
            upload_artifacts=(6, 0.5),
        ),
        failure_rate=0.05,
        cache="LOCAL",
        install_hit_s=18,
        install_miss_s=140,
        cpu_pct=62,
        mem_pct=58,
        reports=True,
        coverage=True,
    ),
    ProjectSpec(
        "api-service",
        P,
        "us-east-1",
        "LINUX_CONTAINER",
        "BUILD_GENERAL1_LARGE",
        1.3,
        "java",
        _p(
            download_source=(10, 0.3),
            install=(35, 0.3),
            pre_build=(25, 0.3),
            build=(420, 0.2),
            post_build=(45, 0.3),
            upload_artifacts=(12, 0.5),
        ),
        failure_rate=0.07,
        cpu_pct=71,
        mem_pct=64,
        reports=True,
        regression_day=61,
        regression_factor=1.45,
    ),
    ProjectSpec(
        "payments-core",
        P,
        "us-east-1",
        "LINUX_CONTAINER",
        "BUILD_GENERAL1_SMALL",
        1.1,
        "go",
        _p(
            download_source=(6, 0.3),
            install=(25, 0.3),
            pre_build=(10, 0.3),
            build=(190, 0.2),
            post_build=(15, 0.3),
            upload_artifacts=(5, 0.5),
        ),
        failure_rate=0.05,
        cpu_pct=78,
        mem_pct=61,
        reports=True,
        switch_day=40,
        arm_speed_factor=0.82,
        switch_to_compute="BUILD_GENERAL1_SMALL",
    ),
    ProjectSpec(
        "auth-service",
        P,
        "us-east-1",
        "LINUX_CONTAINER",
        "BUILD_GENERAL1_MEDIUM",
        0.9,
        "python",
        _p(
            download_source=(5, 0.3),
            install=(45, 0.3),
            pre_build=(8, 0.3),
            build=(150, 0.25),
            post_build=(12, 0.3),
            upload_artifacts=(4, 0.5),
        ),
        failure_rate=0.05,
        cpu_pct=66,
        mem_pct=55,
        switch_day=52,
        arm_speed_factor=1.07,
        switch_to_compute="BUILD_GENERAL1_MEDIUM",
    ),
    ProjectSpec(
        "data-pipeline",
        D,
        "us-east-1",
        "LINUX_CONTAINER",
        "BUILD_GENERAL1_XLARGE",
        0.6,
        "scala",
        _p(
            download_source=(12, 0.3),
            install=(60, 0.3),
            pre_build=(20, 0.3),
            build=(600, 0.25),
            post_build=(30, 0.3),
            upload_artifacts=(25, 0.5),
        ),
        failure_rate=0.06,
        cpu_pct=9,
        mem_pct=7,
    ),
    ProjectSpec(
        "ml-training",
        D,
        "us-east-1",
        "LINUX_CONTAINER",
        "BUILD_GENERAL1_2XLARGE",
        0.3,
        "python",
        _p(
            download_source=(20, 0.3),
            install=(180, 0.3),
            pre_build=(30, 0.3),
            build=(1500, 0.3),
            post_build=(60, 0.3),
            upload_artifacts=(90, 0.5),
        ),
        failure_rate=0.08,
        cpu_pct=6,
        mem_pct=5,
    ),
    ProjectSpec(
        "mobile-backend",
        P,
        "us-east-1",
        "ARM_CONTAINER",
        "BUILD_GENERAL1_MEDIUM",
        1.0,
        "node",
        _p(
            download_source=(7, 0.3),
            install=(50, 0.3),
            pre_build=(10, 0.3),
            build=(200, 0.25),
            post_build=(15, 0.3),
            upload_artifacts=(5, 0.5),
        ),
        cpu_pct=64,
        mem_pct=52,
    ),
    ProjectSpec(
        "infra-terraform",
        P,
        "us-east-1",
        "ARM_CONTAINER",
        "BUILD_GENERAL1_SMALL",
        1.4,
        "hcl",
        _p(
            download_source=(4, 0.3),
            install=(20, 0.3),
            pre_build=(15, 0.3),
            build=(70, 0.35),
            post_build=(5, 0.3),
            upload_artifacts=(3, 0.5),
        ),
        failure_rate=0.09,
        failure_phases={"BUILD": 0.6, "PRE_BUILD": 0.4},
        cpu_pct=35,
        mem_pct=40,
    ),
    ProjectSpec(
        "search-indexer",
        D,
        "eu-west-1",
        "ARM_CONTAINER",
        "BUILD_GENERAL1_LARGE",
        0.8,
        "rust",
        _p(
            download_source=(9, 0.3),
            pre_build=(10, 0.3),
            build=(380, 0.25),
            post_build=(20, 0.3),
            upload_artifacts=(10, 0.5),
        ),
        cache="S3",
        install_hit_s=25,
        install_miss_s=260,
        cpu_pct=74,
        mem_pct=60,
    ),
    ProjectSpec(
        "analytics-etl",
        D,
        "eu-west-1",
        "ARM_CONTAINER",
        "BUILD_GENERAL1_XLARGE",
        0.5,
        "python",
        _p(
            download_source=(10, 0.3),
            install=(70, 0.3),
            pre_build=(15, 0.3),
            build=(480, 0.25),
            post_build=(25, 0.3),
            upload_artifacts=(20, 0.5),
        ),
        cpu_pct=11,
        mem_pct=9,
    ),
    ProjectSpec(
        "video-transcode",
        D,
        "us-east-1",
        "ARM_CONTAINER",
        "BUILD_GENERAL1_2XLARGE",
        0.25,
        "cpp",
        _p(
            download_source=(15, 0.3),
            install=(90, 0.3),
            pre_build=(20, 0.3),
            build=(900, 0.25),
            post_build=(40, 0.3),
            upload_artifacts=(60, 0.5),
        ),
        cpu_pct=82,
        mem_pct=70,
    ),
    ProjectSpec(
        "legacy-monolith",
        P,
        "us-east-1",
        "LINUX_CONTAINER",
        "BUILD_GENERAL1_LARGE",
        0.8,
        "java",
        _p(
            download_source=(25, 0.4),
            install=(90, 0.3),
            pre_build=(40, 0.3),
            build=(840, 0.25),
            post_build=(60, 0.3),
            upload_artifacts=(30, 0.5),
        ),
        failure_rate=0.22,
        failure_phases={
            "BUILD": 0.55,
            "DOWNLOAD_SOURCE": 0.2,
            "PROVISIONING": 0.1,
            "UPLOAD_ARTIFACTS": 0.1,
            "POST_BUILD": 0.05,
        },
        cpu_pct=94,
        mem_pct=93,
    ),
    ProjectSpec(
        "docs-site",
        P,
        "us-east-1",
        "LINUX_LAMBDA_CONTAINER",
        "BUILD_LAMBDA_1GB",
        1.2,
        "node",
        _p(
            download_source=(3, 0.3),
            install=(15, 0.3),
            build=(40, 0.3),
            post_build=(4, 0.3),
            upload_artifacts=(3, 0.5),
        ),
        failure_rate=0.03,
        cpu_pct=45,
        mem_pct=48,
    ),
    ProjectSpec(
        "edge-functions",
        P,
        "us-east-1",
        "ARM_LAMBDA_CONTAINER",
        "BUILD_LAMBDA_2GB",
        0.7,
        "node",
        _p(
            download_source=(3, 0.3),
            install=(12, 0.3),
            build=(35, 0.3),
            post_build=(4, 0.3),
            upload_artifacts=(3, 0.5),
        ),
        failure_rate=0.03,
        cpu_pct=40,
        mem_pct=35,
    ),
    ProjectSpec(
        "monorepo",
        P,
        "us-east-1",
        "LINUX_CONTAINER",
        "BUILD_GENERAL1_LARGE",
        1.5,
        "node",
        _p(
            download_source=(14, 0.3),
            install=(60, 0.3),
            pre_build=(10, 0.3),
            build=(150, 0.3),
            post_build=(10, 0.3),
            upload_artifacts=(8, 0.5),
        ),
        failure_rate=0.05,
        cpu_pct=60,
        mem_pct=55,
        batch=True,
    ),
)

# The monorepo's batch build graph (buildspec `batch: build-graph`): identifier →
# (depends-on, compute type override, BUILD-phase scale). build-web is the slow branch,
# so the critical path is lint → build-web → integration → package.
BATCH_GRAPH: dict[str, tuple[tuple[str, ...], str, float]] = {
    "lint": ((), "BUILD_GENERAL1_SMALL", 0.4),
    "build_api": (("lint",), "BUILD_GENERAL1_LARGE", 1.0),
    "build_web": (("lint",), "BUILD_GENERAL1_LARGE", 2.2),
    "build_worker": (("lint",), "BUILD_GENERAL1_MEDIUM", 0.8),
    "integration": (("build_api", "build_web", "build_worker"), "BUILD_GENERAL1_MEDIUM", 1.6),
    "package": (("integration",), "BUILD_GENERAL1_SMALL", 0.5),
}

# Flaky tests: (project, suite, test name, probability of a spurious failure).
FLAKY_TESTS: tuple[tuple[str, str, str, float], ...] = (
    ("web-frontend", "checkout.spec.ts", "renders payment form after timeout", 0.06),
    ("web-frontend", "search.spec.ts", "debounces input", 0.04),
    ("api-service", "com.example.api.OrderControllerIT", "createsOrderUnderLoad", 0.05),
    ("payments-core", "ledger_test", "TestConcurrentTransfers", 0.05),
)

# Context codes and messages as CodeBuild writes them, per failing phase.
FAILURE_CONTEXTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    # (phase status, context code, message template); {cmd} is a per-language command.
    "DOWNLOAD_SOURCE": (
        (
            "FAILED",
            "CLIENT_ERROR",
            'RequestError: send request failed caused by: Get "https://codeload.github.com/'
            'example/{project}/zip/refs/heads/main": dial tcp: i/o timeout',
        ),
        (
            "FAILED",
            "YAML_FILE_ERROR",
            "YAML_FILE_ERROR: Expected Commands[0] to be of string type: found subkeys instead "
            "at line 21, check indentation and use quotes",
        ),
    ),
    "PROVISIONING": (
        (
            "FAILED",
            "BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE",
            "Unable to pull customer's container image. CannotPullContainerError: Error response "
            "from daemon: toomanyrequests: You have reached your pull rate limit.",
        ),
    ),
    "INSTALL": (
        (
            "FAILED",
            "COMMAND_EXECUTION_ERROR",
            "Error while executing command: {install}. Reason: exit status 1",
        ),
    ),
    "PRE_BUILD": (
        (
            "FAILED",
            "COMMAND_EXECUTION_ERROR",
            "Error while executing command: aws ecr get-login-password --region $AWS_REGION | "
            "docker login --username AWS --password-stdin $REPO. Reason: exit status 1",
        ),
    ),
    "BUILD": (
        (
            "FAILED",
            "COMMAND_EXECUTION_ERROR",
            "Error while executing command: {test}. Reason: exit status 1",
        ),
    ),
    "POST_BUILD": (
        (
            "FAILED",
            "COMMAND_EXECUTION_ERROR",
            "Error while executing command: docker push $REPO:$TAG. Reason: exit status 1",
        ),
    ),
    "UPLOAD_ARTIFACTS": (
        (
            "FAILED",
            "CLIENT_ERROR",
            "AccessDenied: Access Denied\n\tstatus code: 403, request id: 3FB2A5D2C7F6E1A0",
        ),
    ),
}

LANGUAGE_COMMANDS = {
    "node": ("npm ci", "npm test"),
    "java": ("mvn -B dependency:go-offline", "mvn -B verify"),
    "go": ("go mod download", "go test ./..."),
    "python": ("pip install -r requirements.txt", "pytest -q"),
    "scala": ("sbt update", "sbt test"),
    "rust": ("cargo fetch", "cargo test --release"),
    "hcl": ("terraform init -input=false", "terraform plan -input=false"),
    "cpp": ("conan install .", "ctest --output-on-failure"),
}
