"""Report notebooks run with papermill, published as offline HTML with an index."""

from ciwb.errors import ReportFailedError
from ciwb.report.catalog import report_names, report_parameters
from ciwb.report.html import notebook_to_html
from ciwb.report.lab import run_lab
from ciwb.report.outputs import output_for, register_output
from ciwb.report.result import ReportResult, ReportRun
from ciwb.report.run import parse_parameters, raise_for_failures, run_reports

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
