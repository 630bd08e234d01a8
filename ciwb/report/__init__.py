"""Report notebooks run with papermill, published as offline HTML with an index.

The names below are imported on first use: every report kernel imports `ciwb.report.charts`
and `ciwb.report.notebook`, and must not pay for nbconvert, nbformat's JSON-schema checks and
papermill, which only the process publishing the reports needs.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ReportFailedError",
    "ReportResult",
    "ReportRun",
    "notebook_to_html",
    "output_for",
    "parse_parameters",
    "raise_for_failures",
    "register_output",
    "report_names",
    "report_parameters",
    "run_lab",
    "run_reports",
]

_HOME = {
    "ReportFailedError": "ciwb.errors",
    "ReportResult": "ciwb.report.result",
    "ReportRun": "ciwb.report.result",
    "notebook_to_html": "ciwb.report.html",
    "output_for": "ciwb.report.outputs",
    "parse_parameters": "ciwb.report.run",
    "raise_for_failures": "ciwb.report.run",
    "register_output": "ciwb.report.outputs",
    "report_names": "ciwb.report.catalog",
    "report_parameters": "ciwb.report.catalog",
    "run_lab": "ciwb.report.lab",
    "run_reports": "ciwb.report.run",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value
