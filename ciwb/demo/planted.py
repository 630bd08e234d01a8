"""What the demo generator planted, in one place, so tests and reports can check they find it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class PlantedSwitch:
    project: str
    date: str  # ISO date of the first arm64 build
    from_compute: str
    to_compute: str
    arm_speed_factor: float  # arm64 duration / x86_64 duration on INSTALL..POST_BUILD


@dataclass(frozen=True)
class PlantedRegression:
    project: str
    date: str  # ISO date from which BUILD is slower
    phase: str
    factor: float


@dataclass(frozen=True)
class PlantedCache:
    project: str
    cache_type: str
    install_hit_median_s: float
    install_miss_median_s: float
    idle_threshold_min: float
    miss_probability_warm: float
    miss_probability_idle: float


@dataclass(frozen=True)
class PlantedFlakyTest:
    project: str
    suite: str
    name: str
    failure_probability: float


@dataclass(frozen=True)
class PlantedBatchGraph:
    project: str
    depends_on: dict[str, list[str]]
    critical_path: list[str]
    batches: int


@dataclass(frozen=True)
class PlantedBill:
    """The demo's CUR 2.0 export (ciwb.demo.bill) and the differences planted in it."""

    export: str
    periods: list[str]
    open_period: str
    codebuild_usd: float
    other_service_line_items: int
    discount_account: str
    discount_line_item_type: str
    discount_rate: float
    discount_usd: float
    uncovered_account: str
    uncovered_region: str
    uncovered_usage_type: str
    uncovered_units: float
    uncovered_usd: float
    free_tier_account: str
    free_tier_month: str
    free_tier_usage_suffix: str
    free_tier_minutes: float
    free_tier_usd: float
    fleet_arn: str
    fleet_usage_type: str
    fleet_month: str
    fleet_idle_hours: float
    fleet_usd: float
    credit_month: str
    credit_usd: float
    # usage type → rate for the shapes the list prices leave unpriced
    demo_rates: dict[str, float] = field(default_factory=dict)


@dataclass
class PlantedFacts:
    seed: int
    builds: int
    projects: list[str]
    start: str
    end: str
    project_arch: dict[str, str]
    project_compute: dict[str, str]
    switches: list[PlantedSwitch]
    regression: PlantedRegression
    caches: list[PlantedCache]
    flaky_tests: list[PlantedFlakyTest]
    over_provisioned: list[str]
    under_provisioned: list[str]
    failure_hotspots: dict[str, str]  # project → phase where most of its failures land
    queue_spikes: list[tuple[str, str]]  # [start, end) ISO datetimes, us-east-1 EC2 fleets
    batch_graph: PlantedBatchGraph
    lambda_projects: list[str]
    in_progress_builds: int
    reports_since: str  # test reports exist only for the last 30 days (AWS retention)
    extra: dict[str, object] = field(default_factory=dict)
    # Agent logs (→ build_commands) exist only for builds started since `logs_since`.
    logs_since: str = ""
    # project → the command with the highest median duration (its test or compile step)
    slowest_commands: dict[str, str] = field(default_factory=dict)
    # project → phase → the command that fails when that phase fails (COMMAND_EXECUTION_ERROR)
    failing_commands: dict[str, dict[str, str]] = field(default_factory=dict)
    # The demo's bill (None when the demo was generated without one).
    bill: PlantedBill | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    def write(self, path: Path) -> Path:
        path.write_text(self.to_json() + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: Path) -> PlantedFacts:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            **{
                **data,
                "switches": [PlantedSwitch(**s) for s in data["switches"]],
                "regression": PlantedRegression(**data["regression"]),
                "caches": [PlantedCache(**c) for c in data["caches"]],
                "flaky_tests": [PlantedFlakyTest(**t) for t in data["flaky_tests"]],
                "queue_spikes": [tuple(w) for w in data["queue_spikes"]],
                "batch_graph": PlantedBatchGraph(**data["batch_graph"]),
                "bill": PlantedBill(**data["bill"]) if data.get("bill") else None,
            }
        )
