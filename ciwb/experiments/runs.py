"""An experiment's vocabulary: cells (arch × compute × cache), run rows, phase summaries.

Rows are what `experiments` and `experiment_runs` store; repetition 1 of a cell is cold,
the rest warm.
"""

from __future__ import annotations

import json
import statistics
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

__all__ = [
    "SUMMARY_PHASES",
    "Cell",
    "ExperimentResult",
    "ExperimentRow",
    "ExperimentRunRow",
    "PhaseSummary",
    "make_run_row",
]

SUMMARY_PHASES = ("PROVISIONING", "INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD", "TOTAL")


class ExperimentRow(NamedTuple):
    experiment_id: str
    created_at: datetime
    source_dir: str
    buildspec: str | None
    executor: str
    matrix: str  # JSON
    repeat: int
    host_arch: str
    host_cpu: str
    notes: str | None


class ExperimentRunRow(NamedTuple):
    run_id: str
    experiment_id: str
    cell: str
    arch: str
    compute: str
    cache: str
    repetition: int
    temperature: str  # cold | warm
    emulated: bool
    host_arch: str
    host_cpu: str
    image_digest: str | None
    build_arn: str
    status: str
    total_s: float
    started_at: datetime
    details: str  # JSON: phase seconds, cache restore/save figures, notes


@dataclass(frozen=True)
class Cell:
    arch: str
    compute: str
    cache: str

    @property
    def name(self) -> str:
        return f"{self.arch}/{self.compute}/{self.cache}"


@dataclass(frozen=True)
class PhaseSummary:
    cell: str
    temperature: str
    phase: str
    runs: int
    median_s: float
    min_s: float
    max_s: float
    emulated: bool

    @property
    def spread_s(self) -> float:
        return self.max_s - self.min_s


@dataclass
class ExperimentResult:
    experiment_id: str
    runs: list[ExperimentRunRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> list[PhaseSummary]:
        """Per cell, temperature and phase: median and range of the phase's seconds."""
        groups: dict[tuple[str, str, str], list[float]] = {}
        emulated: dict[str, bool] = {}
        for run in self.runs:
            emulated[run.cell] = run.emulated
            seconds = json.loads(run.details)["phases"]
            seconds["TOTAL"] = run.total_s
            for phase in SUMMARY_PHASES:
                if seconds.get(phase) is not None:
                    groups.setdefault((run.cell, run.temperature, phase), []).append(seconds[phase])
        return [
            PhaseSummary(
                cell, temp, phase, len(v), statistics.median(v), min(v), max(v), emulated[cell]
            )
            for (cell, temp, phase), v in groups.items()
        ]


def make_run_row(
    experiment_id: str,
    cell: Cell,
    repetition: int,
    seconds: dict[str, float | None],
    *,
    emulated: bool,
    host_arch: str,
    host_cpu: str,
    image_digest: str | None,
    build_arn: str,
    status: str,
    started_at: datetime,
    cache: dict[str, Any],
    notes: list[str],
) -> ExperimentRunRow:
    """One run's row: repetition 1 is cold, the rest warm; the total leaves out the queue."""
    total = sum(s for p, s in seconds.items() if s is not None and p not in ("SUBMITTED", "QUEUED"))
    return ExperimentRunRow(
        run_id=str(uuid.uuid4()),
        experiment_id=experiment_id,
        cell=cell.name,
        arch=cell.arch,
        compute=cell.compute,
        cache=cell.cache,
        repetition=repetition,
        temperature="cold" if repetition == 1 else "warm",
        emulated=emulated,
        host_arch=host_arch,
        host_cpu=host_cpu,
        image_digest=image_digest,
        build_arn=build_arn,
        status=status,
        total_s=total,
        started_at=started_at,
        details=json.dumps({"phases": seconds, "cache": cache, "notes": notes}, default=str),
    )
