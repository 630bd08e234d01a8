"""The buildspec as a typed model: phases, env, artifacts, report groups, cache, batch.

Every field is what `ciwb.buildspec.parse` read from the YAML, keys already checked; the
phase engine (ciwb.replay) reads only this model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ciwb.buildspec.diagnostics import Diagnostic

__all__ = [
    "COVERAGE_FORMATS",
    "PHASE_NAMES",
    "TEST_FORMATS",
    "ArtifactSpec",
    "BatchSpec",
    "BatchTask",
    "Buildspec",
    "CacheSpec",
    "Command",
    "EnvSpec",
    "OnFailure",
    "PhaseSpec",
    "ReportGroupSpec",
]

PHASE_NAMES = ("install", "pre_build", "build", "post_build")
TEST_FORMATS = ("CUCUMBERJSON", "JUNITXML", "NUNITXML", "NUNIT3XML", "TESTNGXML", "VISUALSTUDIOTRX")
COVERAGE_FORMATS = ("CLOVERXML", "COBERTURAXML", "JACOCOXML", "SIMPLECOV")


@dataclass(frozen=True)
class Command:
    text: str
    line: int
    col: int


@dataclass(frozen=True)
class OnFailure:
    """`ABORT`, `CONTINUE`, `RETRY` (3), `RETRY-n`, `RETRY-regex`, `RETRY-n-regex`."""

    action: str  # ABORT | CONTINUE | RETRY
    retries: int = 0
    pattern: str | None = None
    text: str = ""


@dataclass
class PhaseSpec:
    name: str
    commands: list[Command] = field(default_factory=list)
    finally_: list[Command] = field(default_factory=list)
    run_as: str | None = None
    on_failure: OnFailure | None = None
    runtime_versions: dict[str, str] = field(default_factory=dict)
    line: int = 0
    col: int = 0


@dataclass
class EnvSpec:
    shell: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    parameter_store: dict[str, str] = field(default_factory=dict)
    secrets_manager: dict[str, str] = field(default_factory=dict)
    exported_variables: list[str] = field(default_factory=list)
    git_credential_helper: bool = False


@dataclass
class ArtifactSpec:
    identifier: str | None
    files: list[str] = field(default_factory=list)
    name: str | None = None
    discard_paths: bool = False
    base_directory: str | None = None
    exclude_paths: list[str] = field(default_factory=list)
    enable_symlinks: bool = False
    s3_prefix: str | None = None
    line: int = 0
    col: int = 0


@dataclass
class ReportGroupSpec:
    name: str
    files: list[str] = field(default_factory=list)
    base_directory: str | None = None
    discard_paths: bool = False
    file_format: str = "JUNITXML"
    line: int = 0
    col: int = 0

    @property
    def kind(self) -> str:
        return "CODE_COVERAGE" if self.file_format in COVERAGE_FORMATS else "TEST"


@dataclass
class CacheSpec:
    paths: list[str] = field(default_factory=list)
    key: str | None = None
    fallback_keys: list[str] = field(default_factory=list)
    action: str | None = None


@dataclass
class BatchTask:
    identifier: str
    buildspec: str | None = None
    depend_on: list[str] = field(default_factory=list)
    ignore_failure: bool = False
    env_variables: dict[str, str] = field(default_factory=dict)
    compute_type: str | None = None
    image: str | None = None
    env_type: str | None = None
    privileged_mode: bool | None = None
    debug_session: bool | None = None
    line: int = 0
    col: int = 0


@dataclass
class BatchSpec:
    kind: str  # build-list | build-graph | build-matrix | build-fanout
    fast_fail: bool = False
    tasks: list[BatchTask] = field(default_factory=list)  # list and graph
    matrix_static: BatchTask | None = None
    # dynamic axes: buildspec / image / compute-type lists and variables: name → values
    matrix_buildspecs: list[str] = field(default_factory=list)
    matrix_images: list[str] = field(default_factory=list)
    matrix_compute_types: list[str] = field(default_factory=list)
    matrix_variables: dict[str, list[str]] = field(default_factory=dict)
    fanout_parallelism: int = 0
    line: int = 0
    col: int = 0


@dataclass
class Buildspec:
    path: str
    version: str
    run_as: str | None = None
    env: EnvSpec = field(default_factory=EnvSpec)
    phases: dict[str, PhaseSpec] = field(default_factory=dict)
    artifacts: ArtifactSpec | None = None
    secondary_artifacts: dict[str, ArtifactSpec] = field(default_factory=dict)
    reports: dict[str, ReportGroupSpec] = field(default_factory=dict)
    cache: CacheSpec | None = None
    batch: BatchSpec | None = None
    proxy: dict[str, bool] = field(default_factory=dict)
    warnings: list[Diagnostic] = field(default_factory=list)

    def commands_count(self) -> int:
        return sum(len(p.commands) + len(p.finally_) for p in self.phases.values())
