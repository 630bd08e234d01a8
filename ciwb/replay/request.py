"""One replayed build's result (`ReplayResult`); its request is ciwb.replay.options."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ciwb.replay.artifacts import ArtifactResult
from ciwb.replay.runner import PhaseResult

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_REGION",
    "ReplayResult",
    "TestReportSummary",
]

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "000000000000"


@dataclass
class TestReportSummary:
    __test__ = False  # not a pytest class

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
    reports: list[TestReportSummary]
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
