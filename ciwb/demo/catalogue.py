"""The demo fleet: who builds what, how long each phase takes, and what is planted.

Durations are lognormal per project and phase: (median seconds, sigma of the log).
Shapes follow docs/reference/codebuild-facts.md ("Compute types").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

ACCOUNTS = {"platform": "111122223333", "data": "444455556666"}

# Standard images as CodeBuild offers them per environment type.
IMAGES = {
    "LINUX_CONTAINER": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
    "ARM_CONTAINER": "aws/codebuild/amazonlinux-aarch64-standard:3.0",
    "LINUX_LAMBDA_CONTAINER": "aws/codebuild/amazonlinux-x86_64-lambda-standard:nodejs20",
    "ARM_LAMBDA_CONTAINER": "aws/codebuild/amazonlinux-aarch64-lambda-standard:nodejs20",
}


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
    # (phase status, context code, message template); in the command phases {command} is the
    # project's failing command for that phase (PROJECT_COMMANDS) and {status} its exit status.
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
            "Error while executing command: {command}. Reason: exit status {status}",
        ),
    ),
    "PRE_BUILD": (
        (
            "FAILED",
            "COMMAND_EXECUTION_ERROR",
            "Error while executing command: {command}. Reason: exit status {status}",
        ),
    ),
    "BUILD": (
        (
            "FAILED",
            "COMMAND_EXECUTION_ERROR",
            "Error while executing command: {command}. Reason: exit status {status}",
        ),
    ),
    "POST_BUILD": (
        (
            "FAILED",
            "COMMAND_EXECUTION_ERROR",
            "Error while executing command: {command}. Reason: exit status {status}",
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


class DemoCommand(NamedTuple):
    """One buildspec command: its text as the agent logs it, its typical share of the phase's
    time, a few lines it prints, and (for the one command per phase that fails when the phase
    fails) its exit status and error line."""

    text: str
    share: float
    output: tuple[str, ...] = ()
    fails: bool = False
    exit_status: int = 1
    error: str = ""


def _cmd(text: str, share: float, *output: str) -> DemoCommand:
    return DemoCommand(text, share, output)


def _failing(text: str, share: float, *output: str, error: str, status: int = 1) -> DemoCommand:
    return DemoCommand(text, share, output, fails=True, exit_status=status, error=error)


# Shared steps of projects that ship a container image.
_ECR_LOGIN = _failing(
    "aws ecr get-login-password --region $AWS_REGION | "
    "docker login --username AWS --password-stdin $REPO",
    0.35,
    "Login Succeeded",
    error="An error occurred (AccessDeniedException) when calling the GetAuthorizationToken "
    "operation: User is not authorized to perform: ecr:GetAuthorizationToken",
)
_TAG = _cmd("export TAG=$(echo $CODEBUILD_RESOLVED_SOURCE_VERSION | cut -c 1-8)", 0.02)
_DOCKER_BUILD = _cmd(
    "docker build -t $REPO:$TAG .",
    0.12,
    "#12 exporting to image",
    "#12 naming to $REPO:$TAG done",
)
_DOCKER_PUSH = _failing(
    "docker push $REPO:$TAG",
    0.9,
    "The push refers to repository [$REPO]",
    "latest: digest: sha256:4f2b9c1e8a7d size: 2419",
    error="denied: Your authorization token has expired. Reauthenticate and try again.",
)
_IMAGE_DEFS = _cmd(
    'printf \'[{"name":"app","imageUri":"%s"}]\' $REPO:$TAG > imagedefinitions.json', 0.1
)
_NPM_CI = _failing(
    "npm ci",
    1.0,
    "added 1287 packages, and audited 1288 packages in 41s",
    "found 0 vulnerabilities",
    error="npm ERR! code ECONNRESET",
)
_NPM_TEST = _failing(
    "npm test",
    0.75,
    "> jest --ci --reporters=default --reporters=jest-junit",
    "Tests:       412 passed, 412 total",
    error="Tests:       1 failed, 411 passed, 412 total",
)
_MVN_OFFLINE = _failing(
    "mvn -B dependency:go-offline",
    1.0,
    "[INFO] BUILD SUCCESS",
    error="[ERROR] Failed to execute goal on project app: Could not resolve dependencies",
)
_MVN_VERIFY = _failing(
    "mvn -B verify",
    0.85,
    "[INFO] Tests run: 1843, Failures: 0, Errors: 0, Skipped: 12",
    "[INFO] BUILD SUCCESS",
    error="[ERROR] Tests run: 1843, Failures: 1, Errors: 0, Skipped: 12",
)
_PIP_INSTALL = _failing(
    "pip install -r requirements.txt",
    0.8,
    "Successfully installed 87 packages",
    error="ERROR: Could not find a version that satisfies the requirement",
)
_PYTEST = _failing(
    "pytest -q",
    0.8,
    "1520 passed, 14 skipped in 121.04s",
    error="1 failed, 1519 passed, 14 skipped in 118.77s",
)


def _s3_copy(text: str) -> DemoCommand:
    return _failing(
        text,
        0.9,
        "upload: completed",
        error="upload failed: An error occurred (AccessDenied) when calling the PutObject "
        "operation: Access Denied",
    )


# What each project's buildspec runs, per phase (phases without commands are absent). The
# command that fails when its phase fails is the one named in that phase's context message;
# shares are of the phase's duration, so a project's slowest command is known in advance.
PROJECT_COMMANDS: dict[str, dict[str, tuple[DemoCommand, ...]]] = {
    "web-frontend": {
        "INSTALL": (_NPM_CI,),
        "PRE_BUILD": (_ECR_LOGIN, _TAG, _cmd("npm run lint", 0.6, "✔ No ESLint warnings")),
        "BUILD": (
            _cmd("npm run build", 0.13, "Compiled successfully in 24.1s"),
            _NPM_TEST,
            _DOCKER_BUILD,
        ),
        "POST_BUILD": (_DOCKER_PUSH, _IMAGE_DEFS),
    },
    "api-service": {
        "INSTALL": (_MVN_OFFLINE,),
        "PRE_BUILD": (
            _ECR_LOGIN,
            _TAG,
            _cmd("mvn -B checkstyle:check", 0.6, "[INFO] You have 0 Checkstyle violations."),
        ),
        "BUILD": (_MVN_VERIFY, _DOCKER_BUILD),
        "POST_BUILD": (_DOCKER_PUSH, _IMAGE_DEFS),
    },
    "payments-core": {
        "INSTALL": (
            _failing(
                "go mod download",
                1.0,
                error="go: github.com/example/ledger@v1.8.2: reading https://proxy.golang.org: "
                "502 Bad Gateway",
            ),
        ),
        "PRE_BUILD": (_ECR_LOGIN, _TAG, _cmd("go vet ./...", 0.6)),
        "BUILD": (
            _cmd("go build -o bin/ ./cmd/...", 0.18),
            _failing(
                "go test ./...",
                0.7,
                "ok  \tgithub.com/example/payments-core/ledger\t41.3s",
                error="--- FAIL: TestConcurrentTransfers (3.02s)",
            ),
            _DOCKER_BUILD,
        ),
        "POST_BUILD": (_DOCKER_PUSH, _IMAGE_DEFS),
    },
    "auth-service": {
        "INSTALL": (_PIP_INSTALL, _cmd("pip install -r requirements-dev.txt", 0.2)),
        "PRE_BUILD": (_ECR_LOGIN, _TAG, _cmd("ruff check .", 0.6, "All checks passed!")),
        "BUILD": (_PYTEST, _DOCKER_BUILD),
        "POST_BUILD": (_DOCKER_PUSH, _IMAGE_DEFS),
    },
    "data-pipeline": {
        "INSTALL": (
            _failing(
                "sbt update",
                1.0,
                "[success] Total time: 52 s",
                error="[error] sbt.librarymanagement.ResolveException: Error downloading",
            ),
        ),
        "PRE_BUILD": (
            _failing(
                "sbt scalafmtCheckAll",
                1.0,
                "[success] Total time: 17 s",
                error="[error] scalafmt: 2 files must be formatted",
            ),
        ),
        "BUILD": (
            _failing(
                "sbt test",
                0.65,
                "[info] Passed: Total 964, Failed 0, Errors 0, Passed 964",
                error="[error] Failed: Total 964, Failed 1, Errors 0, Passed 963",
            ),
            _cmd("sbt assembly", 0.35, "[info] Built: target/scala-2.13/data-pipeline.jar"),
        ),
        "POST_BUILD": (
            _s3_copy(
                "aws s3 cp target/scala-2.13/data-pipeline.jar s3://$ARTIFACT_BUCKET/data-pipeline/"
            ),
        ),
    },
    "ml-training": {
        "INSTALL": (_PIP_INSTALL._replace(share=1.0),),
        "PRE_BUILD": (
            _ECR_LOGIN,
            _cmd("python scripts/check_data.py --manifest data/manifest.json", 0.65, "ok"),
        ),
        "BUILD": (
            _PYTEST,
            _cmd("python train.py --smoke-test --epochs 1", 0.2, "epoch 1/1 loss=0.412"),
        ),
        "POST_BUILD": (
            _s3_copy("aws s3 sync models/ s3://$MODEL_BUCKET/$CODEBUILD_BUILD_NUMBER/"),
        ),
    },
    "mobile-backend": {
        "INSTALL": (_NPM_CI,),
        "PRE_BUILD": (_ECR_LOGIN, _TAG, _cmd("npm run lint", 0.6)),
        "BUILD": (_cmd("npm run build", 0.13), _NPM_TEST, _DOCKER_BUILD),
        "POST_BUILD": (_DOCKER_PUSH, _IMAGE_DEFS),
    },
    "infra-terraform": {
        "INSTALL": (
            _cmd(
                "curl -sSLo /tmp/tflint.zip https://github.com/terraform-linters/tflint/releases/"
                "latest/download/tflint_linux_arm64.zip && unzip -o /tmp/tflint.zip -d "
                "/usr/local/bin",
                0.3,
            ),
            _failing(
                "terraform init -input=false",
                0.7,
                "Terraform has been successfully initialized!",
                error="Error: Failed to query available provider packages",
            ),
        ),
        "PRE_BUILD": (
            _cmd("terraform fmt -check -recursive", 0.2),
            _cmd("terraform validate", 0.3, "Success! The configuration is valid."),
            _failing(
                "tflint --recursive",
                0.5,
                error='Error: "t3.micro" is previous generation instance type '
                "(aws_instance_previous_type)",
                status=2,
            ),
        ),
        "BUILD": (
            _failing(
                "terraform plan -input=false -out=tfplan",
                0.9,
                "Plan: 3 to add, 1 to change, 0 to destroy.",
                error="Error: error configuring Terraform AWS Provider: no valid credential "
                "sources found",
            ),
            _cmd("terraform show -no-color tfplan > plan.txt", 0.1),
        ),
        "POST_BUILD": (
            _s3_copy("aws s3 cp plan.txt s3://$PLAN_BUCKET/$CODEBUILD_BUILD_NUMBER/plan.txt"),
        ),
    },
    "search-indexer": {
        "INSTALL": (
            _failing(
                "cargo fetch --locked",
                1.0,
                "    Updating crates.io index",
                error="error: failed to download from `https://static.crates.io/crates/`",
                status=101,
            ),
        ),
        "PRE_BUILD": (_ECR_LOGIN, _TAG, _cmd("cargo fmt --check", 0.6)),
        "BUILD": (
            _cmd("cargo clippy --all-targets -- -D warnings", 0.12),
            _failing(
                "cargo test --release",
                0.8,
                "test result: ok. 611 passed; 0 failed; 3 ignored",
                error="test result: FAILED. 610 passed; 1 failed; 3 ignored",
                status=101,
            ),
            _DOCKER_BUILD._replace(share=0.08),
        ),
        "POST_BUILD": (_DOCKER_PUSH, _IMAGE_DEFS),
    },
    "analytics-etl": {
        "INSTALL": (_PIP_INSTALL._replace(share=1.0),),
        "PRE_BUILD": (
            _cmd("ruff check .", 0.4, "All checks passed!"),
            _failing(
                "mypy etl/",
                0.6,
                "Success: no issues found in 214 source files",
                error="etl/jobs/sessions.py:88: error: Incompatible return value type",
            ),
        ),
        "BUILD": (
            _PYTEST,
            _cmd("python -m build --wheel", 0.2, "Successfully built analytics_etl.whl"),
        ),
        "POST_BUILD": (
            _s3_copy("aws s3 cp dist/ s3://$ARTIFACT_BUCKET/analytics-etl/ --recursive"),
        ),
    },
    "video-transcode": {
        "INSTALL": (
            _failing(
                "conan install . --output-folder=build --build=missing",
                1.0,
                "Install finished successfully",
                error="ERROR: Package 'ffmpeg/6.1' not resolved",
            ),
        ),
        "PRE_BUILD": (
            _ECR_LOGIN,
            _TAG,
            _cmd("clang-format --dry-run --Werror src/*.cpp", 0.6),
        ),
        "BUILD": (
            _cmd("cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release", 0.03),
            _cmd("cmake --build build -j $(nproc)", 0.72, "[1184/1184] Linking CXX executable"),
            _failing(
                "ctest --test-dir build --output-on-failure",
                0.25,
                "100% tests passed, 0 tests failed out of 286",
                error="99% tests passed, 1 tests failed out of 286",
                status=8,
            ),
        ),
        "POST_BUILD": (_DOCKER_PUSH, _IMAGE_DEFS),
    },
    "legacy-monolith": {
        "INSTALL": (_MVN_OFFLINE,),
        "PRE_BUILD": (_ECR_LOGIN, _TAG, _cmd("mvn -B checkstyle:check", 0.6)),
        "BUILD": (_MVN_VERIFY._replace(share=0.8), _DOCKER_BUILD._replace(share=0.2)),
        "POST_BUILD": (_DOCKER_PUSH, _IMAGE_DEFS),
    },
    "docs-site": {
        "INSTALL": (_NPM_CI,),
        "PRE_BUILD": (
            _failing(
                "npx markdownlint-cli2 'docs/**/*.md'",
                1.0,
                "Summary: 0 error(s)",
                error="docs/setup.md:14 MD040/fenced-code-language",
            ),
        ),
        "BUILD": (
            _failing(
                "npm run build",
                1.0,
                '[SUCCESS] Generated static files in "build".',
                error="[ERROR] Docusaurus found broken links!",
            ),
        ),
        "POST_BUILD": (_s3_copy("aws s3 sync build/ s3://$SITE_BUCKET --delete"),),
    },
    "edge-functions": {
        "INSTALL": (_NPM_CI,),
        "PRE_BUILD": (_failing("npm run lint", 1.0, error="✖ 1 problem (1 error, 0 warnings)"),),
        "BUILD": (_NPM_TEST._replace(share=0.6), _cmd("npm run bundle", 0.4)),
        "POST_BUILD": (
            _cmd("zip -qr functions.zip dist/", 0.2),
            _s3_copy("aws s3 cp functions.zip s3://$ARTIFACT_BUCKET/edge-functions/"),
        ),
    },
    "monorepo": {
        "INSTALL": (_NPM_CI,),
        "PRE_BUILD": (
            _failing(
                "npx nx affected --target=lint --base=origin/main",
                1.0,
                "Successfully ran target lint for 7 projects",
                error="Ran target lint for 7 projects (1 failed)",
            ),
        ),
        "BUILD": (
            _cmd("npm run build --workspaces", 0.3),
            _NPM_TEST._replace(text="npm test --workspaces", share=0.7),
        ),
        "POST_BUILD": (
            _s3_copy(
                "aws s3 sync dist/ s3://$ARTIFACT_BUCKET/monorepo/$CODEBUILD_BATCH_BUILD_IDENTIFIER/"
            ),
        ),
    },
}


def failing_command(project: str, phase: str) -> DemoCommand | None:
    """The command that fails when `phase` of `project` fails (the last one if none is marked)."""
    commands = PROJECT_COMMANDS.get(project, {}).get(phase, ())
    return next((c for c in commands if c.fails), commands[-1] if commands else None)


# Runtimes the agent reports selecting in INSTALL (`runtime-versions` in the buildspec).
RUNTIMES = {
    "node": ("nodejs", "20"),
    "java": ("java", "corretto17"),
    "go": ("golang", "1.22"),
    "python": ("python", "3.12"),
    "scala": ("java", "corretto17"),
}
