"""What one report run produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ReportResult", "ReportRun"]


@dataclass(frozen=True)
class ReportResult:
    name: str
    parameters: dict[str, Any]
    notebook_name: str  # the executed .ipynb, relative to the output
    html_name: str | None  # None when the notebook failed
    notebook_location: str
    html_location: str | None
    seconds: float
    error: str | None = None
    findings_name: str | None = None  # <stem>.findings.json: the headline and findings
    headline: dict[str, Any] | None = None  # what that file holds (`Headline.as_dict`)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class ReportRun:
    out: str
    index_location: str
    results: list[ReportResult] = field(default_factory=list)
    # The analysis pass: seconds per family of results (ciwb.report.analysis).
    analysis_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> list[ReportResult]:
        return [r for r in self.results if not r.ok]

    def to_dict(self) -> dict[str, Any]:
        """What `ciwb report --json` prints: where each report went, and its headline."""
        return {
            "out": self.out,
            "index": self.index_location,
            "reports": [
                {
                    "name": r.name,
                    "ok": r.ok,
                    "error": r.error,
                    "seconds": round(r.seconds, 3),
                    "html": r.html_location,
                    "notebook": r.notebook_location,
                    "findings": r.findings_name,
                    "headline": r.headline,
                }
                for r in self.results
            ],
        }
